// Redis for the BullMQ queues: ElastiCache in the isolated subnets, TLS required, AUTH token from
// Secrets Manager, and the `noeviction` policy BullMQ needs (an evicted job key is a lost job).
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface QueueRedisProps {
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  nodeType: string;
  /** Read replicas; with one or more, failover is automatic and Multi-AZ. */
  replicas: number;
}

/** What a container needs to reach the queue; the image's entrypoint turns it into FRUITS_REDIS_URL. */
export interface RedisConnection {
  environment: Record<string, string>;
  secrets: Record<string, ecs.Secret>;
}

export const REDIS_PORT = 6379;

export class QueueRedis extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  readonly authToken: secretsmanager.Secret;
  readonly replicationGroup: elasticache.CfnReplicationGroup;

  constructor(scope: Construct, id: string, props: QueueRedisProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'fruits Redis: reachable only from the fruits tasks',
      allowAllOutbound: false,
    });
    // Redis AUTH tokens allow printable ASCII except @ " /; letters and digits also keep the URL plain.
    this.authToken = new secretsmanager.Secret(this, 'AuthToken', {
      description: 'AUTH token of the fruits Redis (BullMQ queues)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'Subnets', {
      description: 'fruits Redis subnets',
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
    });
    const parameters = new elasticache.CfnParameterGroup(this, 'Parameters', {
      cacheParameterGroupFamily: 'redis7',
      description: 'BullMQ: never evict keys',
      properties: { 'maxmemory-policy': 'noeviction' },
    });
    const failover = props.replicas > 0;
    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: 'fruits BullMQ queues',
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: props.nodeType,
      numCacheClusters: 1 + props.replicas,
      automaticFailoverEnabled: failover,
      multiAzEnabled: failover,
      port: REDIS_PORT,
      cacheSubnetGroupName: subnetGroup.ref,
      cacheParameterGroupName: parameters.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      // A CloudFormation dynamic reference: the token is resolved at deploy time, never in the template.
      authToken: this.authToken.secretValue.unsafeUnwrap(),
      autoMinorVersionUpgrade: true,
      // Queue state is transient: a run that loses it is resumed from the results already in S3.
      snapshotRetentionLimit: 0,
    });
  }

  /** Lets `peer` (a task's security group) open connections to Redis. */
  allowFrom(peer: ec2.IConnectable, description: string): void {
    this.securityGroup.connections.allowFrom(peer, ec2.Port.tcp(REDIS_PORT), description);
  }

  connection(): RedisConnection {
    return {
      environment: {
        REDIS_HOST: this.replicationGroup.attrPrimaryEndPointAddress,
        REDIS_PORT: this.replicationGroup.attrPrimaryEndPointPort,
        REDIS_TLS: 'true',
      },
      secrets: { REDIS_PASSWORD: ecs.Secret.fromSecretsManager(this.authToken) },
    };
  }
}
