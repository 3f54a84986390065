// Chaos: workers SIGKILLed at random moments while they featurize a partition (replacements are
// started, as an autoscaler would). BullMQ's stalled-job check hands each interrupted task to
// another worker, and the output still holds every image exactly once.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { QueueEvents, type Queue } from 'bullmq';
import { collect, show } from './helpers/cli.js';
import { miniTestClasses, miniTestDir, miniTestImages } from './helpers/paths.js';
import { spawnTracked, startWorker, stopWorkers, taskQueue, useCluster, waitFor, type RedisServer, type WorkerProcess } from './helpers/redis.js';
import { countRows } from './helpers/datasets.js';
import { lit, query } from './helpers/duckdb.js';

const IMAGES = 800;
const RUN_ID = 'chaos-1';
// One job may stall maxStalledCount (3) times before it fails: three kills can never fail the run,
// even if all three hit the same partition.
const KILLS = 3;

/** The task queue, and the ids of the jobs BullMQ reports stalled (a dead worker's) from now on. */
async function watchQueue(redis: RedisServer): Promise<{ queue: Queue; stalled: string[]; close: () => Promise<void> }> {
  const queue = taskQueue(redis);
  const events = new QueueEvents('tasks', { connection: { host: '127.0.0.1', port: redis.port, password: redis.password, maxRetriesPerRequest: null }, prefix: 'fruits' });
  const stalled: string[] = [];
  events.on('stalled', ({ jobId }) => stalled.push(jobId));
  await events.waitUntilReady();
  return {
    queue,
    stalled,
    close: async () => {
      await events.close();
      await queue.close();
    },
  };
}

