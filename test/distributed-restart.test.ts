// Failures of a distributed run: a partition whose plan file is damaged after it was queued fails
// the run at its first attempt (the same bytes would fail every retry), naming the partition in one line (and a rerun with the same run id
// retries just that task); a coordinator SIGKILLed mid-run and started again with the same
// --run-id re-attaches to its jobs, does no task twice, and writes the output of an
// uninterrupted run.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { collect, errorLines, show } from './helpers/cli.js';
import { miniTestDir } from './helpers/paths.js';
import { runTracked, spawnTracked, startWorker, taskQueue, useCluster, waitFor, type WorkerProcess } from './helpers/redis.js';
import { assertSamePca, assertSameRows, countRows, readPcaModel, readRows } from './helpers/datasets.js';

const TIMEOUT = { timeout: 240_000 };

/** featurize partitions each worker reported done, over all workers (a partition twice shows here). */
function featurizedPartitions(workers: WorkerProcess[], runId: string): number[] {
  const done: number[] = [];
  for (const w of workers) for (const m of w.output().matchAll(/featurize partition (\d+): done \{"job":"([^"/]+)\//g)) if (m[2] === runId) done.push(Number(m[1]));
  return done.sort((a, b) => a - b);
}

describe('distributed run failures', () => {
  const cluster = useCluster('dist-restart');

  it('fails at the first attempt of a task whose plan file is damaged, naming the partition; a rerun retries it', TIMEOUT, async () => {
    const out = path.join(cluster.dir, 'damaged');
    const args = ['run', miniTestDir, out, '--limit', '400', '--partition-size', '100', '--engine', 'distributed', '--redis', cluster.redis.url, '--run-id', 'damaged-1', '--quiet'];
    const queue = taskQueue(cluster.redis);
    try {
      // No worker yet: the tasks wait in the queue while the plan of partition 2 is damaged.
      const coordinator = collect(spawnTracked(args));
      await waitFor('the featurize stage in the queue', async () => ((await queue.getWaitingCount()) >= 4 ? true : undefined), 120_000);
      const planFile = path.join(out, 'features', '_plan', 'part-00002.json');
      const plan = JSON.parse(await fs.readFile(planFile, 'utf8')) as { images: { key: string }[] };
      plan.images[0].key = 'Someone/else.jpg'; // valid JSON, but it no longer matches its fingerprint
      await fs.writeFile(planFile, JSON.stringify(plan));
      cluster.workers.push(startWorker(cluster.redis.url), startWorker(cluster.redis.url));
      await Promise.all(cluster.workers.map((w) => w.ready));

      const r = await coordinator;
      assert.equal(r.code, 1, show(r));
      const lines = errorLines(r.stderr);
      assert.equal(lines.length, 1, show(r));
      assert.match(lines[0], /^fruits: error: featurize partition 2 failed after 1 attempt: .*_plan\/part-00002\.json: damaged partition plan$/);
      assert.ok(!existsSync(path.join(out, 'features', '_SUCCESS')), 'a failed run must not mark the dataset complete');
      const tries = cluster.workers.flatMap((w) => [...w.output().matchAll(/featurize partition 2: failed/g)]).length;
      assert.equal(tries, 1, 'one attempt of partition 2: no retry mends a damaged plan');

      // The rerun writes the plan again (whole) and gives the failed job a fresh set of attempts.
      const again = await runTracked(args);
      assert.equal(again.code, 0, show(again));
      assert.match(again.stderr, /featurize partition 2 had failed in an earlier attempt of run damaged-1: trying it again/);
      assert.deepEqual(await countRows(path.join(out, 'features')), { rows: 400, paths: 400 });
      assert.deepEqual(featurizedPartitions(cluster.workers, 'damaged-1'), [0, 1, 2, 3], 'each partition featurized once, the damaged one once it was whole');
    } finally {
      await queue.close();
    }
  });

  it('re-attaches a restarted coordinator (same --run-id) to its jobs: no task twice, the output of an uninterrupted run', TIMEOUT, async () => {
    const reference = path.join(cluster.dir, 'reference');
    const out = path.join(cluster.dir, 'restarted');
    const common = [miniTestDir, '--limit', '600', '--partition-size', '50'];
    const ref = await runTracked(['run', common[0], reference, ...common.slice(1), '--workers', '2', '--threads', '1', '--quiet']);
    assert.equal(ref.code, 0, show(ref));

    const args = ['run', common[0], out, ...common.slice(1), '--engine', 'distributed', '--redis', cluster.redis.url, '--run-id', 'restart-1', '--quiet'];
    const live = cluster.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).length;
    for (let i = live; i < 2; i++) cluster.workers.push(startWorker(cluster.redis.url));
    await Promise.all(cluster.workers.map((w) => w.ready));
    const queue = taskQueue(cluster.redis);
    try {
      const first = spawnTracked(args);
      const firstResult = collect(first);
      const sidecars = async () => (await fs.readdir(path.join(out, 'features', '_parts')).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).length;
      await waitFor('two finished partitions', async () => ((await sidecars()) >= 2 ? true : undefined), 180_000);
      // Workers finish what they hold but take nothing new while no coordinator runs, so that the
      // second coordinator surely finds queued tasks of the first (however fast this machine is).
      await queue.pause();
      first.kill('SIGKILL');
      const killed = await firstResult;
      assert.equal(killed.signal, 'SIGKILL', show(killed));

      const secondChild = spawnTracked([...args, '--json']);
      const secondResult = collect(secondChild);
      let log = '';
      secondChild.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      await waitFor('the second coordinator to re-attach', () => (/re-attached/.test(log) || secondChild.exitCode !== null ? true : undefined), 180_000);
      await queue.resume();
      const second = await secondResult;
      assert.equal(second.code, 0, show(second));
      const summary = JSON.parse(second.stdout.trim().split('\n').pop()!) as { featurize: { partitions: number; resumedPartitions: number } };
      assert.equal(summary.featurize.partitions, 12);
      assert.ok(summary.featurize.resumedPartitions >= 2 && summary.featurize.resumedPartitions < 12, JSON.stringify(summary.featurize));
      // The partitions not yet in storage were queued by the first coordinator: the second one joins those jobs.
      assert.match(second.stderr, /stage featurize-1: re-attached to \d+ of its \d+ tasks, queued or run by an earlier coordinator of run restart-1/);
    } finally {
      await queue.resume().catch(() => undefined);
      await queue.close();
    }
    assert.deepEqual(featurizedPartitions(cluster.workers, 'restart-1'), [...Array(12).keys()], 'each partition featurized exactly once');
    assertSameRows(await readRows(path.join(out, 'features')), await readRows(path.join(reference, 'features')), 'features');
    assertSamePca(await readPcaModel(out), await readPcaModel(reference));
  });
});
