import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_KEYS, readConfig } from '../lib/config.js';
import { synth } from './support/synth.js';

const read = (context: Record<string, unknown>) => readConfig((k) => context[k]);

describe('region', () => {
  it('defaults to Paris (eu-west-3) so the data stays in the EU', () => {
    const { stack, app } = synth();
    assert.equal(stack.region, 'eu-west-3');
    const artifact = app.synth().getStackByName(stack.stackName);
    assert.equal(artifact.environment.region, 'eu-west-3');
    // Account-agnostic: deploys to whichever account the credentials belong to, no lookup at synth.
    assert.equal(artifact.environment.account, 'unknown-account');
  });

  it('is configurable', () => {
    const { stack } = synth({ region: 'eu-central-1' });
    assert.equal(stack.region, 'eu-central-1');
    assert.match(stack.startRunCommand(), /--region eu-central-1 /);
  });

  it('rejects what is not a region', () => {
    assert.throws(() => read({ region: 'paris' }), /^Error: fruits deploy: context region: an AWS region such as eu-west-3$/);
  });
});

describe('settings', () => {
  it('has defaults for everything', () => {
    const c = read({});
    assert.equal(c.workerCpu, 2048);
    assert.equal(c.workerMemory, 4096);
    assert.equal(c.workerMaxCount, 8);
    assert.equal(c.workerSpot, false);
    assert.equal(c.serve, false);
    assert.equal(c.kmsKey, false);
    assert.equal(c.logRetentionDays, 30);
    assert.equal(c.redisNodeType, 'cache.t4g.micro');
    assert.equal(c.budgetMonthlyUsd, undefined);
  });

  it('reads -c strings and cdk.json values alike', () => {
    assert.deepEqual(
      [read({ workerSpot: 'true', workerMaxCount: '12' }), read({ workerSpot: true, workerMaxCount: 12 })].map((c) => [c.workerSpot, c.workerMaxCount]),
      [[true, 12], [true, 12]],
    );
    assert.deepEqual(read({ availabilityZones: 'eu-west-3a, eu-west-3b' }).availabilityZones, ['eu-west-3a', 'eu-west-3b']);
  });

  it('rejects task sizes Fargate does not run, naming the task', () => {
    assert.throws(() => read({ workerCpu: '2048', workerMemory: '2048' }), /context workerCpu: worker task 2048 CPU \/ 2048 MiB: not a valid Fargate size/);
    assert.throws(() => read({ serve: 'true', serveCpu: '3000' }), /context serveCpu: serve task 3000 CPU/);
    assert.doesNotThrow(() => read({ workerCpu: '4096', workerMemory: '30720' }));
  });

  it('rejects a mistyped boolean instead of guessing', () => {
    assert.throws(() => read({ workerSpot: 'yes' }), /context workerSpot:/);
  });

  it('lists every documented key', () => {
    for (const key of ['region', 'workerCpu', 'workerMemory', 'workerMaxCount', 'workerSpot', 'serve', 'kmsKey', 'budgetMonthlyUsd', 'logRetentionDays', 'metricsNamespace']) {
      assert.ok((CONFIG_KEYS as string[]).includes(key), key);
    }
  });
});
