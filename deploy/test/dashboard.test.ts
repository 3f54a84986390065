import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourcesOf, synth } from './support/synth.js';

/** The dashboard body with its tokens rendered, as CloudWatch will read it. */
function body(context: Record<string, unknown> = {}): any {
  const { json } = synth(context);
  const [[, d]] = resourcesOf(json, 'AWS::CloudWatch::Dashboard');
  const parts = d.Properties!.DashboardBody['Fn::Join'][1] as unknown[];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : `TOKEN_${JSON.stringify(p).replace(/\W/g, '')}`)).join(''));
}

function widget(b: any, title: string): any {
  const w = b.widgets.find((x: any) => x.properties.title === title);
  assert.ok(w, `no widget "${title}"`);
  return w.properties;
}

describe('dashboard', () => {
  it('shows queue depth, workers and images per second', () => {
    const b = body();
    const queue = widget(b, 'Queue depth').metrics.map((m: any[]) => m.slice(0, 2).join('/'));
    assert.deepEqual(queue, ['Fruits/QueueDepth', 'Fruits/ActiveJobs']);
    const workers = widget(b, 'Workers').metrics.map((m: any[]) => m.slice(0, 2).join('/'));
    assert.deepEqual(workers, ['ECS/ContainerInsights/RunningTaskCount', 'ECS/ContainerInsights/DesiredTaskCount']);
    const images = widget(b, 'Images per second').metrics;
    assert.ok(images.some((m: any[]) => m[0]?.expression === 'FILL(images, 0) / PERIOD(images)'));
    assert.ok(images.some((m: any[]) => m[0] === 'Fruits' && m[1] === 'ImagesFeaturized'));
    widget(b, 'Redis');
    widget(b, 'Scaling alarms');
    assert.throws(() => widget(b, 'Classify service'));
    widget(body({ serve: 'true' }), 'Classify service');
  });

  it('counts images from the workers\' JSON log lines', () => {
    const { json } = synth();
    const [[, filter]] = resourcesOf(json, 'AWS::Logs::MetricFilter');
    assert.equal(filter.Properties!.FilterPattern, '{ $.imagesFeaturized > 0 }');
    assert.deepEqual(filter.Properties!.MetricTransformations, [{ MetricName: 'ImagesFeaturized', MetricNamespace: 'Fruits', MetricValue: '$.imagesFeaturized' }]);
    const workerGroup = (json.Outputs!.WorkerLogGroup.Value as { Ref: string }).Ref;
    assert.deepEqual(filter.Properties!.LogGroupName, { Ref: workerGroup });
  });

  it('turns Container Insights on (worker counts) unless told not to', () => {
    const settings = (context: Record<string, unknown>) => resourcesOf(synth(context).json, 'AWS::ECS::Cluster')[0][1].Properties!.ClusterSettings;
    assert.deepEqual(settings({}), [{ Name: 'containerInsights', Value: 'enabled' }]);
    assert.deepEqual(settings({ containerInsights: 'false' }), [{ Name: 'containerInsights', Value: 'disabled' }]);
  });
});
