// A task that fails because of its data (here a NaN feature, a UserError) or of a damaged file of
// ours (a corrupt statistics file, a PermanentError) fails the run at once, on both runners, since
// every attempt would fail the same way; a task that may succeed when run again (here a part file
// not there yet, a storage error) gets all its attempts first.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRunner } from '../src/runner/distributed/coordinator.js';
import { startWorker, type RunningWorker } from '../src/runner/distributed/worker.js';
import { LocalRunner } from '../src/runner/local.js';
import { TaskFailedError, type Runner } from '../src/runner/runner.js';
import type { Task } from '../src/tasks/index.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../src/util/logger.js';
import { tempDir } from './helpers/paths.js';
import { startRedis, type RedisServer } from './helpers/redis.js';
import { statsTask, writeTinyPart } from './helpers/tiny-part.js';

const ATTEMPTS = 3;

async function failure(runner: Runner, task: Task): Promise<TaskFailedError> {
  try {
    await runner.run([task]);
  } catch (err) {
    assert.ok(err instanceof TaskFailedError, `a TaskFailedError, got ${String(err)}`);
    return err;
  }
  assert.fail('the run should have failed');
}

function checkFailures(runner: () => Runner, root: () => string): void {
  it('a NaN feature fails the run after one attempt, naming the row', async () => {
    const err = await failure(runner(), statsTask(root(), 'part-00000.parquet', 1));
    assert.equal(err.attempts, 1, err.message);
    assert.match(err.message, /failed after 1 attempt: non-finite feature value NaN in row 1 \(part-00000\.parquet row 1: Apple\/b\.jpg\) at feature 2$/);
  });

  it('a corrupt statistics file fails the run after one attempt', async () => {
    const err = await failure(runner(), { kind: 'merge-stats', store: path.join(root(), 'pca'), inputs: ['_stats/corrupt.bin'], file: '_stats/merged.bin' });
    assert.equal(err.attempts, 1, err.message);
    assert.match(err.message, /_stats\/corrupt\.bin/);
  });

  it('a missing part file (storage) gets every attempt', async () => {
    const err = await failure(runner(), statsTask(root(), 'part-00009.parquet', 2));
    assert.equal(err.attempts, ATTEMPTS, err.message);
    assert.match(err.message, /part-00009\.parquet/);
  });
}

describe('task failures: no retries for errors of the data', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir('task-failures');
    await writeTinyPart(tmp.dir, { row: 1, feature: 2 }); // the second row: Apple/b.jpg
    await fs.mkdir(path.join(tmp.dir, 'pca', '_stats'), { recursive: true });
    await fs.writeFile(path.join(tmp.dir, 'pca', '_stats', 'corrupt.bin'), Buffer.alloc(4096, 7));
  });
  after(async () => {
    await tmp?.cleanup();
  });

  describe('local runner', () => {
    let runner: LocalRunner;
    before(() => {
      runner = new LocalRunner({ workers: 1, threadsPerWorker: 1, attempts: ATTEMPTS });
    });
    after(async () => {
      await runner?.close();
    });
    checkFailures(
      () => runner,
      () => tmp.dir,
    );
  });

  describe('distributed runner (real Redis, a worker in this process)', () => {
    let redis: RedisServer;
    let worker: RunningWorker;
    let runner: DistributedRunner;
    before(async () => {
      redis = await startRedis();
      worker = await startWorker({ redisUrl: redis.url, threads: 1, log: createLogger({ level: 'silent' }) });
      runner = new DistributedRunner({ redisUrl: redis.url, runId: 'failures-1', retry: { attempts: ATTEMPTS, backoffMs: 10 } });
    });
    after(async () => {
      await runner?.close();
      await worker?.close();
      await redis?.stop();
    });
    checkFailures(
      () => runner,
      () => tmp.dir,
    );
  });
});
