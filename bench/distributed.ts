// Distributed benchmark, on a real Redis:
//  - BullMQ's cost per task: many merge-stats tasks of one tiny statistics file (the cheapest
//    real task) through the real flow (DistributedRunner → Redis → the real worker module, one
//    job at a time), minus the same task's own time run directly; and the fixed cost of a stage;
//  - next to it, the compute time of one featurize partition at the default partition size;
//  - featurize throughput with one `fruits worker` process and with two (one ONNX Runtime
//    thread each) on the same data.
// Run alone: `node dist/bench/distributed.js` (after `npm run build`).
import { promises as fs, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DistributedRunner } from '../src/runner/distributed/coordinator.js';
import { startWorker as startWorkerInProcess } from '../src/runner/distributed/worker.js';
import { createTaskContext } from '../src/tasks/context.js';
import { runTask, type Task } from '../src/tasks/index.js';
import { accumulate, createStats, encodeStats } from '../src/stats/index.js';
import { featurizeJob } from '../src/pipeline/featurize.js';
import { resolveModel } from '../src/model/resolve.js';
import { openStore } from '../src/storage/open.js';
import { createProgress } from '../src/util/progress.js';
import { createLogger } from '../src/util/logger.js';
import { DEFAULT_MAX_PIXELS } from '../src/decode/decode.js';
import { startRedis, startWorker, stopWorkers, type RedisServer } from '../test/helpers/redis.js';
import { modelDir, repeatedDataset, table } from './util.js';

const PARTITION = 1024; // the CLI's default partition size
/** Warm-up: two small partitions per worker, so that each worker very likely runs one. */
const WARMUP_PARTITION = 8;

async function tinyStatsFile(dir: string): Promise<string> {
  const dim = 8;
  const stats = createStats(dim);
  const rows = Float32Array.from({ length: 16 * dim }, (_, i) => Math.sin(i));
  await accumulate(stats, rows, 16);
  await fs.writeFile(path.join(dir, 'tiny.bin'), encodeStats(stats));
  return 'tiny.bin';
}

/** Per-task and per-stage cost of the queue, with an in-process worker (concurrency 1). */
async function queueOverhead(redis: RedisServer, dir: string, tasks: number) {
  const input = await tinyStatsFile(dir);
  const merge = (i: number): Task => ({ kind: 'merge-stats', store: dir, inputs: [input], file: `m/${String(i).padStart(5, '0')}.bin` });
  const log = createLogger({ level: 'warn' });

  // The task alone, warm, in this process.
  const ctx = createTaskContext({ threads: 1, device: 'cpu' });
  for (let i = 0; i < 20; i++) await runTask(merge(i), ctx);
  let t0 = performance.now();
  for (let i = 0; i < tasks; i++) await runTask(merge(i), ctx);
  const taskMs = (performance.now() - t0) / tasks;

  const worker = await startWorkerInProcess({ redisUrl: redis.url, prefix: 'bench', concurrency: 1, threads: 1, log, progressEveryMs: 250 });
  const runner = new DistributedRunner({ redisUrl: redis.url, prefix: 'bench', runId: 'bench-overhead', log });
  try {
    await runner.run([merge(0)]); // connections, scripts, warm-up
    t0 = performance.now();
    await runner.run([merge(1)]);
    const oneTaskStageMs = performance.now() - t0;
    t0 = performance.now();
    await runner.run(Array.from({ length: tasks }, (_, i) => merge(i)));
    const stageMs = performance.now() - t0;
    return {
      taskMs,
      perTaskOverheadMs: (stageMs - oneTaskStageMs) / (tasks - 1) - taskMs,
      stageOverheadMs: oneTaskStageMs - taskMs,
    };
  } finally {
    await runner.close();
    await worker.close();
  }
}

/** CPU time (user + system) a process has used so far, from /proc (Linux; clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** One featurize job through the distributed runner (the coordinator side, in this process). */
async function featurizeVia(redis: RedisServer, data: string, out: string, runId: string, partitionSize: number) {
  const log = createLogger({ level: 'warn' });
  const runner = new DistributedRunner({ redisUrl: redis.url, prefix: 'bench', runId, log });
  try {
    return await featurizeJob({
      input: openStore(data),
      output: openStore(out),
      model: await resolveModel({}),
      batchSize: 16,
      partitionSize,
      maxPixels: DEFAULT_MAX_PIXELS,
      overwrite: true,
      runner,
      progress: createProgress({ unit: 'images', quiet: true }),
      log,
    });
  } finally {
    await runner.close();
  }
}

/**
 * The featurize stage of `images` images through `workers` `fruits worker` processes, in steady
 * state: a warm-up job first gives every worker a task, so that each has loaded its model before
 * the clock starts (a fixed cost that would otherwise weigh twice as much in the shorter run).
 */
