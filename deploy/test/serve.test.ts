import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { readConfig } from '../lib/config.js';
import { SERVE_DRAIN_SECONDS, SERVE_STOP_TIMEOUT_SECONDS } from '../lib/classify-service.js';
import { container, resourcesOf, synth, type CfnTemplate } from './support/synth.js';

const certificateArn = 'arn:aws:acm:eu-west-3:123456789012:certificate/00000000-0000-0000-0000-000000000000';

/** [CIDR or VPC reference, port] of every ingress rule of the load balancer's security groups. */
function lbIngress(json: CfnTemplate): [string, number][] {
  const albSgIds = resourcesOf(json, 'AWS::ElasticLoadBalancingV2::LoadBalancer').flatMap(([, lb]) => lb.Properties!.SecurityGroups.map((s: any) => s['Fn::GetAtt'][0]));
  const ingress = albSgIds.flatMap((id: string) => json.Resources[id].Properties!.SecurityGroupIngress ?? []);
  return ingress.map((r: any) => [typeof r.CidrIp === 'string' ? r.CidrIp : JSON.stringify(r.CidrIp), r.FromPort] as [string, number]).sort();
}

function listeners(json: CfnTemplate) {
  return resourcesOf(json, 'AWS::ElasticLoadBalancingV2::Listener').map(([, l]) => l.Properties!);
}

/** The value following `flag` in the serve container's command. */
function flagOf(command: unknown[], flag: string): unknown {
  const i = command.indexOf(flag);
  return i < 0 ? undefined : command[i + 1];
}

