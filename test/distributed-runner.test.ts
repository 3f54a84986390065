// The distributed runner's coordinator logic against a real Redis, with a stand-in worker in this
// process (so no model is needed): results and progress, a task failing all its attempts, a run
// id reused for other work, --overwrite's fresh start; and the Redis URL handling.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker, type Job } from 'bullmq';
import { DistributedRunner } from '../src/runner/distributed/coordinator.js';
import { parseRedisUrl, redactRedisUrl } from '../src/runner/distributed/redis-url.js';
import { checkRunId, jobId, taskKey, type JobData } from '../src/runner/distributed/jobs.js';
import { TaskFailedError } from '../src/runner/runner.js';
import type { StatsTask } from '../src/tasks/statistics.js';
import type { Task, TaskResult } from '../src/tasks/index.js';
import { startRedis, taskQueue, waitFor, type RedisServer } from './helpers/redis.js';

const statsTask = (i: number, parts = ['part-00000.parquet']): StatsTask => ({ kind: 'stats', features: '/data/features', parts, output: '/data/pca', file: `_stats/g-${String(i).padStart(5, '0')}.bin` });

describe('distributed runner (coordinator)', () => {
  let redis: RedisServer;
  let worker: Worker<JobData>;
  const seen: string[] = [];

  before(async () => {
    redis = await startRedis();
    // Stands in for `fruits worker`: reports progress 3, then 1 (a restarted attempt), then 5.
    worker = new Worker<JobData>(
      'tasks',
      async (job: Job<JobData>) => {
        if (job.data.type === 'stage') return { stage: job.data.stage, tasks: job.data.tasks };
        seen.push(job.id!);
        const task = job.data.task as StatsTask;
        if (task.parts.includes('poison.parquet')) throw new Error(`boom in ${task.file}`);
        for (const p of [3, 1, 5]) await job.updateProgress(p);
        return { kind: 'stats', file: task.file, rows: 7, dim: 2, seconds: 0 } satisfies TaskResult;
      },
      { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: 'fruits', concurrency: 2 },
    );
    await worker.waitUntilReady();
  });

  after(async () => {
    await worker?.close();
    await redis?.stop();
  });

  it('runs a stage as a flow: every result once, progress counted by growth only, nothing left in Redis', async () => {
    const runner = new DistributedRunner({ redisUrl: redis.url, runId: 'unit-1' });
    let progress = 0;
    const results: string[] = [];
    try {
      const out = await runner.run([statsTask(0), statsTask(1), statsTask(2)], {
        onProgress: (n) => (progress += n),
        onResult: (r, t) => void results.push(`${(r as { file: string }).file}<-${(t as StatsTask).file}`),
      });
      assert.deepEqual(out.map((r) => (r as { file: string }).file).sort(), ['_stats/g-00000.bin', '_stats/g-00001.bin', '_stats/g-00002.bin']);
      assert.deepEqual(results.sort(), ['_stats/g-00000.bin<-_stats/g-00000.bin', '_stats/g-00001.bin<-_stats/g-00001.bin', '_stats/g-00002.bin<-_stats/g-00002.bin']);
      assert.equal(progress, 15, 'each task reported 3, then 1 (no growth), then 5: 5 items each');
      assert.ok(seen.includes('unit-1/stats-1/stats-g-00001'), JSON.stringify(seen));
      // A second stage of the same kind gets the next stage number.
      await runner.run([statsTask(0)]);
      assert.ok(seen.includes('unit-1/stats-2/stats-g-00000'), JSON.stringify(seen));
    } finally {
      await runner.close();
    }
    const queue = taskQueue(redis);
    try {
      const counts = await queue.getJobCounts();
      assert.deepEqual(Object.values(counts).filter((n) => n > 0), [], JSON.stringify(counts));
    } finally {
      await queue.close();
    }
  });

  it('fails the run with the task named when it fails all its attempts; the failed job stays for inspection', async () => {
    const runner = new DistributedRunner({ redisUrl: redis.url, runId: 'unit-2', retry: { attempts: 2, backoffMs: 10 } });
    try {
      await assert.rejects(
        runner.run([statsTask(0), statsTask(1, ['poison.parquet'])]),
        (err: unknown) => {
          assert.ok(err instanceof TaskFailedError, String(err));
          assert.equal(err.message, 'statistics of 1 parts → _stats/g-00001.bin failed after 2 attempts: boom in _stats/g-00001.bin');
          return true;
        },
      );
    } finally {
      await runner.close();
    }
    assert.equal(seen.filter((id) => id === 'unit-2/stats-1/stats-g-00001').length, 2, 'two attempts');
    const queue = taskQueue(redis);
    try {
      assert.equal(await queue.getJobState('unit-2/stats-1/stats-g-00001'), 'failed');
    } finally {
      await queue.close();
    }
  });

  it('refuses a run id that Redis holds for other work; --overwrite (fresh) removes the earlier jobs first', async () => {
    // A prefix no worker listens to: the first run's task stays queued.
    const prefix = 'idle';
    const first = new DistributedRunner({ redisUrl: redis.url, runId: 'unit-3', prefix });
    const pending = first.run([statsTask(0, ['a.parquet'])]);
    pending.catch(() => undefined);
    const queue = taskQueue(redis, prefix);
    const id = jobId('unit-3', 'stats-1', taskKey(statsTask(0)));
    try {
      await waitFor('the first task in the queue', async () => ((await queue.getJob(id)) ? true : undefined), 30_000);
      const other = new DistributedRunner({ redisUrl: redis.url, runId: 'unit-3', prefix });
      try {
        await assert.rejects(other.run([statsTask(0, ['b.parquet'])]), /run id unit-3 is already used in Redis for other work \(job unit-3\/stats-1\/stats-g-00000 holds another task\)/);
      } finally {
        await other.close();
      }
      const fresh = new DistributedRunner({ redisUrl: redis.url, runId: 'unit-3', prefix, fresh: true });
      try {
        void fresh.run([statsTask(0, ['b.parquet'])]).catch(() => undefined);
        await waitFor('the new task in place of the old one', async () => {
          const job = await queue.getJob(id);
          return ((job?.data as JobData | undefined)?.type === 'task' && ((job!.data as { task: Task }).task as StatsTask).parts[0] === 'b.parquet') || undefined;
        });
      } finally {
        await fresh.close();
      }
    } finally {
      await first.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('fails the run, instead of hanging, when Redis stays unreachable too long', async () => {
    const lonely = await startRedis();
    const runner = new DistributedRunner({ redisUrl: lonely.url, runId: 'unit-4', prefix: 'idle', redisTimeoutMs: 2000 });
    try {
      const pending = runner.run([statsTask(0)]);
      pending.catch(() => undefined);
      const queue = taskQueue(lonely, 'idle');
      await waitFor('the task in the queue', async () => ((await queue.getWaitingCount()) > 0 ? true : undefined), 30_000);
      await queue.close();
      await lonely.stop();
      await assert.rejects(pending, /^UserError: lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+ for more than 2 s; rerun with --run-id unit-4 to resume$/);
    } finally {
      await runner.close();
      await lonely.stop();
    }
  });

  it('parses Redis URLs (TLS, user, password, database) and never shows the password', () => {
    assert.deepEqual(parseRedisUrl('rediss://default:p%40ss%3Aw0rd@cache.example.com:6380/2'), {
      host: 'cache.example.com',
      port: 6380,
      db: 2,
      username: 'default',
      password: 'p@ss:w0rd',
      tls: true,
    });
    assert.deepEqual(parseRedisUrl('redis://[::1]'), { host: '::1', port: 6379, db: 0, username: undefined, password: undefined, tls: false });
    assert.equal(redactRedisUrl('rediss://default:p%40ss@cache.example.com:6380/2'), 'rediss://default:***@cache.example.com:6380/2');
    assert.equal(redactRedisUrl('redis://:secret@h:1'), 'redis://:***@h:1');
    assert.equal(redactRedisUrl('redis://h:1'), 'redis://h:1');
    assert.equal(redactRedisUrl('not a url //user:secret@host'), 'not a url //***@host');
    assert.throws(() => parseRedisUrl('redis://:secret@h:1/db'), (e: Error) => /path must be a database number/.test(e.message) && !e.message.includes('secret'));
    assert.throws(() => parseRedisUrl('http://h'), /scheme must be redis:\/\/ or rediss:\/\//);
    for (const bad of ['a:b', 'a/b', '', '-x']) assert.throws(() => checkRunId(bad), /--run-id: invalid value/);
    assert.equal(checkRunId('fruits360-20261124T034800Z'), 'fruits360-20261124T034800Z');
  });
});
