// Entry point of a local worker process: receives tasks over IPC, runs them with a context that
// keeps one model session for the life of the process, and reports progress and results.
import { decodeOneImagePerThread } from '../decode/decode.js';
import { createTaskContext, type WarmUpStep } from '../tasks/context.js';
import { runTask, type ModelRef, type Task } from '../tasks/index.js';
import type { Device } from '../model/device.js';
import { isRetryable } from '../util/errors.js';

type Inbound = { type: 'task'; id: number; task: Task } | { type: 'warm'; model: ModelRef; reduce?: boolean };

const threads = Number(process.env.FRUITS_WORKER_THREADS ?? '1');
const device = (process.env.FRUITS_DEVICE ?? 'cpu') as Device;
decodeOneImagePerThread();

// Progress goes to the coordinator at most every PROGRESS_MS: one IPC message per batch measured
// ~0.2 ms of the worker's time per image (serialisation and a pipe write), for a display that
// redraws a few times a second anyway.
const PROGRESS_MS = 250;
let current = 0;
let unsent = 0;
let progressTimer: NodeJS.Timeout | undefined;
/**
 * A message to the coordinator. The coordinator may have closed the channel already (a run refused
 * while this worker was still loading its modules): nothing is left to tell, and with a callback
 * the closed channel is that callback's error rather than an 'error' event crashing with a stack.
 */
const send = (msg: object) => {
  if (process.connected) process.send?.(msg, undefined, {}, () => undefined);
};
const sendProgress = () => {
  progressTimer = undefined;
  if (unsent > 0) send({ type: 'progress', id: current, items: unsent });
  unsent = 0;
};
const ctx = createTaskContext({ threads, device }, (items) => {
  unsent += items;
  progressTimer ??= setTimeout(sendProgress, PROGRESS_MS);
});
/** The task's last progress goes before its result (the coordinator counts only the running task's). */
const settle = (msg: object) => {
  clearTimeout(progressTimer);
  sendProgress();
  send(msg);
};

// Warm-up steps run while the coordinator lists the input, and pause while a task runs: a step
// started as a task arrives delays it. Steps a short listing left are taken up once the worker
// has idled a while — tasks of a stage follow each other within a few ms, and stepping between
// them (a warm-up step slowed the statistics merges after the featurize stage by ~0.1 s) would
// only delay the next. A failed step is left to the first task that needs the same thing to report.
const IDLE_BEFORE_WARMING_MS = 150;
let warmSteps: WarmUpStep[] = [];
let warming = false;
let idleTimer: NodeJS.Timeout | undefined;
let running = 0;
async function warmWhileIdle(): Promise<void> {
  if (warming) return;
  warming = true;
  while (warmSteps.length > 0 && running === 0) await warmSteps.shift()!().catch(() => undefined);
  warming = false;
}

process.on('message', (msg: Inbound) => {
  if (msg.type === 'warm') {
    warmSteps = ctx.warmUpSteps(msg.model, msg.reduce);
    return void warmWhileIdle();
  }
  if (msg.type !== 'task') return;
  current = msg.id;
  running++;
  clearTimeout(idleTimer);
  const done = () => {
    if (--running === 0 && warmSteps.length > 0) idleTimer = setTimeout(() => void warmWhileIdle(), IDLE_BEFORE_WARMING_MS);
  };
  runTask(msg.task, ctx).then(
    (result) => (done(), settle({ type: 'result', id: msg.id, result })),
    (err: unknown) => (done(), settle({ type: 'error', id: msg.id, message: (err as Error)?.message ?? String(err), retryable: isRetryable(err) })),
  );
});
process.on('disconnect', () => process.exit(0));
if (!process.connected) process.exit(0);
send({ type: 'ready' });
