// A distributed worker: a BullMQ Worker whose processor is runTask(), the very function the local
// runner's worker processes call, with a context from createTaskContext (one model session per
// slot, created once and kept). Stateless: start as many as you like, on any machine that reaches
// Redis and the storage.
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { decodeOneImagePerThread } from '../../decode/decode.js';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { createTaskContext, type TaskContext } from '../../tasks/context.js';
import { describeTask } from '../../tasks/describe.js';
import { runTask } from '../../tasks/index.js';
import type { Device } from '../../model/device.js';
import type { Logger } from '../../util/logger.js';
import { errorMessage, isRetryable } from '../../util/errors.js';
import { connectRedis } from './redis-connection.js';
import { redactRedisUrl } from './redis-url.js';
import { DEFAULT_PREFIX, QUEUE, WORKER_SETTINGS, checkPrefix, type JobData, type JobResult } from './jobs.js';

export interface WorkerOptions {
  redisUrl: string;
  prefix?: string;
  /** Jobs run at once by this process (default 1). */
  concurrency?: number;
  /** ONNX Runtime threads per job slot (default cores / concurrency). */
  threads?: number;
  device?: Device;
  log: Logger;
  /** How often progress is written to Redis at most (ms). */
  progressEveryMs?: number;
}

/** One job slot: its own task context (so its own model session) and progress counter. */
interface Slot {
  ctx: TaskContext;
  job?: Job<JobData, JobResult>;
  items: number;
  sent: number;
  timer?: NodeJS.Timeout;
}

export interface RunningWorker {
  readonly name: string;
  readonly concurrency: number;
  readonly threads: number;
  /** Jobs being processed now. */
  active(): number;
  /** Stops taking jobs and waits for the running ones to finish. */
  drain(): Promise<void>;
  /** Hands the running jobs back to the queue at once (another worker starts them over). */
  release(): Promise<number>;
  close(): Promise<void>;
}

export function defaultThreads(concurrency: number, cores = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / concurrency));
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const concurrency = opts.concurrency ?? 1;
  const threads = opts.threads ?? defaultThreads(concurrency);
  const prefix = checkPrefix(opts.prefix ?? DEFAULT_PREFIX);
  const { log } = opts;
  const where = redactRedisUrl(opts.redisUrl);
  const progressEveryMs = opts.progressEveryMs ?? 250;
  decodeOneImagePerThread();

  const client: Redis = await connectRedis(opts.redisUrl, 'worker');
  const name = `${os.hostname()}:${process.pid}`;
  const running = new Map<string, { job: Job<JobData, JobResult>; token?: string }>();
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();

  const slots: Slot[] = [];
  for (let i = 0; i < concurrency; i++) {
    const slot: Slot = { ctx: undefined as unknown as TaskContext, items: 0, sent: 0 };
    slot.ctx = createTaskContext({ threads, device: opts.device ?? 'cpu' }, (items) => {
      slot.items += items;
      slot.timer ??= setTimeout(() => void flush(slot), progressEveryMs);
    });
    slots.push(slot);
  }

  // Progress is the number of items done in this attempt; the coordinator reports only growth.
  async function flush(slot: Slot): Promise<void> {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const job = slot.job;
    if (!job || slot.items === slot.sent) return;
    slot.sent = slot.items;
    await job.updateProgress(slot.items).catch(() => undefined);
  }

  async function processJob(job: Job<JobData, JobResult>, token?: string): Promise<JobResult> {
    const data = job.data;
    // The barrier of a stage becomes runnable once all its tasks are done: nothing left to do.
    if (data.type === 'stage') return { stage: data.stage, tasks: data.tasks };
    const slot = slots.find((s) => !s.job);
    if (!slot) throw new Error('no free job slot (concurrency exceeded)');
    slot.job = job;
    slot.items = 0;
    slot.sent = 0;
    running.set(job.id!, { job, token });
    const what = describeTask(data.task);
    const attempt = job.attemptsMade + 1;
    const t0 = performance.now();
    loopDelay.reset();
    try {
      const result = await runTask(data.task, slot.ctx);
      await flush(slot);
      const seconds = (performance.now() - t0) / 1000;
      log.info({ job: job.id, attempt, seconds: Number(seconds.toFixed(3)), ...(result.kind === 'featurize' ? { imagesFeaturized: result.rows } : {}) }, `${what}: done`);
      const blockedMs = loopDelay.max / 1e6;
      if (blockedMs > WORKER_SETTINGS.lockDuration / 3) {
        log.warn(`${what} blocked the event loop for ${(blockedMs / 1000).toFixed(1)} s; job locks last ${WORKER_SETTINGS.lockDuration / 1000} s, so a longer block would make BullMQ run the job again elsewhere`);
      }
      return result;
    } catch (err) {
      log.warn({ job: job.id, attempt }, `${what}: failed: ${errorMessage(err)}`);
      // BullMQ fails an UnrecoverableError's job without its remaining attempts.
      if (!isRetryable(err)) throw new UnrecoverableError(errorMessage(err));
      throw err;
    } finally {
      clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.job = undefined;
      running.delete(job.id!);
    }
  }

  const worker = new Worker<JobData, JobResult>(QUEUE, processJob, {
    connection: client,
    prefix,
    concurrency,
    name,
    autorun: false,
    ...WORKER_SETTINGS,
  });
  let lastWarning = 0;
  worker.on('error', (err) => {
    // Connection trouble repeats every reconnection attempt: say it once in a while.
    if (Date.now() - lastWarning < 10_000) return;
    lastWarning = Date.now();
    log.warn(`Redis at ${where}: ${err.message}`);
  });
  worker.on('stalled', (jobId) => log.info(`job ${jobId} stalled (its worker stopped renewing the lock); it is back in the queue`));
  await worker.waitUntilReady();
  void worker.run().catch((err: unknown) => log.error(`worker stopped: ${errorMessage(err)}`));
  log.info(`worker ${name} ready: queue ${prefix}:${QUEUE} at ${where}, concurrency ${concurrency}, ${threads} ONNX Runtime thread${threads === 1 ? '' : 's'} per job`);

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    loopDelay.disable();
    await worker.close();
    client.disconnect();
  };
  return {
    name,
    concurrency,
    threads,
    active: () => running.size,
    drain: close,
    async release() {
      let n = 0;
      for (const { job, token } of running.values()) {
        try {
          await job.moveToWait(token);
          n++;
        } catch (err) {
          log.warn(`could not hand job ${job.id} back: ${errorMessage(err)} (it will be re-run once its lock expires)`);
        }
      }
      return n;
    },
    close,
  };
}
