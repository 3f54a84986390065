// Every container logs to its own group with a retention period: nothing is kept forever by default.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export function appLogGroup(scope: Construct, id: string, retentionDays: number): logs.LogGroup {
  return new logs.LogGroup(scope, id, {
    retention: retentionDays as logs.RetentionDays,
    removalPolicy: RemovalPolicy.DESTROY,
  });
}

export function logDriver(logGroup: logs.ILogGroup, streamPrefix: string): ecs.LogDriver {
  return ecs.LogDrivers.awsLogs({ logGroup, streamPrefix });
}
