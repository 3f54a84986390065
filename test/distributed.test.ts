// Distributed runs: `fruits run --engine distributed` with two `fruits worker` processes on a real
// Redis (password-protected) gives the output of a local run — the same rows in the same parts,
// byte-equal features, the same PCA — leaves nothing in Redis, and never prints the password.
// Also: connection errors, the dashboard (read-only by default) and queue-metrics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'bullmq';
import { errorLines, show, collect } from './helpers/cli.js';
import { miniTestDir } from './helpers/paths.js';
import { runTracked, spawnTracked, taskQueue, useCluster, waitFor } from './helpers/redis.js';
import { assertSamePca, assertSameRows, countRows, readPcaModel, readRows } from './helpers/datasets.js';
import { freePort } from './helpers/free-port.js';
import path from 'node:path';

const PASSWORD = 'pa55:w/rd@s3cret';
const PARTITION = ['--partition-size', '100'];

describe('distributed runs', () => {
  const cluster = useCluster('distributed', { workers: 2, password: PASSWORD });

  it('gives the output of a local run: rows, features byte for byte, PCA; and leaves nothing in Redis', { timeout: 400_000 }, async () => {
    const local = path.join(cluster.dir, 'local');
    const dist = path.join(cluster.dir, 'dist');
    const l = await runTracked(['run', miniTestDir, local, ...PARTITION, '--workers', '2', '--threads', '1', '--json', '--quiet']);
    assert.equal(l.code, 0, show(l));
    const d = await runTracked(['run', miniTestDir, dist, ...PARTITION, '--engine', 'distributed', '--redis', cluster.redis.url, '--run-id', 'same-1', '--json', '--quiet']);
    assert.equal(d.code, 0, show(d));
    const summary = JSON.parse(d.stdout.trim().split('\n').pop()!) as { runId: string; featurize: { rows: number; partitions: number } };
    assert.equal(summary.runId, 'same-1');
    assert.equal(summary.featurize.rows, 1200);
    assert.equal(summary.featurize.partitions, 12);

    assertSameRows(await readRows(path.join(dist, 'features')), await readRows(path.join(local, 'features')), 'features');
    assert.deepEqual(await countRows(path.join(dist, 'features')), { rows: 1200, paths: 1200 });
    assertSamePca(await readPcaModel(dist), await readPcaModel(local));
    assertSameRows(await readRows(path.join(dist, 'reduced')), await readRows(path.join(local, 'reduced')), 'reduced');

    // Both workers took part, and each partition was featurized exactly once.
    const done = cluster.workers.map((w) => [...w.output().matchAll(/featurize partition (\d+): done/g)].map((m) => Number(m[1])));
    assert.ok(done.every((parts) => parts.length > 0), `a worker did nothing: ${JSON.stringify(done)}`);
    assert.deepEqual(done.flat().sort((a, b) => a - b), [...Array(12).keys()]);

    // A finished run removes its jobs: no stale result can stand in for work under this run id.
    const queue = taskQueue(cluster.redis);
    try {
      const counts = await queue.getJobCounts();
      assert.deepEqual(Object.values(counts).filter((n) => n > 0), [], `jobs left in Redis: ${JSON.stringify(counts)}`);
    } finally {
      await queue.close();
    }

    // The password is in every URL given, and in no output.
    for (const text of [d.stdout, d.stderr, ...cluster.workers.map((w) => w.output())]) assert.ok(!text.includes('s3cret'), `the password was printed:\n${text}`);
    assert.match(d.stderr, /distributed run same-1 on redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ \(queue prefix fruits\)/);
  });

  it('says in one line why Redis cannot be used, without the password', async () => {
    const out = path.join(cluster.dir, 'bad');
    const wrong = cluster.redis.url.replace(encodeURIComponent(PASSWORD), 'Wr0ngSecret');
    const r = await runTracked(['run', miniTestDir, out, '--limit', '10', '--engine', 'distributed', '--redis', wrong]);
    assert.equal(r.code, 1, show(r));
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, show(r));
    assert.match(lines[0], /^fruits: error: cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: .*(WRONGPASS|invalid)/i);
    assert.ok(!r.stderr.includes('Wr0ngSecret'));

    const none = await runTracked(['run', miniTestDir, out, '--limit', '10', '--engine', 'distributed'], { env: { FRUITS_REDIS_URL: undefined } });
    assert.equal(none.code, 2, show(none));
    assert.match(none.stderr, /--redis: no Redis URL/);

    const badUrl = await runTracked(['worker', '--redis', 'http://user:Hidden1@host:1']);
    assert.equal(badUrl.code, 2, show(badUrl));
    assert.match(badUrl.stderr, /fruits: error: --redis: invalid Redis URL 'http:\/\/user:\*\*\*@host:1': the scheme must be redis:\/\/ or rediss:\/\//);
    assert.ok(!badUrl.stderr.includes('Hidden1'));

    const badRunId = await runTracked(['run', miniTestDir, out, '--engine', 'distributed', '--redis', cluster.redis.url, '--run-id', 'a:b']);
    assert.equal(badRunId.code, 1, show(badRunId));
    assert.match(badRunId.stderr, /--run-id: invalid value 'a:b'/);
  });

  it('serves the dashboard read-only unless --read-write', async () => {
    for (const readWrite of [false, true]) {
      const port = await freePort();
      const child = spawnTracked(['dashboard', '--redis', cluster.redis.url, '--port', String(port), ...(readWrite ? ['--read-write'] : [])]);
      const result = collect(child);
      let log = '';
      child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      try {
        await waitFor('the dashboard', () => (/ dashboard http:\/\/127\.0\.0\.1:\d+\/ /.test(log) ? true : undefined), 60_000);
        const base = `http://127.0.0.1:${port}`;
        const page = await fetch(`${base}/`);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<html/i);
        const api = (await (await fetch(`${base}/api/queues`)).json()) as { queues: { name: string; readOnlyMode: boolean }[] };
        const tasks = api.queues.find((q) => q.name === 'tasks');
        assert.ok(tasks, JSON.stringify(api.queues.map((q) => q.name)));
        assert.equal(tasks.readOnlyMode, !readWrite);
        // Job ids contain '/' (run/stage/task): the job page must still find them.
        const queue = taskQueue(cluster.redis);
        try {
          await queue.add('featurize partition 0', { type: 'stage', runId: 'dash', stage: 'featurize-1', tasks: 0 }, { jobId: 'dash/featurize-1/barrier', delay: 3_600_000 });
          const job = await fetch(`${base}/api/queues/tasks/${encodeURIComponent('dash/featurize-1/barrier')}`);
          assert.equal(job.status, 200, await job.clone().text());
          assert.equal(((await job.json()) as { job: { id: string } }).job.id, 'dash/featurize-1/barrier');
        } finally {
          await (await queue.getJob('dash/featurize-1/barrier'))?.remove();
          await queue.close();
        }
        const pause = await fetch(`${base}/api/queues/tasks/pause`, { method: 'PUT' });
        assert.equal(pause.status, readWrite ? 200 : 405, await pause.text());
        if (readWrite) assert.equal((await fetch(`${base}/api/queues/tasks/resume`, { method: 'PUT' })).status, 200);
        assert.ok(!log.includes('s3cret'));
      } finally {
        child.kill('SIGTERM');
        const r = await result;
        assert.equal(r.code, 0, show(r));
      }
    }
  });

  it('queue-metrics publishes waiting + active jobs as QueueDepth and ActiveJobs (--dry-run)', async () => {
    const prefix = 'metrics-test';
    const queue = taskQueue(cluster.redis, prefix);
    const taker = new Worker('tasks', null, { connection: { host: '127.0.0.1', port: cluster.redis.port, password: PASSWORD, maxRetriesPerRequest: null }, prefix, autorun: false });
    try {
      for (let i = 0; i < 4; i++) await queue.add('staged', { i });
      await taker.getNextJob('test-token'); // one of the four becomes active
      const r = await runTracked(['queue-metrics', '--redis', cluster.redis.url, '--prefix', prefix, '--namespace', 'Fruits', '--once', '--dry-run']);
      assert.equal(r.code, 0, show(r));
      const sent = JSON.parse(r.stdout.trim()) as { Namespace: string; MetricData: { MetricName: string; Value: number; Unit: string }[] };
      assert.equal(sent.Namespace, 'Fruits');
      assert.deepEqual(
        sent.MetricData.map((m) => [m.MetricName, m.Value, m.Unit]),
        [
          ['QueueDepth', 4, 'Count'],
          ['ActiveJobs', 1, 'Count'],
        ],
      );
      const bad = await runTracked(['queue-metrics', '--redis', cluster.redis.url, '--namespace', 'AWS/ECS', '--once', '--dry-run']);
      assert.equal(bad.code, 2, show(bad));
    } finally {
      await taker.close(true);
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
