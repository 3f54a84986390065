// The embedded local runner: a pool of worker processes on this machine. A process (rather than
// a thread) per worker isolates native crashes in a decoder or the runtime: the task is simply
// retried on a fresh process. The pool lives across run() calls, so each worker keeps its model
// session from one stage to the next.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Device } from '../model/device.js';
import { describeTask } from '../tasks/describe.js';
import type { ModelRef, Task, TaskResult } from '../tasks/index.js';
import { TaskFailedError, type RunHandlers, type Runner } from './runner.js';

export interface LocalRunnerOptions {
  workers: number;
  /** ONNX Runtime threads per worker. */
  threadsPerWorker: number;
  device?: Device;
  /** Attempts per task before the run fails. */
  attempts?: number;
}

/**
 * The environment of a worker process. Its libuv pool, where its file reads and sharp decodes
 * run, gets as many threads as it has ORT threads (its share of the cores): libuv's default of 4
 * per process put 8 decode threads on 2 cores beside 2 inference threads, and one each measured
 * +3.5 % images/s and less kernel time (README, Benchmarks). A UV_THREADPOOL_SIZE of the user's wins.
 */
export function workerEnv(opts: LocalRunnerOptions, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    FRUITS_WORKER_THREADS: String(opts.threadsPerWorker),
    UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE ?? String(Math.max(1, opts.threadsPerWorker)),
    FRUITS_DEVICE: opts.device ?? 'cpu',
  };
}

type Outbound =
  | { type: 'ready' }
  | { type: 'progress'; id: number; items: number }
  | { type: 'result'; id: number; result: TaskResult }
  | { type: 'error'; id: number; message: string; retryable: boolean };

interface Slot {
  child: ChildProcess;
  ready: boolean;
  busy?: { id: number; task: Task; attempt: number };
}

/** The state of one run() call; the pool outlives it. */
interface Batch {
  next(): Promise<{ task: Task; attempt: number } | undefined>;
  retry: { task: Task; attempt: number }[];
  results: TaskResult[];
  handlers: RunHandlers;
  exhausted: boolean;
  pulling: boolean;
  failed?: Error;
  resolve(results: TaskResult[]): void;
  reject(err: Error): void;
}

const workerScript = fileURLToPath(new URL('./worker-process.js', import.meta.url));
// A worker that dies before it is ready this many times in a row means it cannot start at all.
const MAX_START_FAILURES = 3;

export class LocalRunner implements Runner {
  private slots: Slot[] = [];
  private nextId = 1;
  private batch?: Batch;
  private startFailures = 0;
  private warming?: { model: ModelRef; reduce: boolean };
  /** Peak resident memory of each worker, read from /proc before it exits (for benchmarks). */
  readonly peakRssBytes: number[] = [];

  constructor(private readonly opts: LocalRunnerOptions) {}