describe('classify service (fruits serve)', () => {
  it('is not deployed unless serve=true', () => {
    const { json } = synth();
    assert.equal(resourcesOf(json, 'AWS::ElasticLoadBalancingV2::LoadBalancer').length, 0);
    assert.equal(json.Outputs?.ServeUrl, undefined);
  });

  it('sits behind a load balancer that checks /readyz', () => {
    const { json } = synth({ serve: 'true' });
    const [[, tg]] = resourcesOf(json, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    assert.equal(tg.Properties!.HealthCheckPath, '/readyz');
    assert.equal(tg.Properties!.Matcher.HttpCode, '200');
    const [, service] = resourcesOf(json, 'AWS::ECS::Service').find(([, s]) => s.Properties!.LoadBalancers?.length)!;
    assert.deepEqual(service.Properties!.LoadBalancers[0].ContainerPort, 8080);
    assert.equal(service.Properties!.LoadBalancers[0].ContainerName, 'serve');
    assert.equal(tg.Properties!.TargetType, 'ip');
    const serve = container(json, 'serve');
    assert.equal(serve.Command[0], 'serve');
    assert.match(JSON.stringify(serve.Command[1]), /\/models\/current"/);
    assert.deepEqual(serve.Command.slice(2, 6), ['--port', '8080', '--host', '0.0.0.0']);
    assert.deepEqual(serve.HealthCheck.Command.slice(0, 3), ['CMD', 'node', '-e']);
    assert.match(serve.HealthCheck.Command[3], /127\.0\.0\.1:8080\/healthz/);
    assert.ok(json.Outputs?.ServeUrl);
  });

  it('is not on the internet over plain HTTP by default: without a certificate the load balancer is internal, open to the VPC only', () => {
    const { json, template } = synth({ serve: 'true' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internal',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }]),
    });
    assert.deepEqual(listeners(json).map((l) => [l.Port, l.Protocol]), [[80, 'HTTP']]);
    const ingress = lbIngress(json);
    assert.equal(ingress.length, 1);
    assert.notEqual(ingress[0][0], '0.0.0.0/0');
    assert.match(ingress[0][0], /CidrBlock/); // the VPC's own range
    assert.match(JSON.stringify(json.Outputs!.ServeUrl.Value), /"http:\/\//);
  });

  it('on the internet: HTTPS with the certificate, HTTP only redirecting', () => {
    const { template, json } = synth({ serve: 'true', certificateArn, serveAllowedCidr: '203.0.113.0/24', serveBundle: 'fruits360/v1' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: certificateArn }] });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443' } }] });
    // Nothing on port 80 is forwarded: its one listener redirects.
    const http = listeners(json).filter((l) => l.Port === 80);
    assert.equal(http.length, 1);
    assert.deepEqual(http[0].DefaultActions.map((a: any) => a.Type), ['redirect']);
    assert.deepEqual(lbIngress(json), [['203.0.113.0/24', 443], ['203.0.113.0/24', 80]]);
    assert.match(JSON.stringify(container(json, 'serve').Command[1]), /\/models\/fruits360\/v1"/);
  });

  it('public plain HTTP only when asked by name, and never together with a certificate', () => {
    const { template } = synth({ serve: 'true', servePublicPlainHttp: 'true' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    assert.throws(() => readConfig((k) => ({ serve: 'true', servePublicPlainHttp: 'true', certificateArn })[k]), /servePublicPlainHttp/);
  });

  it('/metrics is answered by the listener, never forwarded to the service', () => {
    for (const context of [{ serve: 'true' }, { serve: 'true', certificateArn }]) {
      const { json } = synth(context);
      const rules = resourcesOf(json, 'AWS::ElasticLoadBalancingV2::ListenerRule').map(([, r]) => r.Properties!);
      const metrics = rules.filter((r) => r.Conditions.some((c: any) => c.Field === 'path-pattern' && c.PathPatternConfig.Values.includes('/metrics')));
      assert.equal(metrics.length, 1, JSON.stringify(rules));
      assert.deepEqual(metrics[0].Actions.map((a: any) => [a.Type, a.FixedResponseConfig?.StatusCode]), [['fixed-response', '404']]);
      assert.ok(metrics[0].Conditions[0].PathPatternConfig.Values.includes('/metrics/*'));
      // On the listener that forwards (the HTTPS one when there is a certificate).
      const forwarding = resourcesOf(json, 'AWS::ElasticLoadBalancingV2::Listener').find(([, l]) => l.Properties!.DefaultActions[0].Type === 'forward')!;
      assert.deepEqual(metrics[0].ListenerArn, { Ref: forwarding[0] });
      assert.ok(metrics[0].Priority < Math.min(...rules.filter((r) => r !== metrics[0]).map((r) => r.Priority), Infinity));
    }
  });

  it('trusts the load balancer (the VPC range) as the proxy, limits the rate per client, and keeps idle connections longer than the load balancer', () => {
    const { json } = synth({ serve: 'true', certificateArn });
    const command: unknown[] = container(json, 'serve').Command;
    // The load balancer's addresses, the VPC's range (Fastify trusts no bare hop count).
    assert.match(JSON.stringify(flagOf(command, '--trust-proxy')), /"Fn::GetAtt":\["\w+","CidrBlock"\]/);
    assert.equal(flagOf(command, '--rate-limit'), '120');
    const [[, lb]] = resourcesOf(json, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const idle = Number(lb.Properties!.LoadBalancerAttributes.find((a: any) => a.Key === 'idle_timeout.timeout_seconds').Value);
    assert.ok(Number(flagOf(command, '--keep-alive-timeout')) > idle * 1000);
    const off: unknown[] = container(synth({ serve: 'true', certificateArn, serveRateLimit: '0' }).json, 'serve').Command;
    assert.equal(flagOf(off, '--rate-limit'), undefined);
  });

  it('gives the server time to drain on stop: stopTimeout covers --drain-timeout', () => {
    const { json } = synth({ serve: 'true' });
    const serve = container(json, 'serve');
    assert.equal(flagOf(serve.Command, '--drain-timeout'), String(SERVE_DRAIN_SECONDS * 1000));
    assert.equal(serve.StopTimeout, SERVE_STOP_TIMEOUT_SECONDS);
    assert.ok(serve.StopTimeout > SERVE_DRAIN_SECONDS && serve.StopTimeout <= 120);
  });

  it('optionally, a WAF rate-based rule on the public load balancer', () => {
    assert.equal(resourcesOf(synth({ serve: 'true', certificateArn }).json, 'AWS::WAFv2::WebACL').length, 0);
    const { json, template } = synth({ serve: 'true', certificateArn, serveWafRateLimit: '1000' });
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: [Match.objectLike({ Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: 1000, AggregateKeyType: 'IP' } } })],
    });
    const [[lbId]] = resourcesOf(json, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const [[aclId]] = resourcesOf(json, 'AWS::WAFv2::WebACL');
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { ResourceArn: { Ref: lbId }, WebACLArn: { 'Fn::GetAtt': [aclId, 'Arn'] } });
    assert.throws(() => readConfig((k) => ({ serve: 'true', serveWafRateLimit: '1000' })[k]), /serveWafRateLimit/);
  });
});
