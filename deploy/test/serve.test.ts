import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { container, resourcesOf, synth } from './support/synth.js';

describe('classify service (fruits serve)', () => {
  it('is not deployed unless serve=true', () => {
    const { json } = synth();
    assert.equal(resourcesOf(json, 'AWS::ElasticLoadBalancingV2::LoadBalancer').length, 0);
    assert.equal(json.Outputs?.ServeUrl, undefined);
  });

  it('sits behind a load balancer that checks /readyz', () => {
    const { json, template } = synth({ serve: 'true' });
    const [[, tg]] = resourcesOf(json, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    assert.equal(tg.Properties!.HealthCheckPath, '/readyz');
    assert.equal(tg.Properties!.Matcher.HttpCode, '200');
    const [, service] = resourcesOf(json, 'AWS::ECS::Service').find(([, s]) => s.Properties!.LoadBalancers?.length)!;
    assert.deepEqual(service.Properties!.LoadBalancers[0].ContainerPort, 8080);
    assert.equal(service.Properties!.LoadBalancers[0].ContainerName, 'serve');
    assert.equal(tg.Properties!.TargetType, 'ip');
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: [{ Key: 'deletion_protection.enabled', Value: 'false' }, { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    const serve = container(json, 'serve');
    assert.equal(serve.Command[0], 'serve');
    assert.match(JSON.stringify(serve.Command[1]), /\/models\/current"/);
    assert.deepEqual(serve.Command.slice(2), ['--port', '8080', '--host', '0.0.0.0']);
    assert.deepEqual(serve.HealthCheck.Command.slice(0, 3), ['CMD', 'node', '-e']);
    assert.match(serve.HealthCheck.Command[3], /127\.0\.0\.1:8080\/healthz/);
    assert.ok(json.Outputs?.ServeUrl);
  });

  it('serves HTTPS with the given certificate and redirects HTTP', () => {
    const certificateArn = 'arn:aws:acm:eu-west-3:123456789012:certificate/00000000-0000-0000-0000-000000000000';
    const { template, json } = synth({ serve: 'true', certificateArn, serveAllowedCidr: '203.0.113.0/24', serveBundle: 'fruits360/v1' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: certificateArn }] });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443' } }] });
    const albSgIds = resourcesOf(json, 'AWS::ElasticLoadBalancingV2::LoadBalancer').flatMap(([, lb]) => lb.Properties!.SecurityGroups.map((s: any) => s['Fn::GetAtt'][0]));
    const ingress = albSgIds.flatMap((id: string) => json.Resources[id].Properties!.SecurityGroupIngress ?? []);
    assert.deepEqual(ingress.map((r: any) => [r.CidrIp, r.FromPort]).sort(), [['203.0.113.0/24', 443], ['203.0.113.0/24', 80]]);
    assert.match(JSON.stringify(container(json, 'serve').Command[1]), /\/models\/fruits360\/v1"/);
  });
});