async function featurizeThroughput(redis: RedisServer, data: string, workers: number, runId: string, pin: boolean, warmup: string) {
  const procs = Array.from({ length: workers }, () => startWorker(redis.url, ['--threads', '1', '--prefix', 'bench']));
  await Promise.all(procs.map((w) => w.ready));
  // Pinned: worker i on core i (all its threads, and those it starts later), so that one worker
  // cannot borrow a second core for decoding while it runs alone: the same CPU budget per worker.
  if (pin) procs.forEach((w, i) => execFileSync('taskset', ['-a', '-p', '-c', String(i % os.availableParallelism()), String(w.pid)], { stdio: 'ignore' }));
  const out = path.join(os.tmpdir(), `fruits-bench-dist-${runId}`);
  try {
    await featurizeVia(redis, warmup, `${out}-warmup`, `${runId}-warmup`, WARMUP_PARTITION);
    const tasksDone = () => procs.map((w) => (w.output().match(/featurize partition \d+: done/g) ?? []).length);
    const before = tasksDone();
    const warmed = before.filter((n) => n > 0).length;
    const cpuAtStart = procs.reduce((sum, w) => sum + cpuSecondsOf(w.pid), 0); // start-up and warm-up excluded
    const s = await featurizeVia(redis, data, out, runId, PARTITION);
    const cpuSeconds = procs.reduce((sum, w) => sum + cpuSecondsOf(w.pid), 0) - cpuAtStart;
    const perWorker = tasksDone()
      .map((n, i) => n - before[i])
      .join(',');
    const sidecars = await fs.readdir(path.join(out, '_parts'));
    const partitionSeconds = await Promise.all(sidecars.map(async (n) => (JSON.parse(await fs.readFile(path.join(out, '_parts', n), 'utf8')) as { rows: number; seconds: { total: number } })));
    const full = partitionSeconds.filter((p) => p.rows === PARTITION).map((p) => p.seconds.total);
    return { imagesPerSecond: s.rows / s.seconds, seconds: s.seconds, partitionSeconds: full.length ? Math.min(...full) : NaN, coresUsed: cpuSeconds / s.seconds, imagesPerCpuSecond: s.rows / cpuSeconds, perWorker, warmed };
  } finally {
    await stopWorkers(procs);
    await fs.rm(out, { recursive: true, force: true });
    await fs.rm(`${out}-warmup`, { recursive: true, force: true });
  }
}

export async function benchDistributed(opts: { overheadTasks?: number; images?: number } = {}): Promise<Record<string, number | string>> {
  process.env.FRUITS_MODEL_DIR ??= modelDir;
  const images = opts.images ?? 4 * PARTITION; // two partitions per worker with two workers
  const redis = await startRedis();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-bench-queue-'));
  try {
    const q = await queueOverhead(redis, dir, opts.overheadTasks ?? 200);
    const data = await repeatedDataset(images);
    const warmup = await repeatedDataset(4 * WARMUP_PARTITION);
    const one = await featurizeThroughput(redis, data, 1, 'bench-1w', false, warmup);
    const two = await featurizeThroughput(redis, data, 2, 'bench-2w', false, warmup);
    const canPin = (() => {
      try {
        execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    const onePinned = canPin ? await featurizeThroughput(redis, data, 1, 'bench-1w-pinned', true, warmup) : undefined;
    const twoPinned = canPin ? await featurizeThroughput(redis, data, 2, 'bench-2w-pinned', true, warmup) : undefined;
    const pinnedSpeedup = onePinned && twoPinned ? twoPinned.imagesPerSecond / onePinned.imagesPerSecond : NaN;
    const partitionMs = Math.min(one.partitionSeconds, two.partitionSeconds) * 1000;
    const speedup = two.imagesPerSecond / one.imagesPerSecond;
    return {
      'queue: task alone (merge-stats of a tiny file), ms': q.taskMs,
      'queue: overhead per task, ms': q.perTaskOverheadMs,
      'queue: overhead per stage (flow, barrier, cleanup), ms': q.stageOverheadMs,
      [`featurize: compute of one ${PARTITION}-image partition (1 thread), ms`]: partitionMs,
      'overhead per task / partition compute, %': (100 * q.perTaskOverheadMs) / partitionMs,
      'overhead per task + stage / partition compute, %': (100 * (q.perTaskOverheadMs + q.stageOverheadMs)) / partitionMs,
      images,
      'featurize: 1 worker, images/s': one.imagesPerSecond,
      'featurize: 2 workers, images/s': two.imagesPerSecond,
      'speedup 2 workers / 1': speedup,
      // On a shared machine the second core may be busy with other work: these say how much CPU
      // the workers got, and how much work each CPU-second did (flat when scaling is not the limit).
      'featurize: 1 worker, cores used': one.coresUsed,
      'featurize: 2 workers, cores used': two.coresUsed,
      'featurize: 2 workers, partitions done by each': two.perWorker,
      'featurize: 2 workers, warmed up before timing': two.warmed,
      'featurize pinned (1 core per worker): 1 worker, images/s': onePinned?.imagesPerSecond ?? NaN,
      'featurize pinned (1 core per worker): 2 workers, images/s': twoPinned?.imagesPerSecond ?? NaN,
      'speedup pinned 2 workers / 1': pinnedSpeedup,
      'featurize: 1 worker, images per CPU-second': one.imagesPerCpuSecond,
      'featurize: 2 workers, images per CPU-second': two.imagesPerCpuSecond,
      targets: `overhead < 1 % of a partition: ${(100 * q.perTaskOverheadMs) / partitionMs < 1 ? 'met' : 'missed'}; 2 workers ≥ 1.8×: ${speedup >= 1.8 ? 'met' : 'missed'} (pinned: ${pinnedSpeedup >= 1.8 ? 'met' : 'missed'})`,
      cores: os.availableParallelism(),
      'load average (1 min) at the end': os.loadavg()[0],
    };
  } finally {
    await redis.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchDistributed();
  console.log(table(Object.entries(r)));
  console.log(JSON.stringify(r));
}
