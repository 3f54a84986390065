import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourcesOf, synth } from './support/synth.js';

describe('cost controls', () => {
  it('tags every taggable resource for cost allocation', () => {
    const { json } = synth({ environment: 'prod', owner: 'data-team' });
    const tagged = ['AWS::S3::Bucket', 'AWS::EC2::VPC', 'AWS::ECS::Cluster', 'AWS::ECS::Service', 'AWS::ECS::TaskDefinition', 'AWS::Logs::LogGroup', 'AWS::SecretsManager::Secret', 'AWS::ElastiCache::ReplicationGroup', 'AWS::EC2::NatGateway'];
    for (const type of tagged) {
      const found = resourcesOf(json, type);
      assert.ok(found.length > 0, type);
      for (const [id, r] of found) {
        const tags = Object.fromEntries((r.Properties!.Tags as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value]));
        assert.deepEqual(
          { project: tags.project, environment: tags.environment, stack: tags['fruits-stack'], owner: tags.owner },
          { project: 'fruits', environment: 'prod', stack: 'Fruits', owner: 'data-team' },
          id,
        );
      }
    }
    // Tasks inherit them, so a run's compute is billed under the same tags.
    for (const [, s] of resourcesOf(json, 'AWS::ECS::Service')) assert.equal(s.Properties!.PropagateTags, 'SERVICE');
  });

  it('adds a monthly budget with e-mail alerts only when asked', () => {
    assert.equal(resourcesOf(synth().json, 'AWS::Budgets::Budget').length, 0);
    const { json } = synth({ budgetMonthlyUsd: '25', budgetEmail: 'ops@example.com', stackName: 'FruitsProd' });
    const [[, b]] = resourcesOf(json, 'AWS::Budgets::Budget');
    const budget = b.Properties!.Budget;
    assert.deepEqual(budget.BudgetLimit, { Amount: 25, Unit: 'USD' });
    assert.equal(budget.TimeUnit, 'MONTHLY');
    assert.deepEqual(budget.CostFilters, { TagKeyValue: ['user:fruits-stack$FruitsProd'] });
    const notes = b.Properties!.NotificationsWithSubscribers as any[];
    assert.deepEqual(notes.map((n) => [n.Notification.NotificationType, n.Notification.Threshold]), [['ACTUAL', 80], ['FORECASTED', 100]]);
    for (const n of notes) assert.deepEqual(n.Subscribers, [{ SubscriptionType: 'EMAIL', Address: 'ops@example.com' }]);
  });

  it('refuses a budget without an address to alert', () => {
    assert.throws(() => synth({ budgetMonthlyUsd: '25' }), /context budgetEmail: budgetMonthlyUsd needs budgetEmail/);
  });
});
