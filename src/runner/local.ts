// The embedded local runner: a pool of worker processes on this machine. A process (rather than
// a thread) per worker isolates native crashes in a decoder or the runtime: the task is simply
// retried on a fresh process.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Device } from '../model/featurizer.js';
import { describeTask, type Task, type TaskResult } from '../tasks/index.js';
import { TaskFailedError, type RunHandlers, type Runner } from './runner.js';

export interface LocalRunnerOptions {
  workers: number;
  /** ONNX Runtime threads per worker. */
  threadsPerWorker: number;
  device?: Device;
  /** Attempts per task before the run fails. */
  attempts?: number;
}

/** Workers and threads sized together for the cores there are. */
export function defaultPool(cores = os.availableParallelism()): { workers: number; threadsPerWorker: number } {
  return { workers: Math.max(1, cores), threadsPerWorker: 1 };
}

type Outbound =
  | { type: 'ready' }
  | { type: 'progress'; id: number; items: number }
  | { type: 'result'; id: number; result: TaskResult }
  | { type: 'error'; id: number; message: string };

interface Slot {
  child: ChildProcess;
  busy?: { id: number; task: Task; attempt: number };
}

const workerScript = fileURLToPath(new URL('./worker-process.js', import.meta.url));

export class LocalRunner implements Runner {
  private slots: Slot[] = [];
  private nextId = 1;
  /** Peak resident memory of each worker, read from /proc before it exits (for benchmarks). */
  readonly peakRssBytes: number[] = [];

  constructor(private readonly opts: LocalRunnerOptions) {}

  private spawn(): Slot {
    const child = fork(workerScript, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        FRUITS_WORKER_THREADS: String(this.opts.threadsPerWorker),
        FRUITS_DEVICE: this.opts.device ?? 'cpu',
      },
    });
    return { child };
  }

  async run(tasks: AsyncIterable<Task> | Iterable<Task>, handlers: RunHandlers = {}): Promise<TaskResult[]> {
    const attempts = this.opts.attempts ?? 3;
    const iterator = (Symbol.asyncIterator in tasks ? tasks[Symbol.asyncIterator]() : (tasks as Iterable<Task>)[Symbol.iterator]()) as
      | AsyncIterator<Task>
      | Iterator<Task>;
    const retry: { task: Task; attempt: number }[] = [];
    const results: TaskResult[] = [];
    let exhausted = false;
    let failed: Error | undefined;

    return new Promise<TaskResult[]>((resolve, reject) => {
      let pulling = false;
      const finishIfDone = () => {
        if (failed) {
          if (this.slots.every((s) => !s.busy)) reject(failed);
          return;
        }
        if (exhausted && retry.length === 0 && this.slots.every((s) => !s.busy)) resolve(results);
      };
      const dispatch = async (slot: Slot) => {
        if (failed || slot.busy) return finishIfDone();
        let next = retry.shift();
        if (!next && !exhausted) {
          if (pulling) return; // another slot is pulling; it will call us back
          pulling = true;
          try {
            const r = await iterator.next();
            if (r.done) exhausted = true;
            else next = { task: r.value, attempt: 1 };
          } catch (err) {
            failed = err as Error;
          } finally {
            pulling = false;
          }
          // Other idle slots may have been waiting for the puller.
          for (const s of this.slots) if (s !== slot && !s.busy) queueMicrotask(() => void dispatch(s));
        }
        if (!next || failed) return finishIfDone();
        const id = this.nextId++;
        slot.busy = { id, task: next.task, attempt: next.attempt };
        slot.child.send({ type: 'task', id, task: next.task });
      };
      const onFailure = (slot: Slot, message: string) => {
        const busy = slot.busy;
        slot.busy = undefined;
        if (!busy) return;
        if (busy.attempt >= attempts) {
          failed ??= new TaskFailedError(describeTask(busy.task), busy.attempt, message);
        } else {
          retry.push({ task: busy.task, attempt: busy.attempt + 1 });
        }
      };
      const attach = (slot: Slot) => {
        slot.child.on('message', (msg: Outbound) => {
          if (msg.type === 'ready') return void dispatch(slot);
          if (!slot.busy || msg.id !== slot.busy.id) return;
          if (msg.type === 'progress') handlers.onProgress?.(msg.items);
          else if (msg.type === 'result') {
            const task = slot.busy.task;
            slot.busy = undefined;
            results.push(msg.result);
            Promise.resolve(handlers.onResult?.(msg.result, task)).then(
              () => dispatch(slot),
              (err) => {
                failed ??= err as Error;
                finishIfDone();
              },
            );
          } else if (msg.type === 'error') {
            onFailure(slot, msg.message);
            void dispatch(slot);
          }
        });
        slot.child.on('exit', (code, signal) => {
          const i = this.slots.indexOf(slot);
          if (i < 0) return; // closing
          onFailure(slot, `worker process exited (${signal ?? `code ${code}`})`);
          const fresh = this.spawn();
          this.slots[i] = fresh;
          attach(fresh);
          finishIfDone();
        });
      };
      if (this.slots.length === 0) {
        for (let i = 0; i < this.opts.workers; i++) {
          const slot = this.spawn();
          this.slots.push(slot);
          attach(slot);
        }
      } else {
        for (const slot of this.slots) void dispatch(slot);
      }
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
            s.child.disconnect();
          }),
      ),
    );
  }
}

function readPeakRss(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    // VmHWM: the process's peak resident set size (Linux).
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
