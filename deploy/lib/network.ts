// The VPC: tasks in private subnets, Redis in isolated ones, the load balancer and NAT in public
// ones. An S3 gateway endpoint (free) carries the image reads, result writes and ECR layer pulls,
// so the NAT gateway (billed per GB) only sees control-plane traffic.
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface NetworkProps {
  cidr: string;
  availabilityZones?: string[];
  natGateways: number;
}

export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  readonly s3Endpoint: ec2.GatewayVpcEndpoint;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      // Without pinned zones the stack takes the region's first two via Fn::GetAZs: no lookup at synth.
      availabilityZones: props.availabilityZones,
      maxAzs: props.availabilityZones ? undefined : 2,
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        // One IP per Fargate task: /20 leaves room for hundreds of workers.
        { name: 'tasks', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      restrictDefaultSecurityGroup: true,
    });
    this.s3Endpoint = this.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
  }

  get taskSubnets(): ec2.SubnetSelection {
    return { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
  }

  get dataSubnets(): ec2.SubnetSelection {
    return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  }
}
