import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scaleOutSteps } from '../lib/queue-scaling.js';
import { container, resourcesOf, synth, type CfnResource, type CfnTemplate } from './support/synth.js';

function policies(t: CfnTemplate): Record<string, CfnResource> {
  const byType: Record<string, CfnResource> = {};
  for (const [, p] of resourcesOf(t, 'AWS::ApplicationAutoScaling::ScalingPolicy')) {
    byType[p.Properties!.StepScalingPolicyConfiguration.AdjustmentType] = p;
  }
  return byType;
}

/** The alarm whose actions invoke the policy with this logical id. */
function alarmFor(t: CfnTemplate, policyId: string): CfnResource {
  const found = resourcesOf(t, 'AWS::CloudWatch::Alarm').filter(([, a]) => (a.Properties!.AlarmActions as any[]).some((x) => x.Ref === policyId));
  assert.equal(found.length, 1, `one alarm drives ${policyId}`);
  return found[0][1];
}

function policyId(t: CfnTemplate, policy: CfnResource): string {
  return Object.entries(t.Resources).find(([, r]) => r === policy)![0];
}

describe('worker autoscaling on queue depth', () => {
  it('scales the worker service between zero and workerMaxCount', () => {
    for (const [context, max] of [[{}, 8], [{ workerMaxCount: '20' }, 20]] as const) {
      const { json } = synth(context);
      const [[, target]] = resourcesOf(json, 'AWS::ApplicationAutoScaling::ScalableTarget');
      assert.equal(target.Properties!.MinCapacity, 0);
      assert.equal(target.Properties!.MaxCapacity, max);
      assert.equal(target.Properties!.ScalableDimension, 'ecs:service:DesiredCount');
      assert.equal(target.Properties!.ServiceNamespace, 'ecs');
      const [[serviceId, service]] = resourcesOf(json, 'AWS::ECS::Service');
      // The autoscaler alone sets the count: a DesiredCount here would be re-sent on every update.
      assert.ok(!('DesiredCount' in service.Properties!), 'DesiredCount in the template resets workers on deploy');
      assert.match(JSON.stringify(target.Properties!.ResourceId), new RegExp(`"${serviceId}","Name"`));
      assert.match(JSON.stringify(target.Properties!.RoleARN), /AWSServiceRoleForApplicationAutoScaling_ECSService/);
    }
  });

  it('adds workers while jobs wait: 1, 2 or 4 a minute by backlog', () => {
    const { json } = synth();
    const out = policies(json).ChangeInCapacity;
    assert.ok(out, 'no ChangeInCapacity policy');
    const cfg = out.Properties!.StepScalingPolicyConfiguration;
    assert.equal(cfg.Cooldown, 60);
    assert.equal(cfg.MetricAggregationType, 'Maximum');
    // Bounds are relative to the alarm threshold (1 job): depth 1–3 → +1, 4–15 → +2, 16+ → +4.
    assert.deepEqual(cfg.StepAdjustments, [
      { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 3, ScalingAdjustment: 1 },
      { MetricIntervalLowerBound: 3, MetricIntervalUpperBound: 15, ScalingAdjustment: 2 },
      { MetricIntervalLowerBound: 15, ScalingAdjustment: 4 },
    ]);
    const alarm = alarmFor(json, policyId(json, out)).Properties!;
    assert.equal(alarm.Namespace, 'Fruits');
    assert.equal(alarm.MetricName, 'QueueDepth');
    assert.equal(alarm.Statistic, 'Maximum');
    assert.equal(alarm.Period, 60);
    assert.equal(alarm.Threshold, 1);
    assert.equal(alarm.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    assert.equal(alarm.EvaluationPeriods, 1);
    assert.equal(alarm.TreatMissingData, 'notBreaching');
  });

  it('goes to exactly zero workers once the queue has been empty for scaleInMinutes', () => {
    for (const [context, minutes] of [[{}, 5], [{ scaleInMinutes: '15' }, 15]] as const) {
      const { json } = synth(context);
      const zero = policies(json).ExactCapacity;
      assert.ok(zero, 'no ExactCapacity policy');
      assert.deepEqual(zero.Properties!.StepScalingPolicyConfiguration.StepAdjustments, [{ MetricIntervalUpperBound: 0, ScalingAdjustment: 0 }]);
      const alarm = alarmFor(json, policyId(json, zero)).Properties!;
      assert.equal(alarm.MetricName, 'QueueDepth');
      assert.equal(alarm.Threshold, 0);
      assert.equal(alarm.ComparisonOperator, 'LessThanOrEqualToThreshold');
      assert.equal(alarm.EvaluationPeriods, minutes);
      // No metric at all = no coordinator running = nothing for workers to do.
      assert.equal(alarm.TreatMissingData, 'breaching');
    }
    // Only these two policies exist: nothing else may scale the workers in while jobs remain.
    assert.equal(resourcesOf(synth().json, 'AWS::ApplicationAutoScaling::ScalingPolicy').length, 2);
  });

  it('scales on the metric the coordinator publishes, in the same namespace', () => {
    for (const namespace of ['Fruits', 'Fruits/staging']) {
      const { json } = synth(namespace === 'Fruits' ? {} : { metricsNamespace: namespace });
      const publisher = container(json, 'queue-metrics');
      assert.deepEqual(publisher.Command, ['queue-metrics', '--namespace', namespace, '--interval', '60']);
      for (const [, alarm] of resourcesOf(json, 'AWS::CloudWatch::Alarm')) assert.equal(alarm.Properties!.Namespace, namespace);
    }
  });

  it('derives sane steps for any backlog share and cap', () => {
    assert.deepEqual(scaleOutSteps(4, 8), [
      { fromDepth: 1, add: 1 },
      { fromDepth: 4, add: 2 },
      { fromDepth: 16, add: 4 },
    ]);
    assert.deepEqual(scaleOutSteps(1, 8), [
      { fromDepth: 1, add: 2 },
      { fromDepth: 4, add: 4 },
    ]);
    assert.deepEqual(scaleOutSteps(10, 1), [{ fromDepth: 1, add: 1 }]);
    assert.deepEqual(scaleOutSteps(10, 3), [
      { fromDepth: 1, add: 1 },
      { fromDepth: 10, add: 2 },
      { fromDepth: 40, add: 3 },
    ]);
  });

  it('runs workers on Fargate Spot only when asked', () => {
    const strategy = (context: Record<string, unknown>) => {
      const [[, service]] = resourcesOf(synth(context).json, 'AWS::ECS::Service');
      return service.Properties!.CapacityProviderStrategy;
    };
    assert.deepEqual(strategy({}), [{ CapacityProvider: 'FARGATE', Weight: 1 }]);
    assert.deepEqual(strategy({ workerSpot: 'true' }), [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
  });

  it('sizes the worker task from context and gives a stopping worker the longest grace Fargate allows', () => {
    const { json } = synth({ workerCpu: '4096', workerMemory: '8192', workerConcurrency: '3' });
    const [[, task]] = resourcesOf(json, 'AWS::ECS::TaskDefinition').filter(([, t]) => t.Properties!.Family.endsWith('-worker'));
    assert.equal(task.Properties!.Cpu, '4096');
    assert.equal(task.Properties!.Memory, '8192');
    const worker = container(json, 'worker');
    assert.deepEqual(worker.Command, ['worker', '--concurrency', '3']);
    assert.equal(worker.StopTimeout, 120);
    assert.equal(worker.LinuxParameters.InitProcessEnabled, true);
    assert.deepEqual(container(synth().json, 'worker').Command, ['worker']);
  });
});
