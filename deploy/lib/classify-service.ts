// Optional: `fruits serve` behind an Application Load Balancer. The load balancer sends traffic
// only to tasks whose /readyz answers (model and bundle loaded); the service reads models/ only.
//
// Exposure: internet-facing only over HTTPS (a certificate; port 80 only redirects) or, when
// asked by name (servePublicPlainHttp), plain HTTP; otherwise the load balancer is internal,
// reachable from the VPC only. /metrics is answered 404 by the listener itself, never forwarded.
// The service trusts the load balancer (the VPC's addresses) for client addresses, so that its
// per-client rate limit sees clients, not the load balancer; an optional WAF rate-based rule
// stops floods before they reach it; the task's stop timeout leaves room for the server's drain.
import { Duration } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ecsPatterns from 'aws-cdk-lib/aws-ecs-patterns';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import type { DataBucket } from './data-bucket.js';
import { appEnvironment, fargateTask, loopbackHealthCheck, withInit } from './fargate-task.js';
import { appLogGroup, logDriver } from './log-group.js';
import { CONTAINER, PORT, PREFIX } from './names.js';

export interface ClassifyServiceProps {
  cluster: ecs.ICluster;
  subnets: ec2.SubnetSelection;
  image: ecs.ContainerImage;
  data: DataBucket;
  /** Key of the bundle under models/. */
  bundle: string;
  cpu: number;
  memoryMiB: number;
  desiredCount: number;
  allowedCidr: string;
  certificateArn?: string;
  /** Internet-facing plain HTTP without a certificate (otherwise internal). */
  publicPlainHttp: boolean;
  /** Classify requests per client per minute (`--rate-limit`); 0: off. */
  rateLimit: number;
  /** WAF rate-based rule: requests per client address per 5 minutes. */
  wafRateLimit?: number;
  logRetentionDays: number;
}

/** How long `fruits serve` lets admitted requests finish on SIGTERM (--drain-timeout). */
export const SERVE_DRAIN_SECONDS = 20;
/** ECS waits this long after SIGTERM before SIGKILL: the drain, then closing (model release, logs). */
export const SERVE_STOP_TIMEOUT_SECONDS = SERVE_DRAIN_SECONDS + 10;
/** The load balancer's idle timeout; the server keeps idle connections longer, so that it is
 *  always the load balancer that closes them (no request sent on a connection being closed). */
export const LB_IDLE_TIMEOUT_SECONDS = 60;

export class ClassifyService extends Construct {
  readonly service: ecsPatterns.ApplicationLoadBalancedFargateService;
  readonly logGroup: logs.LogGroup;
  readonly url: string;

  constructor(scope: Construct, id: string, props: ClassifyServiceProps) {
    super(scope, id);
    this.logGroup = appLogGroup(this, 'Logs', props.logRetentionDays);
    const taskDefinition = fargateTask(this, 'Task', { role: 'serve', cpu: props.cpu, memoryMiB: props.memoryMiB });
    taskDefinition.addContainer(CONTAINER.serve, {
      image: props.image,
      command: [
        'serve',
        props.data.uri(PREFIX.models, props.bundle),
        '--port',
        String(PORT.serve),
        '--host',
        '0.0.0.0',
        // Clients' addresses come from the load balancer's X-Forwarded-For. The load balancer
        // connects from its nodes' addresses in the VPC (and only it may reach the tasks).
        '--trust-proxy',
        props.cluster.vpc.vpcCidrBlock,
        ...(props.rateLimit > 0 ? ['--rate-limit', String(props.rateLimit)] : []),
        '--keep-alive-timeout',
        String((LB_IDLE_TIMEOUT_SECONDS + 5) * 1000),
        '--drain-timeout',
        String(SERVE_DRAIN_SECONDS * 1000),
      ],
      stopTimeout: Duration.seconds(SERVE_STOP_TIMEOUT_SECONDS),
      environment: appEnvironment(this),
      portMappings: [{ containerPort: PORT.serve }],
      logging: logDriver(this.logGroup, CONTAINER.serve),
      // Liveness inside the task (restart a hung process); readiness is the load balancer's /readyz.
      healthCheck: loopbackHealthCheck(PORT.serve),
      linuxParameters: withInit(this, 'Linux'),
    });
    props.data.grantReadPrefix(taskDefinition.taskRole, PREFIX.models);

    const https = props.certificateArn !== undefined;
    const internetFacing = https || props.publicPlainHttp;
    const loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.cluster.vpc,
      internetFacing,
      vpcSubnets: internetFacing ? undefined : props.subnets,
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(LB_IDLE_TIMEOUT_SECONDS),
    });
    this.service = new ecsPatterns.ApplicationLoadBalancedFargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition,
      loadBalancer,
      desiredCount: props.desiredCount,
      taskSubnets: props.subnets,
      assignPublicIp: false,
      openListener: false,
      protocol: https ? elbv2.ApplicationProtocol.HTTPS : elbv2.ApplicationProtocol.HTTP,
      certificate: https ? acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn!) : undefined,
      sslPolicy: https ? elbv2.SslPolicy.RECOMMENDED_TLS : undefined,
      redirectHTTP: https,
      healthCheckGracePeriod: Duration.seconds(90),
      circuitBreaker: { rollback: true },
      minHealthyPercent: 100,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      enableECSManagedTags: true,
    });
    // The pattern's own outputs would repeat the stack's ServeUrl.
    this.service.node.tryRemoveChild('LoadBalancerDNS');
    this.service.node.tryRemoveChild('ServiceURL');
    this.service.targetGroup.configureHealthCheck({
      path: '/readyz',
      healthyHttpCodes: '200',
      interval: Duration.seconds(15),
      timeout: Duration.seconds(5),
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 3,
    });
    this.service.targetGroup.setAttribute('deregistration_delay.timeout_seconds', '30');
    // Prometheus scrapes the tasks from inside the VPC; the listener never forwards /metrics.
    this.service.listener.addAction('NoMetrics', {
      priority: 1,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/metrics', '/metrics/*'])],
      action: elbv2.ListenerAction.fixedResponse(404, {
        contentType: 'application/json',
        messageBody: JSON.stringify({ error: { status: 404, code: 'not_found', message: 'no route GET /metrics' } }),
      }),
    });
    const listenerPort = https ? 443 : 80;
    // Internal: the VPC by default (serveAllowedCidr's default, everyone, would mean the VPC anyway).
    const clients = !internetFacing && props.allowedCidr === '0.0.0.0/0' ? ec2.Peer.ipv4(props.cluster.vpc.vpcCidrBlock) : ec2.Peer.ipv4(props.allowedCidr);
    loadBalancer.connections.allowFrom(clients, ec2.Port.tcp(listenerPort), 'fruits serve clients');
    if (https) loadBalancer.connections.allowFrom(clients, ec2.Port.tcp(80), 'redirect to HTTPS');
    if (props.wafRateLimit !== undefined) this.addWaf(loadBalancer, props.wafRateLimit);
    this.url = `${https ? 'https' : 'http'}://${loadBalancer.loadBalancerDnsName}`;
  }

  /** A web ACL on the load balancer that blocks an address past `limit` requests in 5 minutes. */
  private addWaf(loadBalancer: elbv2.ApplicationLoadBalancer, limit: number): void {
    const visibility = (name: string) => ({ cloudWatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: true });
    const acl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('fruits-serve'),
      rules: [
        {
          name: 'rate-per-address',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP' } },
          visibilityConfig: visibility('fruits-serve-rate'),
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: loadBalancer.loadBalancerArn, webAclArn: acl.attrArn });
  }
}
