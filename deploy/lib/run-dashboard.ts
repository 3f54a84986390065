// The CloudWatch dashboard of a run: queue depth, workers, images per second, and the Redis and
// load-balancer health around them. Images/s comes from the workers' own log lines, turned into
// a metric by a filter, so no extra publisher is needed.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRIC } from './names.js';
import { queueDepthMetric } from './queue-scaling.js';

/**
 * The worker log line that counts images: one JSON line per finished featurize task carrying
 * `imagesFeaturized: <n>` (pino writes JSON lines to stdout; awslogs keeps them as they are).
 */
export const IMAGES_LOG_FIELD = 'imagesFeaturized';

export interface RunDashboardProps {
  name: string;
  namespace: string;
  cluster: ecs.ICluster;
  workers: ecs.FargateService;
  workerLogs: logs.ILogGroup;
  redis: elasticache.CfnReplicationGroup;
  scaleOutAlarm: cloudwatch.IAlarm;
  scaleInAlarm: cloudwatch.IAlarm;
  loadBalancer?: elbv2.ApplicationLoadBalancer;
  targetGroup?: elbv2.ApplicationTargetGroup;
}

export class RunDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: RunDashboardProps) {
    super(scope, id);
    const minute = Duration.minutes(1);
    const imagesFilter = new logs.MetricFilter(this, 'ImagesFeaturized', {
      logGroup: props.workerLogs,
      metricNamespace: props.namespace,
      metricName: METRIC.imagesFeaturized,
      filterPattern: logs.FilterPattern.numberValue(`$.${IMAGES_LOG_FIELD}`, '>', 0),
      metricValue: `$.${IMAGES_LOG_FIELD}`,
    });
    const imagesPerMinute = imagesFilter.metric({ statistic: 'Sum', period: minute });
    const imagesPerSecond = new cloudwatch.MathExpression({
      expression: 'FILL(images, 0) / PERIOD(images)',
      usingMetrics: { images: imagesPerMinute },
      label: 'images/s',
      period: minute,
    });

    const depth = queueDepthMetric(props.namespace).with({ label: 'waiting + active jobs' });
    const active = new cloudwatch.Metric({ namespace: props.namespace, metricName: METRIC.activeJobs, statistic: 'Maximum', period: minute, label: 'active jobs' });
    const serviceDims = { ClusterName: props.cluster.clusterName, ServiceName: props.workers.serviceName };
    // Task counts come from Container Insights (the stack turns it on by default).
    const running = new cloudwatch.Metric({ namespace: 'ECS/ContainerInsights', metricName: 'RunningTaskCount', dimensionsMap: serviceDims, statistic: 'Maximum', period: minute, label: 'running' });
    const desired = new cloudwatch.Metric({ namespace: 'ECS/ContainerInsights', metricName: 'DesiredTaskCount', dimensionsMap: serviceDims, statistic: 'Maximum', period: minute, label: 'desired' });
    const redisDims = { CacheClusterId: `${props.redis.ref}-001` };
    const redisMetric = (metricName: string, label: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/ElastiCache', metricName, dimensionsMap: redisDims, statistic: 'Maximum', period: minute, label });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.name,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Queue depth', left: [depth, active], width: 8, leftYAxis: { min: 0 } }),
      new cloudwatch.GraphWidget({ title: 'Workers', left: [running, desired], width: 8, leftYAxis: { min: 0 } }),
      new cloudwatch.GraphWidget({ title: 'Images per second', left: [imagesPerSecond], width: 8, leftYAxis: { min: 0 } }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Worker CPU and memory (%)',
        left: [
          props.workers.metricCpuUtilization({ period: minute, label: 'CPU' }),
          props.workers.metricMemoryUtilization({ period: minute, label: 'memory' }),
        ],
        width: 8,
        leftYAxis: { min: 0, max: 100 },
      }),
      new cloudwatch.GraphWidget({
        title: 'Redis',
        left: [redisMetric('DatabaseMemoryUsagePercentage', 'memory %'), redisMetric('EngineCPUUtilization', 'engine CPU %')],
        right: [redisMetric('CurrConnections', 'connections')],
        width: 8,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Scaling alarms', alarms: [props.scaleOutAlarm, props.scaleInAlarm], width: 8 }),
    );
    if (props.loadBalancer && props.targetGroup) {
      const lb = props.loadBalancer.metrics;
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Classify service',
          left: [lb.requestCount({ period: minute, label: 'requests' }), lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: minute, label: '5xx' })],
          right: [lb.targetResponseTime({ period: minute, statistic: 'p95', label: 'p95 latency (s)' })],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Classify targets',
          left: [props.targetGroup.metrics.healthyHostCount({ period: minute }), props.targetGroup.metrics.unhealthyHostCount({ period: minute })],
          width: 12,
        }),
      );
    }
  }
}

