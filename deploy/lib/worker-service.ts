// The workers: a Fargate service running `fruits worker`, stateless, scaled by queue depth (see
// queue-scaling.ts). They read photos and read/write results, nothing else in the bucket.
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DataBucket } from './data-bucket.js';
import { appEnvironment, fargateTask, withInit } from './fargate-task.js';
import { appLogGroup, logDriver } from './log-group.js';
import { CONTAINER, PREFIX } from './names.js';
import type { QueueRedis } from './queue-redis.js';

export interface WorkerServiceProps {
  cluster: ecs.ICluster;
  subnets: ec2.SubnetSelection;
  image: ecs.ContainerImage;
  data: DataBucket;
  redis: QueueRedis;
  cpu: number;
  memoryMiB: number;
  concurrency?: number;
  spot: boolean;
  logRetentionDays: number;
}

export class WorkerService extends Construct {
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly logGroup: logs.LogGroup;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: WorkerServiceProps) {
    super(scope, id);
    this.logGroup = appLogGroup(this, 'Logs', props.logRetentionDays);
    this.taskDefinition = fargateTask(this, 'Task', { role: 'worker', cpu: props.cpu, memoryMiB: props.memoryMiB });
    const redis = props.redis.connection();
    this.taskDefinition.addContainer(CONTAINER.worker, {
      image: props.image,
      command: ['worker', ...(props.concurrency ? ['--concurrency', String(props.concurrency)] : [])],
      environment: { ...appEnvironment(this), ...redis.environment },
      secrets: redis.secrets,
      logging: logDriver(this.logGroup, CONTAINER.worker),
      // Fargate's longest grace: a worker told to stop (scale-in, Spot reclaim) finishes or hands back its job.
      stopTimeout: Duration.seconds(120),
      linuxParameters: withInit(this, 'Linux'),
    });
    props.data.grantReadPrefix(this.taskDefinition.taskRole, PREFIX.images);
    props.data.grantReadWritePrefix(this.taskDefinition.taskRole, PREFIX.results);
    props.data.grantReadWritePrefix(this.taskDefinition.taskRole, PREFIX.tmp);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.cluster.vpc,
      description: 'fruits workers: no inbound; outbound to Redis, S3 and AWS APIs',
      allowAllOutbound: true,
    });
    props.redis.allowFrom(this.securityGroup, 'fruits workers');

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      // No DesiredCount in the template: CloudFormation would send it with every service update
      // (a new image, say) and reset a run's workers to that number. The autoscaler owns the
      // count; ECS starts the service with 1 task, stopped by the empty-queue alarm.
      minHealthyPercent: 0,
      maxHealthyPercent: 200,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      capacityProviderStrategies: [{ capacityProvider: props.spot ? 'FARGATE_SPOT' : 'FARGATE', weight: 1 }],
      circuitBreaker: { rollback: true },
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      enableECSManagedTags: true,
    });
  }
}
