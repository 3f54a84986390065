// Redis restarted mid-run without persistence (every queued job lost): workers and coordinator
// reconnect, the coordinator notices that Redis no longer has its unfinished tasks and submits
// them again (tasks are idempotent: deterministic file names, atomic writes), and the run
// completes with every image exactly once.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { collect, show } from './helpers/cli.js';
import { miniTestDir } from './helpers/paths.js';
import { spawnTracked, taskQueue, useCluster, waitFor } from './helpers/redis.js';
import { countRows, readPcaModel } from './helpers/datasets.js';

const IMAGES = 600;

describe('distributed run across a Redis restart', () => {
  const cluster = useCluster('dist-redis', { workers: 2 });

  it('submits the lost tasks again and completes: every image exactly once', { timeout: 300_000 }, async () => {
    const out = path.join(cluster.dir, 'out');
    const coordinator = spawnTracked(['run', miniTestDir, out, '--limit', String(IMAGES), '--partition-size', '50', '--engine', 'distributed', '--redis', cluster.redis.url, '--run-id', 'redis-1', '--json', '--quiet']);
    const result = collect(coordinator);
    const queue = taskQueue(cluster.redis);
    let waitingAtRestart: number;
    try {
      const sidecars = async () => (await fs.readdir(path.join(out, 'features', '_parts')).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).length;
      await waitFor('two finished partitions', async () => ((await sidecars()) >= 2 ? true : undefined), 180_000);
      waitingAtRestart = await queue.getWaitingCount();
    } finally {
      await queue.close();
    }
    await cluster.redis.restart(); // SIGKILL, and an empty Redis on the same port

    const r = await result;
    assert.equal(r.code, 0, show(r));
    assert.ok(waitingAtRestart > 0, 'the featurize stage had ended before the restart');
    assert.match(r.stderr, /Redis no longer has \d+ unfinished tasks? of stage featurize-1 nor its barrier \(restarted without persistence\?\): submitting (it|them) again/);
    assert.deepEqual(await countRows(path.join(out, 'features')), { rows: IMAGES, paths: IMAGES });
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { featurize: { rows: number }; transform: { rows: number } };
    assert.equal(summary.featurize.rows, IMAGES);
    assert.equal(summary.transform.rows, IMAGES);
    assert.ok((await readPcaModel(out)).k > 0);
    // The workers lived through it: they were still working after the restart.
    for (const w of cluster.workers) assert.equal(w.child.exitCode, null, w.output());
    assert.ok(cluster.workers.some((w) => /transform part-\d+\.parquet: done/.test(w.output())));
  });
});
