// Optional: `fruits telegram` as one small Fargate service. It polls Telegram for updates (an
// outbound HTTPS connection through the NAT), so it needs no load balancer and accepts no
// inbound traffic at all. The bot token lives in AWS Secrets Manager, put there by the operator
// (the stack only references it by name): ECS hands it to the container as TELEGRAM_BOT_TOKEN,
// and it never appears in the template, the task definition or the logs.
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DataBucket } from './data-bucket.js';
import { appEnvironment, fargateTask, loopbackHealthCheck, withInit } from './fargate-task.js';
import { appLogGroup, logDriver } from './log-group.js';
import { CONTAINER, PORT, PREFIX } from './names.js';

export interface TelegramServiceProps {
  cluster: ecs.ICluster;
  subnets: ec2.SubnetSelection;
  image: ecs.ContainerImage;
  data: DataBucket;
  /** Key of the bundle under models/. */
  bundle: string;
  /** Name of the Secrets Manager secret whose value is the bot token. */
  tokenSecretName: string;
  cpu: number;
  memoryMiB: number;
  logRetentionDays: number;
}

/** SIGTERM to SIGKILL: the bot's own grace (--grace 25) plus a margin to release the model. */
const STOP_TIMEOUT_SECONDS = 30;

export class TelegramService extends Construct {
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly logGroup: logs.LogGroup;
  readonly securityGroup: ec2.SecurityGroup;
  readonly tokenSecret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: TelegramServiceProps) {
    super(scope, id);
    this.logGroup = appLogGroup(this, 'Logs', props.logRetentionDays);
    this.taskDefinition = fargateTask(this, 'Task', { role: 'telegram', cpu: props.cpu, memoryMiB: props.memoryMiB });
    this.tokenSecret = secretsmanager.Secret.fromSecretNameV2(this, 'Token', props.tokenSecretName);
    // Metrics and health stay on the task's loopback: nothing listens on a routable address.
    this.taskDefinition.addContainer(CONTAINER.telegram, {
      image: props.image,
      command: ['telegram', props.data.uri(PREFIX.models, props.bundle), '--metrics-port', String(PORT.telegramMetrics), '--grace', String(STOP_TIMEOUT_SECONDS - 5)],
      environment: appEnvironment(this),
      secrets: { TELEGRAM_BOT_TOKEN: ecs.Secret.fromSecretsManager(this.tokenSecret) },
      logging: logDriver(this.logGroup, CONTAINER.telegram),
      stopTimeout: Duration.seconds(STOP_TIMEOUT_SECONDS),
      healthCheck: loopbackHealthCheck(PORT.telegramMetrics),
      linuxParameters: withInit(this, 'Linux'),
    });
    props.data.grantReadPrefix(this.taskDefinition.taskRole, PREFIX.models);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.cluster.vpc,
      description: 'fruits telegram bot: no inbound; outbound HTTPS to Telegram, S3 and AWS APIs',
      allowAllOutbound: true,
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      // Exactly one poller: Telegram answers a second getUpdates consumer with 409 Conflict, so a
      // deployment stops the old task before it starts the new one (a short gap; updates wait).
      desiredCount: 1,
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      circuitBreaker: { rollback: true },
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      enableECSManagedTags: true,
    });
  }
}