describe('distributed workers that die or are stopped', () => {
  const cluster = useCluster('chaos', { workers: 3 });

  it('re-runs the tasks of killed workers elsewhere: every image exactly once', { timeout: 300_000 }, async () => {
    const out = path.join(cluster.dir, 'out');
    const { queue, stalled, close } = await watchQueue(cluster.redis);
    const coordinator = spawnTracked(['run', miniTestDir, out, '--limit', String(IMAGES), '--partition-size', '100', '--engine', 'distributed', '--redis', cluster.redis.url, '--run-id', RUN_ID, '--json', '--quiet']);
    const result = collect(coordinator);
    let finished = false;
    void result.then(() => (finished = true));
    const kills: { pid: number; job: string; progress: number }[] = [];
    try {
      while (kills.length < KILLS && !finished) {
        await new Promise((r) => setTimeout(r, 500 + Math.random() * 3000));
        // A worker in the middle of a partition: its job is active and has reported some images.
        const victim = await waitFor(
          'a worker in the middle of a partition',
          async () => {
            if (finished) return null;
            // Early in its partition (< 60 of 100 images): a partition takes well under a second,
            // and a worker picked near its end could finish the task before the signal lands.
            const active = (await queue.getActive()).filter((j) => j.id?.startsWith(`${RUN_ID}/featurize-`) && typeof j.progress === 'number' && j.progress > 0 && j.progress < 60);
            const pick = active[Math.floor(Math.random() * active.length)];
            const worker = pick && cluster.workers.find((w) => pick.processedBy?.endsWith(`:${w.pid}`) && w.child.exitCode === null && w.child.signalCode === null);
            return worker ? { worker, job: pick.id!, progress: pick.progress as number } : undefined;
          },
          180_000,
        );
        if (!victim) break;
        victim.worker.child.kill('SIGKILL');
        await victim.worker.exited;
        await new Promise((r) => setTimeout(r, 200)); // any command it sent before dying has landed
        // A task the victim completed just before the signal was not interrupted: not a kill to count.
        const job = await queue.getJob(victim.job);
        if (!job?.finishedOn) kills.push({ pid: victim.worker.pid, job: victim.job, progress: victim.progress });
        const replacement = startWorker(cluster.redis.url);
        cluster.workers.push(replacement);
        await replacement.ready;
      }
      const r = await result;
      assert.equal(r.code, 0, show(r));
      assert.equal(kills.length, KILLS, `only ${kills.length} kills happened before the run ended: ${JSON.stringify(kills)}`);

      // Every killed task came back through BullMQ's stalled-job check.
      for (const k of kills) assert.ok(stalled.includes(k.job), `${k.job} (killed at ${k.progress} images) never stalled: ${JSON.stringify(stalled)}`);

      const features = path.join(out, 'features');
      assert.deepEqual(await countRows(features), { rows: IMAGES, paths: IMAGES });
      const expected: string[] = [];
      for (const c of await miniTestClasses()) for (const f of await miniTestImages(c)) expected.push(`${c}/${f}`);
      expected.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))); // the listing's order: byte-wise by path
      const paths = (await query<{ path: string }>(`SELECT path FROM read_parquet(${lit(path.join(features, 'part-*.parquet'))}, filename = true, file_row_number = true) ORDER BY filename, file_row_number`)).map((x) => x.path);
      assert.deepEqual(paths, expected.slice(0, IMAGES), 'the first 800 images of the listing, in order, each once');
      const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { featurize: { rows: number }; transform: { rows: number } };
      assert.equal(summary.featurize.rows, IMAGES);
      assert.equal(summary.transform.rows, IMAGES);
    } finally {
      await close();
    }
  });

  it('lets a worker finish its task on SIGTERM, and hand it back at once on a second signal', { timeout: 300_000 }, async () => {
    await stopWorkers(cluster.workers.splice(0)); // idle workers stop at once on SIGTERM
    const out = path.join(cluster.dir, 'term');
    const { queue, stalled, close } = await watchQueue(cluster.redis);
    const result = collect(spawnTracked(['run', miniTestDir, out, '--limit', '300', '--partition-size', '100', '--engine', 'distributed', '--redis', cluster.redis.url, '--run-id', 'term-1', '--json', '--quiet']));
    const busy = (w: WorkerProcess) =>
      waitFor('a worker in the middle of a partition', async () => {
        const job = (await queue.getActive()).find((j) => j.processedBy?.endsWith(`:${w.pid}`) && typeof j.progress === 'number' && j.progress > 0 && j.progress < 100);
        return job?.id;
      });
    try {
      const finisher = startWorker(cluster.redis.url);
      cluster.workers.push(finisher);
      const finished = await busy(finisher);
      finisher.child.kill('SIGTERM');
      const f = await finisher.exited;
      assert.equal(f.code, 0, finisher.output());
      assert.match(finisher.output(), /SIGTERM: stopping; finishing 1 running task/);
      const partition = Number(/featurize-(\d+)$/.exec(finished)![1]);
      assert.match(finisher.output(), new RegExp(`featurize partition ${partition}: done`));

      const releaser = startWorker(cluster.redis.url);
      cluster.workers.push(releaser);
      const released = await busy(releaser);
      releaser.child.kill('SIGTERM');
      await waitFor('the first signal to be handled', () => (/SIGTERM: stopping/.test(releaser.output()) ? true : undefined), 30_000);
      releaser.child.kill('SIGTERM');
      const rl = await releaser.exited;
      assert.equal(rl.code, 0, releaser.output());
      assert.match(releaser.output(), /SIGTERM again: handed 1 running task back to the queue/);
      assert.equal(await queue.getJobState(released), 'waiting', 'the task is back in the queue, for the next worker');

      const last = startWorker(cluster.redis.url);
      cluster.workers.push(last);
      const r = await result;
      assert.equal(r.code, 0, show(r));
      assert.deepEqual(stalled, [], 'nothing was left to the stalled-job check');
      assert.deepEqual(await countRows(path.join(out, 'features')), { rows: 300, paths: 300 });
    } finally {
      await close();
    }
  });
});