  private spawn(): Slot {
    const child = fork(workerScript, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: workerEnv(this.opts),
    });
    const slot: Slot = { child, ready: false };
    child.on('message', (msg: Outbound) => this.onMessage(slot, msg));
    child.on('exit', (code, signal) => this.onExit(slot, code, signal));
    return slot;
  }

  private onMessage(slot: Slot, msg: Outbound): void {
    if (msg.type === 'ready') {
      slot.ready = true;
      this.startFailures = 0;
      if (this.warming) slot.child.send({ type: 'warm', ...this.warming });
      void this.dispatch(slot);
      return;
    }
    const b = this.batch;
    if (!b || !slot.busy || msg.id !== slot.busy.id) return;
    if (msg.type === 'progress') {
      b.handlers.onProgress?.(msg.items);
    } else if (msg.type === 'result') {
      const task = slot.busy.task;
      slot.busy = undefined;
      b.results.push(msg.result);
      Promise.resolve(b.handlers.onResult?.(msg.result, task)).then(
        () => this.dispatch(slot),
        (err) => {
          b.failed ??= err as Error;
          this.settle();
        },
      );
    } else {
      this.fail(slot, msg.message, msg.retryable);
      void this.dispatch(slot);
    }
  }

  private onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return; // closing
    if (!slot.ready && ++this.startFailures >= MAX_START_FAILURES) {
      const b = this.batch;
      if (b) b.failed ??= new Error(`worker processes cannot start (exit ${signal ?? `code ${code}`})`);
      this.slots.splice(i, 1);
      this.settle();
      return;
    }
    this.fail(slot, `worker process exited (${signal ?? `code ${code}`})`);
    this.slots[i] = this.spawn();
    this.settle();
  }

  /** A task failed on `slot`: retried, or the run fails once its attempts are used up (or at once, for an error no retry can mend). */
  private fail(slot: Slot, message: string, retryable = true): void {
    const busy = slot.busy;
    slot.busy = undefined;
    const b = this.batch;
    if (!busy || !b) return;
    if (!retryable || busy.attempt >= (this.opts.attempts ?? 3)) b.failed ??= new TaskFailedError(describeTask(busy.task), busy.attempt, message);
    else b.retry.push({ task: busy.task, attempt: busy.attempt + 1 });
  }

  private async dispatch(slot: Slot): Promise<void> {
    const b = this.batch;
    if (!b || !slot.ready || slot.busy || b.failed) return this.settle();
    let next = b.retry.shift();
    if (!next && !b.exhausted) {
      if (b.pulling) return; // another slot is pulling; it wakes the idle ones when done
      b.pulling = true;
      try {
        next = await b.next();
        if (!next) b.exhausted = true;
      } catch (err) {
        b.failed ??= err as Error;
      } finally {
        b.pulling = false;
      }
      for (const s of this.slots) if (s !== slot && !s.busy) queueMicrotask(() => void this.dispatch(s));
    }
    if (!next || b.failed || this.batch !== b) {
      if (next && !b.failed) b.retry.unshift(next);
      return this.settle();
    }
    const id = this.nextId++;
    slot.busy = { id, task: next.task, attempt: next.attempt };
    slot.child.send({ type: 'task', id, task: next.task });
  }

  /** Ends the current run() when nothing is in flight and nothing is left (or it failed). */
  private settle(): void {
    const b = this.batch;
    if (!b || this.slots.some((s) => s.busy)) return;
    if (b.failed) {
      this.batch = undefined;
      b.reject(b.failed);
    } else if (b.exhausted && b.retry.length === 0 && !b.pulling) {
      this.batch = undefined;
      b.resolve(b.results);
    } else if (this.slots.length === 0) {
      this.batch = undefined;
      b.reject(new Error('no worker processes left'));
    }
  }

  /**
   * Starts the worker processes now rather than at the first run(): a worker needs ~1 s to load
   * its modules, which then overlaps whatever the caller does before it has tasks (listing the
   * input, merging the index).
   */
  start(): void {
    if (this.slots.length === 0) for (let i = 0; i < this.opts.workers; i++) this.slots.push(this.spawn());
  }

  warm(model: ModelRef, reduce = false): void {
    this.warming = { model, reduce };
    for (const slot of this.slots) if (slot.ready) slot.child.send({ type: 'warm', ...this.warming });
  }

  run(tasks: AsyncIterable<Task> | Iterable<Task>, handlers: RunHandlers = {}): Promise<TaskResult[]> {
    if (this.batch) return Promise.reject(new Error('LocalRunner.run() is already running'));
    // Nothing to do starts no worker (a stage that resumes everything).
    if (Array.isArray(tasks) && tasks.length === 0) return Promise.resolve([]);
    const iterator = Symbol.asyncIterator in tasks ? (tasks as AsyncIterable<Task>)[Symbol.asyncIterator]() : (tasks as Iterable<Task>)[Symbol.iterator]();
    return new Promise<TaskResult[]>((resolve, reject) => {
      this.batch = {
        next: async () => {
          const r = await iterator.next();
          return r.done ? undefined : { task: r.value, attempt: 1 };
        },
        retry: [],
        results: [],
        handlers,
        exhausted: false,
        pulling: false,
        resolve,
        reject,
      };
      if (this.slots.length === 0) this.start();
      else for (const slot of this.slots) void this.dispatch(slot);
    });
  }

  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    await Promise.all(
      slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            this.peakRssBytes.push(readPeakRss(s.child.pid));
            if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
            s.child.once('exit', () => resolve());
            // A worker still loading its modules has nothing to finish (a run refused early).
            if (!s.ready) s.child.kill();
            else s.child.disconnect();
          }),
      ),
    );
  }
}

function readPeakRss(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    // VmHWM: the process's peak resident set size (Linux).
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
