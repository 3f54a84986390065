// The coordinator: a task definition launched once per run (`aws ecs run-task`, see the stack's
// StartRunCommand output). Beside `fruits run` it carries two helpers that live exactly as long
// as the run: `fruits queue-metrics` (the queue depth the workers scale on) and `fruits
// dashboard` (bull-board, reached through an ECS Exec port forward, never exposed publicly).
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DataBucket } from './data-bucket.js';
import { appEnvironment, fargateTask, withInit } from './fargate-task.js';
import { appLogGroup, logDriver } from './log-group.js';
import { CONTAINER, PORT, PREFIX } from './names.js';
import type { QueueRedis } from './queue-redis.js';

export interface CoordinatorTaskProps {
  vpc: ec2.IVpc;
  image: ecs.ContainerImage;
  data: DataBucket;
  redis: QueueRedis;
  cpu: number;
  memoryMiB: number;
  metricsNamespace: string;
  logRetentionDays: number;
}

export class CoordinatorTask extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly logGroup: logs.LogGroup;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: CoordinatorTaskProps) {
    super(scope, id);
    this.logGroup = appLogGroup(this, 'Logs', props.logRetentionDays);
    this.taskDefinition = fargateTask(this, 'Task', { role: 'coordinator', cpu: props.cpu, memoryMiB: props.memoryMiB });
    const redis = props.redis.connection();
    const environment = { ...appEnvironment(this), ...redis.environment };
    const common = { image: props.image, environment, secrets: redis.secrets };

    this.taskDefinition.addContainer(CONTAINER.coordinator, {
      ...common,
      // The default run; `run-task --overrides` replaces it with the run you want (docs/deploy.md).
      command: ['run', props.data.uri(PREFIX.images, 'Test'), props.data.uri(PREFIX.results, 'default'), '--engine', 'distributed'],
      essential: true,
      logging: logDriver(this.logGroup, CONTAINER.coordinator),
      stopTimeout: Duration.seconds(60),
      linuxParameters: withInit(this, 'CoordinatorLinux'),
    });
    this.taskDefinition.addContainer(CONTAINER.queueMetrics, {
      ...common,
      command: ['queue-metrics', '--namespace', props.metricsNamespace, '--interval', '60'],
      // The run must not fail because a metric could not be sent; ECS restarts the publisher instead.
      essential: false,
      enableRestartPolicy: true,
      restartAttemptPeriod: Duration.seconds(60),
      logging: logDriver(this.logGroup, CONTAINER.queueMetrics),
    });
    this.taskDefinition.addContainer(CONTAINER.dashboard, {
      ...common,
      command: ['dashboard', '--port', String(PORT.dashboard)],
      essential: false,
      portMappings: [{ containerPort: PORT.dashboard, name: CONTAINER.dashboard }],
      logging: logDriver(this.logGroup, CONTAINER.dashboard),
    });

    const role = this.taskDefinition.taskRole;
    props.data.grantReadPrefix(role, PREFIX.images);
    props.data.grantReadWritePrefix(role, PREFIX.results);
    props.data.grantReadWritePrefix(role, PREFIX.tmp);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        // PutMetricData has no resource-level permissions; the namespace condition is the scope.
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': props.metricsNamespace } },
      }),
    );
    // ECS Exec (for the dashboard port forward and for debugging) talks to SSM over these channels.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel'],
        resources: ['*'],
      }),
    );

    // No inbound rule: the dashboard is reached through ECS Exec, which needs none.
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'fruits coordinator: no inbound; outbound to Redis, S3 and AWS APIs',
      allowAllOutbound: true,
    });
    props.redis.allowFrom(this.securityGroup, 'fruits coordinator');
  }
}
