// The local runner's worker processes: their environment sizes the libuv pool (file reads and
// sharp decodes) to the worker's share of the cores, unless the user set UV_THREADPOOL_SIZE.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LocalRunner, workerEnv } from '../src/runner/local.js';
import { tempDir } from './helpers/paths.js';
import { statsTask, writeTinyPart } from './helpers/tiny-part.js';

/** The environment of each live child process of this one, read from /proc. */
async function childEnvs(): Promise<Record<string, string>[]> {
  const envs: Record<string, string>[] = [];
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // Field 4 (after the parenthesised command name) is the parent pid.
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
    const raw = await fs.readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    envs.push(Object.fromEntries(raw.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
  }
  return envs;
}

describe('local runner worker processes', () => {
  it('get one libuv thread per ORT thread, the device, and keep a UV_THREADPOOL_SIZE of the user', () => {
    const base = { PATH: '/usr/bin' };
    assert.deepEqual(workerEnv({ workers: 2, threadsPerWorker: 1 }, base), { PATH: '/usr/bin', FRUITS_WORKER_THREADS: '1', UV_THREADPOOL_SIZE: '1', FRUITS_DEVICE: 'cpu' });
    assert.equal(workerEnv({ workers: 1, threadsPerWorker: 4, device: 'cuda' }, base).UV_THREADPOOL_SIZE, '4');
    assert.equal(workerEnv({ workers: 2, threadsPerWorker: 1 }, { ...base, UV_THREADPOOL_SIZE: '8' }).UV_THREADPOOL_SIZE, '8');
  });

  describe('a real pool', () => {
    let tmp: { dir: string; cleanup: () => Promise<void> };
    let runner: LocalRunner;
    before(async () => {
      tmp = await tempDir('local-runner');
      await writeTinyPart(tmp.dir);
      runner = new LocalRunner({ workers: 2, threadsPerWorker: 1 });
    });
    after(async () => {
      await runner?.close();
      await tmp?.cleanup();
    });

    it('runs its workers with that environment', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
      const saved = process.env.UV_THREADPOOL_SIZE;
      delete process.env.UV_THREADPOOL_SIZE;
      try {
        // A statistics task starts the pool (it lives until close()).
        await runner.run([statsTask(tmp.dir, 'part-00000.parquet', 1)]);
      } finally {
        if (saved !== undefined) process.env.UV_THREADPOOL_SIZE = saved;
      }
      const workers = (await childEnvs()).filter((e) => e.FRUITS_WORKER_THREADS !== undefined);
      assert.equal(workers.length, 2, JSON.stringify(workers.map((e) => e.FRUITS_WORKER_THREADS)));
      for (const e of workers) assert.deepEqual([e.UV_THREADPOOL_SIZE, e.FRUITS_DEVICE], ['1', 'cpu']);
    });
  });
});
