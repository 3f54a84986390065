// One shape for every fruits task: x86_64 Linux on Fargate (the image is built for linux/amd64),
// a readable family name (it is what `aws ecs run-task --task-definition` takes).
import { Duration, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';

export interface FargateTaskProps {
  /** Suffix of the family: `<stack>-<role>`. */
  role: string;
  cpu: number;
  memoryMiB: number;
}

export function fargateTask(scope: Construct, id: string, props: FargateTaskProps): ecs.FargateTaskDefinition {
  return new ecs.FargateTaskDefinition(scope, id, {
    family: `${Stack.of(scope).stackName}-${props.role}`,
    cpu: props.cpu,
    memoryLimitMiB: props.memoryMiB,
    runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
  });
}

/** tini as PID 1: forwards SIGTERM to node (a graceful stop) and reaps child processes. */
export function withInit(scope: Construct, id: string): ecs.LinuxParameters {
  return new ecs.LinuxParameters(scope, id, { initProcessEnabled: true });
}

/** Environment every fruits container gets: the region for the SDK, JSON logs for CloudWatch (the images/s metric filter reads them). */
export function appEnvironment(scope: Construct): Record<string, string> {
  return { AWS_REGION: Stack.of(scope).region, FRUITS_LOG_FORMAT: 'json' };
}

/** Liveness inside the task: node asks the app's /healthz on loopback; ECS restarts a task that stops answering. */
export function loopbackHealthCheck(port: number): ecs.HealthCheck {
  const probe = `fetch('http://127.0.0.1:${port}/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  return { command: ['CMD', 'node', '-e', probe], interval: Duration.seconds(30), timeout: Duration.seconds(5), retries: 3, startPeriod: Duration.seconds(60) };
}
