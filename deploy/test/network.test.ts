import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourcesOf, synth } from './support/synth.js';

describe('network', () => {
  it('routes S3 through a gateway endpoint from every private subnet', () => {
    const { json } = synth();
    const endpoints = resourcesOf(json, 'AWS::EC2::VPCEndpoint');
    assert.equal(endpoints.length, 1);
    const [[, ep]] = endpoints;
    assert.equal(ep.Properties!.VpcEndpointType, 'Gateway');
    assert.deepEqual(ep.Properties!.ServiceName, { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] });
    const routed = new Set((ep.Properties!.RouteTableIds as { Ref: string }[]).map((r) => r.Ref));
    // Every route table of a subnet without a public IP (tasks and data) goes through the endpoint.
    const privateTables = resourcesOf(json, 'AWS::EC2::SubnetRouteTableAssociation')
      .filter(([, a]) => json.Resources[a.Properties!.SubnetId.Ref].Properties!.MapPublicIpOnLaunch === false)
      .map(([, a]) => a.Properties!.RouteTableId.Ref);
    assert.equal(privateTables.length, 4);
    for (const t of privateTables) assert.ok(routed.has(t), `${t} does not use the S3 endpoint`);
  });

  it('runs every task in private subnets without a public IP', () => {
    const { json } = synth({ serve: 'true' });
    const services = resourcesOf(json, 'AWS::ECS::Service');
    assert.equal(services.length, 2);
    for (const [id, s] of services) {
      const cfg = s.Properties!.NetworkConfiguration.AwsvpcConfiguration;
      assert.equal(cfg.AssignPublicIp, 'DISABLED', id);
      for (const subnet of cfg.Subnets) assert.match(subnet.Ref, /tasks/, `${id} in ${subnet.Ref}`);
    }
  });

  it('uses the given CIDR, zones and NAT gateway count without looking anything up', () => {
    const { json, app } = synth({ vpcCidr: '10.9.0.0/16', availabilityZones: 'eu-west-3a,eu-west-3b,eu-west-3c', natGateways: '2' });
    const [[, vpc]] = resourcesOf(json, 'AWS::EC2::VPC');
    assert.equal(vpc.Properties!.CidrBlock, '10.9.0.0/16');
    assert.equal(resourcesOf(json, 'AWS::EC2::NatGateway').length, 2);
    const zones = new Set(resourcesOf(json, 'AWS::EC2::Subnet').map(([, s]) => s.Properties!.AvailabilityZone));
    assert.deepEqual([...zones].sort(), ['eu-west-3a', 'eu-west-3b', 'eu-west-3c']);
    assert.equal(app.synth().manifest.missing, undefined, 'synth needed a context lookup');
    assert.throws(() => synth({ availabilityZones: 'eu-west-1a,eu-west-1b' }), /availabilityZones: eu-west-1a is not in eu-west-3/);
    assert.throws(() => synth({ natGateways: '3' }), /natGateways: 3 NAT gateways for 2 availability zones/);
  });
});
