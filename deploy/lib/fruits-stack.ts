// The whole deployment in one stack: data bucket → network → Redis → ECS (workers, coordinator,
// optional classify service) → dashboard and budget. Outputs give everything the runbook uses.
import { CfnOutput, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import { ClassifyService } from './classify-service.js';
import type { FruitsConfig } from './config.js';
import { CoordinatorTask } from './coordinator-task.js';
import { CostBudget } from './cost-budget.js';
import { DataBucket } from './data-bucket.js';
import { FruitsImage } from './fruits-image.js';
import { CONTAINER, PREFIX } from './names.js';
import { Network } from './network.js';
import { QueueRedis } from './queue-redis.js';
import { QueueScaling } from './queue-scaling.js';
import { RunDashboard } from './run-dashboard.js';
import { TelegramService } from './telegram-service.js';
import { WorkerService } from './worker-service.js';

export interface FruitsStackProps extends StackProps {
  config: FruitsConfig;
  /** Build context of the image (the repository root); tests point it elsewhere. */
  imageDirectory?: string;
}

/** Cost allocation tag that names the stack; the budget filters on it. */
export const STACK_TAG = 'fruits-stack';

export class FruitsStack extends Stack {
  readonly data: DataBucket;
  readonly network: Network;
  readonly redis: QueueRedis;
  readonly cluster: ecs.Cluster;
  readonly workers: WorkerService;
  readonly scaling: QueueScaling;
  readonly coordinator: CoordinatorTask;
  readonly classify?: ClassifyService;
  readonly telegram?: TelegramService;

  constructor(scope: Construct, id: string, props: FruitsStackProps) {
    super(scope, id, { description: 'fruits: photos to MobileNetV2 features and PCA on ECS Fargate workers', ...props });
    const c = props.config;
    Tags.of(this).add('project', 'fruits');
    Tags.of(this).add('environment', c.environment);
    Tags.of(this).add(STACK_TAG, this.stackName);
    if (c.owner) Tags.of(this).add('owner', c.owner);

    this.data = new DataBucket(this, 'Data', {
      bucketName: c.bucketName,
      kmsKey: c.kmsKey,
      removeDataOnDestroy: c.removeDataOnDestroy,
      tmpExpirationDays: c.tmpExpirationDays,
      noncurrentVersionDays: c.noncurrentVersionDays,
    });
    this.network = new Network(this, 'Network', { cidr: c.vpcCidr, availabilityZones: c.availabilityZones, natGateways: c.natGateways });
    const vpc = this.network.vpc;
    this.redis = new QueueRedis(this, 'Queue', { vpc, subnets: this.network.dataSubnets, nodeType: c.redisNodeType, replicas: c.redisReplicas });

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      enableFargateCapacityProviders: true,
      containerInsightsV2: c.containerInsights ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
    });
    const { image } = new FruitsImage(this, 'Image', props.imageDirectory);

    this.workers = new WorkerService(this, 'Workers', {
      cluster: this.cluster,
      subnets: this.network.taskSubnets,
      image,
      data: this.data,
      redis: this.redis,
      cpu: c.workerCpu,
      memoryMiB: c.workerMemory,
      concurrency: c.workerConcurrency,
      spot: c.workerSpot,
      logRetentionDays: c.logRetentionDays,
    });
    this.scaling = new QueueScaling(this, 'WorkerScaling', {
      service: this.workers.service,
      namespace: c.metricsNamespace,
      maxWorkers: c.workerMaxCount,
      jobsPerWorker: c.jobsPerWorker,
      scaleInMinutes: c.scaleInMinutes,
    });
    this.coordinator = new CoordinatorTask(this, 'Coordinator', {
      vpc,
      image,
      data: this.data,
      redis: this.redis,
      cpu: c.coordinatorCpu,
      memoryMiB: c.coordinatorMemory,
      metricsNamespace: c.metricsNamespace,
      logRetentionDays: c.logRetentionDays,
    });
    if (c.serve) {
      this.classify = new ClassifyService(this, 'Classify', {
        cluster: this.cluster,
        subnets: this.network.taskSubnets,
        image,
        data: this.data,
        bundle: c.serveBundle,
        cpu: c.serveCpu,
        memoryMiB: c.serveMemory,
        desiredCount: c.serveCount,
        allowedCidr: c.serveAllowedCidr,
        certificateArn: c.certificateArn,
        publicPlainHttp: c.servePublicPlainHttp,
        rateLimit: c.serveRateLimit,
        wafRateLimit: c.serveWafRateLimit,
        logRetentionDays: c.logRetentionDays,
      });
    }
    if (c.telegram) {
      this.telegram = new TelegramService(this, 'Telegram', {
        cluster: this.cluster,
        subnets: this.network.taskSubnets,
        image,
        data: this.data,
        bundle: c.telegramBundle,
        tokenSecretName: c.telegramTokenSecret,
        cpu: c.telegramCpu,
        memoryMiB: c.telegramMemory,
        logRetentionDays: c.logRetentionDays,
      });
    }
    const dashboard = new RunDashboard(this, 'Dashboard', {
      name: `${this.stackName}-${this.region}`,
      namespace: c.metricsNamespace,
      cluster: this.cluster,
      workers: this.workers.service,
      workerLogs: this.workers.logGroup,
      redis: this.redis.replicationGroup,
      scaleOutAlarm: this.scaling.scaleOutAlarm,
      scaleInAlarm: this.scaling.scaleInAlarm,
      loadBalancer: this.classify?.service.loadBalancer,
      targetGroup: this.classify?.service.targetGroup,
    });
    if (c.budgetMonthlyUsd !== undefined && c.budgetEmail) {
      new CostBudget(this, 'Budget', { name: `${this.stackName}-monthly`, monthlyUsd: c.budgetMonthlyUsd, email: c.budgetEmail, tagKey: STACK_TAG, tagValue: this.stackName });
    }

    this.outputs(dashboard.dashboard.dashboardName);
  }

  /** The one command that starts a run, with RUN_ID (and optionally SPLIT) taken from the shell. */
  startRunCommand(): string {
    const subnets = this.network.vpc.selectSubnets(this.network.taskSubnets).subnetIds.join(',');
    const q = (s: string) => `\\"${s}\\"`;
    const command = ['run', `${this.data.uri(PREFIX.images)}\${SPLIT:-Test}`, `${this.data.uri(PREFIX.results)}$RUN_ID`, '--engine', 'distributed', '--run-id', '$RUN_ID'];
    const overrides = `{\\"containerOverrides\\":[{\\"name\\":${q(CONTAINER.coordinator)},\\"command\\":[${command.map(q).join(',')}]}]}`;
    return [
      'aws ecs run-task',
      `--region ${this.region}`,
      `--cluster ${this.cluster.clusterName}`,
      `--task-definition ${this.coordinator.taskDefinition.family}`,
      '--launch-type FARGATE',
      '--enable-execute-command',
      '--propagate-tags TASK_DEFINITION',
      '--tags key=fruits-run,value=$RUN_ID',
      `--network-configuration "awsvpcConfiguration={subnets=[${subnets}],securityGroups=[${this.coordinator.securityGroup.securityGroupId}],assignPublicIp=DISABLED}"`,
      `--overrides "${overrides}"`,
    ].join(' ');
  }

  private outputs(dashboardName: string): void {
    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    out('BucketName', this.data.bucket.bucketName, 'Data bucket');
    out('ImagesUri', this.data.uri(PREFIX.images), 'Upload photos here: <split>/<class>/*.jpg');
    out('ResultsUri', this.data.uri(PREFIX.results), 'One folder per run');
    out('ModelsUri', this.data.uri(PREFIX.models), 'Bundles for fruits serve');
    out('ClusterName', this.cluster.clusterName, 'ECS cluster');
    out('WorkerServiceName', this.workers.service.serviceName, 'Worker service (scaled by queue depth)');
    out('CoordinatorTaskFamily', this.coordinator.taskDefinition.family, 'Task definition of fruits run');
    out('CoordinatorLogGroup', this.coordinator.logGroup.logGroupName, 'Coordinator, queue-metrics and dashboard logs');
    out('WorkerLogGroup', this.workers.logGroup.logGroupName, 'Worker logs');
    out('StartRunCommand', this.startRunCommand(), 'Set RUN_ID (and SPLIT, default Test), then run this to start a run');
    out('DashboardUrl', `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${dashboardName}`, 'CloudWatch dashboard');
    if (this.telegram) out('TelegramLogGroup', this.telegram.logGroup.logGroupName, 'fruits telegram logs');
    if (this.classify) out('ServeUrl', this.classify.url, 'fruits serve (POST /v1/classify, GET /readyz)');
  }
}
