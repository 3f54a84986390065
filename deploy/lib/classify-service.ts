// Optional: `fruits serve` behind an Application Load Balancer. The load balancer sends traffic
// only to tasks whose /readyz answers (model and bundle loaded); the service reads models/ only.
import { Duration } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ecsPatterns from 'aws-cdk-lib/aws-ecs-patterns';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
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
  logRetentionDays: number;
}

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
      command: ['serve', props.data.uri(PREFIX.models, props.bundle), '--port', String(PORT.serve), '--host', '0.0.0.0'],
      environment: appEnvironment(this),
      portMappings: [{ containerPort: PORT.serve }],
      logging: logDriver(this.logGroup, CONTAINER.serve),
      // Liveness inside the task (restart a hung process); readiness is the load balancer's /readyz.
      healthCheck: loopbackHealthCheck(PORT.serve),
      linuxParameters: withInit(this, 'Linux'),
    });
    props.data.grantReadPrefix(taskDefinition.taskRole, PREFIX.models);

    const loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.cluster.vpc,
      internetFacing: true,
      dropInvalidHeaderFields: true,
    });
    const https = props.certificateArn !== undefined;
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
    const listenerPort = https ? 443 : 80;
    loadBalancer.connections.allowFrom(ec2.Peer.ipv4(props.allowedCidr), ec2.Port.tcp(listenerPort), 'fruits serve clients');
    if (https) loadBalancer.connections.allowFrom(ec2.Peer.ipv4(props.allowedCidr), ec2.Port.tcp(80), 'redirect to HTTPS');
    this.url = `${https ? 'https' : 'http'}://${loadBalancer.loadBalancerDnsName}`;
  }
}
