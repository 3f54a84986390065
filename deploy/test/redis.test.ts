import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { container, resourcesOf, synth } from './support/synth.js';

describe('Redis for BullMQ', () => {
  it('requires TLS and AUTH, and encrypts at rest', () => {
    const { json } = synth();
    const [[, rg]] = resourcesOf(json, 'AWS::ElastiCache::ReplicationGroup');
    const p = rg.Properties!;
    assert.equal(p.Engine, 'redis');
    assert.equal(p.TransitEncryptionEnabled, true);
    assert.equal(p.TransitEncryptionMode, 'required');
    assert.equal(p.AtRestEncryptionEnabled, true);
    // The token is a dynamic reference to the generated secret, never a literal.
    const [[secretId, secret]] = resourcesOf(json, 'AWS::SecretsManager::Secret');
    assert.deepEqual(p.AuthToken, { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:::}}']] });
    assert.equal(secret.Properties!.GenerateSecretString.PasswordLength, 64);
    assert.equal(secret.Properties!.GenerateSecretString.ExcludePunctuation, true);
  });

  it('never evicts keys (BullMQ loses jobs otherwise)', () => {
    const { json } = synth();
    const [[groupId, group]] = resourcesOf(json, 'AWS::ElastiCache::ParameterGroup');
    assert.deepEqual(group.Properties!.Properties, { 'maxmemory-policy': 'noeviction' });
    assert.equal(group.Properties!.CacheParameterGroupFamily, 'redis7');
    const [[, rg]] = resourcesOf(json, 'AWS::ElastiCache::ReplicationGroup');
    assert.deepEqual(rg.Properties!.CacheParameterGroupName, { Ref: groupId });
  });

  it('lives in the isolated subnets and accepts connections from the fruits tasks only', () => {
    const { json } = synth({ serve: true });
    const [[, subnetGroup]] = resourcesOf(json, 'AWS::ElastiCache::SubnetGroup');
    const ids = (subnetGroup.Properties!.SubnetIds as { Ref: string }[]).map((s) => s.Ref);
    assert.equal(ids.length, 2);
    for (const id of ids) assert.equal(json.Resources[id].Properties!.MapPublicIpOnLaunch, false, id);
    for (const id of ids) assert.match(id, /data/, `${id} is not an isolated (data) subnet`);
    const [[rgId, rg]] = resourcesOf(json, 'AWS::ElastiCache::ReplicationGroup');
    const [sg] = rg.Properties!.SecurityGroupIds;
    const redisSg = sg['Fn::GetAtt'][0];
    assert.deepEqual(json.Resources[redisSg].Properties!.SecurityGroupEgress?.[0]?.CidrIp, '255.255.255.255/32', 'Redis opens no outbound connections');
    const ingress = resourcesOf(json, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => r.Properties!.GroupId['Fn::GetAtt'][0] === redisSg);
    const sources = ingress.map(([, r]) => r.Properties!.SourceSecurityGroupId['Fn::GetAtt'][0]).sort();
    assert.equal(sources.length, 2, `ingress to ${rgId} from ${sources}`);
    assert.ok(sources.some((s) => s.startsWith('Workers')) && sources.some((s) => s.startsWith('Coordinator')));
    for (const [, r] of ingress) assert.equal(r.Properties!.FromPort, 6379);
  });

  it('hands the token to the containers as an ECS secret, never as plain environment', () => {
    const { json } = synth();
    const [[secretId]] = resourcesOf(json, 'AWS::SecretsManager::Secret');
    for (const name of ['worker', 'coordinator', 'queue-metrics', 'dashboard']) {
      const c = container(json, name);
      assert.deepEqual(c.Secrets, [{ Name: 'REDIS_PASSWORD', ValueFrom: { Ref: secretId } }], name);
      const env = Object.fromEntries((c.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
      assert.equal(env.REDIS_TLS, 'true');
      assert.ok(env.REDIS_HOST && env.REDIS_PORT, `${name} has no Redis endpoint`);
      assert.equal(env.FRUITS_REDIS_URL, undefined);
      assert.equal(env.REDIS_PASSWORD, undefined);
    }
  });

  it('fails over automatically once it has a replica', () => {
    const single = resourcesOf(synth().json, 'AWS::ElastiCache::ReplicationGroup')[0][1].Properties!;
    assert.equal(single.NumCacheClusters, 1);
    assert.equal(single.AutomaticFailoverEnabled, false);
    const { json } = synth({ redisReplicas: '1', redisNodeType: 'cache.t4g.small' });
    const replicated = resourcesOf(json, 'AWS::ElastiCache::ReplicationGroup')[0][1].Properties!;
    assert.equal(replicated.NumCacheClusters, 2);
    assert.equal(replicated.AutomaticFailoverEnabled, true);
    assert.equal(replicated.MultiAZEnabled, true);
    assert.equal(replicated.CacheNodeType, 'cache.t4g.small');
  });
});
