import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourcesOf, synth } from './support/synth.js';

describe('logs', () => {
  for (const [context, days] of [[{}, 30], [{ logRetentionDays: '90', serve: 'true' }, 90]] as const) {
    it(`keeps every log group for ${days} days, not forever`, () => {
      const { json } = synth(context);
      const groups = resourcesOf(json, 'AWS::Logs::LogGroup');
      assert.ok(groups.length >= 2);
      for (const [id, g] of groups) assert.equal(g.Properties!.RetentionInDays, days, id);
    });

    it(`sends every container's output to one of the stack's log groups (${JSON.stringify(context)})`, () => {
      const { json } = synth(context);
      const groupIds = new Set(resourcesOf(json, 'AWS::Logs::LogGroup').map(([id]) => id));
      const containers = resourcesOf(json, 'AWS::ECS::TaskDefinition').flatMap(([, t]) => t.Properties!.ContainerDefinitions as any[]);
      assert.ok(containers.length >= 4);
      for (const c of containers) {
        assert.equal(c.LogConfiguration?.LogDriver, 'awslogs', c.Name);
        const group = c.LogConfiguration.Options['awslogs-group'];
        assert.ok(groupIds.has(group?.Ref), `${c.Name} logs to ${JSON.stringify(group)}`);
        assert.equal(c.LogConfiguration.Options['awslogs-stream-prefix'], c.Name);
      }
    });
  }

  it('rejects a retention CloudWatch does not offer', () => {
    assert.throws(() => synth({ logRetentionDays: '31' }), /context logRetentionDays: one of 1, 3, 5, 7, 14, 30/);
  });
});

describe('log format', () => {
  it('has every fruits container log JSON lines (the images/s metric filter parses them)', () => {
    const { json } = synth({ serve: 'true' });
    const containers = resourcesOf(json, 'AWS::ECS::TaskDefinition').flatMap(([, t]) => t.Properties!.ContainerDefinitions as any[]);
    for (const c of containers) {
      const env = Object.fromEntries((c.Environment as { Name: string; Value: string }[]).map((e) => [e.Name, e.Value]));
      assert.equal(env.FRUITS_LOG_FORMAT, 'json', c.Name);
      assert.equal(env.AWS_REGION, 'eu-west-3', c.Name);
    }
  });
});
