// Growing collections with the distributed engine: two `fruits worker` processes on a real Redis
// featurize only the new and re-shot photos of each update and rewrite the parts that lost rows;
// the result is that of a local run from scratch on the final photos.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { show } from './helpers/cli.js';
import { miniTestClasses } from './helpers/paths.js';
import { runTracked, useCluster } from './helpers/redis.js';
import { Collection, assertSameFeatures, assertSameStatsAndPca, photoPool, rowsByPath } from './helpers/growth.js';

const COMMON = ['--partition-size', '6', '--batch-size', '4', '--k', '4', '--json', '--quiet'];

describe('growing collections, distributed engine', () => {
  const cluster = useCluster('growth-distributed', { workers: 2 });

  it('updates through the queue end where a local run from scratch does', { timeout: 600_000 }, async () => {
    const input = path.join(cluster.dir, 'photos');
    const out = path.join(cluster.dir, 'out');
    const c = new Collection(input, await photoPool((await miniTestClasses()).slice(0, 5), 8), 77);
    await c.add(20);
    const distributed = ['--engine', 'distributed', '--redis', cluster.redis.url];
    const first = await runTracked(['run', input, out, ...COMMON, ...distributed]);
    assert.equal(first.code, 0, show(first));
    const runIds = [JSON.parse(first.stdout.trim().split('\n').pop()!).runId as string];

    for (const size of [
      { add: 7, change: 2, remove: 2, touch: 1 },
      { add: 1, change: 1, remove: 3, touch: 0 },
    ]) {
      const s = await c.step(size);
      const r = await runTracked(['run', input, out, ...COMMON, ...distributed]);
      assert.equal(r.code, 0, show(r));
      const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { runId: string; featurize: { update: { added: number; changed: number; removed: number; featurized: number } } };
      const u = summary.featurize.update;
      assert.deepEqual(
        { added: u.added, changed: u.changed, removed: u.removed, featurized: u.featurized },
        { added: s.added.length, changed: s.changed.length, removed: s.removed.length, featurized: s.added.length + s.changed.length },
      );
      runIds.push(summary.runId);
    }
    assert.equal(new Set(runIds).size, runIds.length, 'each update of a complete run is a new run of the queue');
    const scratch = path.join(cluster.dir, 'scratch');
    const r = await runTracked(['run', input, scratch, ...COMMON, '--workers', '1', '--threads', '1']);
    assert.equal(r.code, 0, show(r));
    await assertSameFeatures(path.join(out, 'features'), path.join(scratch, 'features'));
    await assertSameStatsAndPca(out, scratch);
    const reduced = await rowsByPath(path.join(out, 'reduced'));
    assert.deepEqual([...reduced.keys()].sort(), [...c.present].sort());
  });
});
