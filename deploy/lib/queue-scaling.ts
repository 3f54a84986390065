// Worker autoscaling on the queue depth (waiting + active BullMQ jobs) that `fruits queue-metrics`
// publishes each minute. Out: add workers every minute while jobs are queued, more for a bigger
// backlog. In: only once the queue has stayed empty, straight to zero. Never shrinking while work
// remains means no busy worker is stopped mid-job just because the backlog got shorter.
import { Duration, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { METRIC } from './names.js';

export interface QueueScalingProps {
  service: ecs.FargateService;
  namespace: string;
  maxWorkers: number;
  jobsPerWorker: number;
  scaleInMinutes: number;
}

export interface ScaleOutStep {
  /** Queue depth from which this step applies. */
  fromDepth: number;
  /** Workers added per minute. */
  add: number;
}

/** 1 worker a minute for a short queue, 2 past one worker's share, 4 past four workers' share. */
export function scaleOutSteps(jobsPerWorker: number, maxWorkers: number): ScaleOutStep[] {
  const wanted: ScaleOutStep[] = [
    { fromDepth: 1, add: 1 },
    { fromDepth: jobsPerWorker, add: 2 },
    { fromDepth: 4 * jobsPerWorker, add: 4 },
  ];
  const steps: ScaleOutStep[] = [];
  for (const s of wanted) {
    const step = { fromDepth: s.fromDepth, add: Math.min(s.add, maxWorkers) };
    const last = steps[steps.length - 1];
    if (last && last.fromDepth === step.fromDepth) last.add = Math.max(last.add, step.add);
    else if (!last || step.add > last.add) steps.push(step);
  }
  return steps;
}

export function queueDepthMetric(namespace: string): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace, metricName: METRIC.queueDepth, statistic: 'Maximum', period: Duration.minutes(1) });
}

export class QueueScaling extends Construct {
  readonly target: appscaling.ScalableTarget;
  readonly scaleOutAlarm: cloudwatch.Alarm;
  readonly scaleInAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: QueueScalingProps) {
    super(scope, id);
    this.target = new appscaling.ScalableTarget(this, 'Target', {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: `service/${props.service.cluster.clusterName}/${props.service.serviceName}`,
      minCapacity: 0,
      maxCapacity: props.maxWorkers,
      // The service-linked role AWS creates for ECS scaling, as `autoScaleTaskCount` uses: no custom role to keep.
      role: iam.Role.fromRoleArn(
        this,
        'ServiceLinkedRole',
        Stack.of(this).formatArn({
          region: '',
          service: 'iam',
          resource: 'role/aws-service-role/ecs.application-autoscaling.amazonaws.com',
          resourceName: 'AWSServiceRoleForApplicationAutoScaling_ECSService',
        }),
      ),
    });
    const depth = queueDepthMetric(props.namespace);

    const scaleOut = new appscaling.StepScalingAction(this, 'ScaleOut', {
      scalingTarget: this.target,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
      // A new task needs about a minute to pull and start; one step a minute avoids overshooting.
      cooldown: Duration.seconds(60),
    });
    const steps = scaleOutSteps(props.jobsPerWorker, props.maxWorkers);
    const threshold = steps[0].fromDepth;
    steps.forEach((s, i) => {
      const next = steps[i + 1];
      scaleOut.addAdjustment({
        adjustment: s.add,
        lowerBound: s.fromDepth - threshold,
        upperBound: next ? next.fromDepth - threshold : undefined,
      });
    });
    this.scaleOutAlarm = new cloudwatch.Alarm(this, 'JobsWaiting', {
      alarmDescription: 'fruits: jobs are queued; add workers (repeats each minute while in alarm)',
      metric: depth,
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // No metric means no coordinator publishing, hence no run: nothing to scale out for.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.scaleOutAlarm.addAlarmAction(new actions.ApplicationScalingAction(scaleOut));

    const scaleIn = new appscaling.StepScalingAction(this, 'ScaleToZero', {
      scalingTarget: this.target,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
      cooldown: Duration.seconds(60),
    });
    scaleIn.addAdjustment({ adjustment: 0, upperBound: 0 });
    this.scaleInAlarm = new cloudwatch.Alarm(this, 'QueueEmpty', {
      alarmDescription: `fruits: queue empty for ${props.scaleInMinutes} min; stop all workers`,
      metric: depth,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: props.scaleInMinutes,
      // No metric means the coordinator (and its publisher) has exited: nothing waits for the jobs
      // any more, and a rerun of the same run id resumes from the parts already in S3.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.scaleInAlarm.addAlarmAction(new actions.ApplicationScalingAction(scaleIn));
  }
}
