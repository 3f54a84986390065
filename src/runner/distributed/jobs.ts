// What the coordinator and the workers agree on: the queue, job names and ids, job data, and the
// retry / stall settings. One module, so the two sides cannot drift apart.
import type { JobsOptions } from 'bullmq';
import { describeTask } from '../../tasks/describe.js';
import type { Task, TaskResult } from '../../tasks/index.js';
import { UserError } from '../../util/errors.js';

/**
 * One queue per deployment (its keys under `<prefix>:tasks:`), shared by every run: workers
 * listen to a fixed name (no discovery of per-run queues), and the queue depth that autoscaling
 * reads is one number. Runs are kept apart by their job ids.
 */
export const QUEUE = 'tasks';
export const DEFAULT_PREFIX = 'fruits';

/** Job data: a task of a stage, or the stage's barrier (the parent of the stage's tasks). */
export type JobData =
  | { type: 'task'; runId: string; stage: string; task: Task }
  | { type: 'stage'; runId: string; stage: string; tasks: number };

export type JobResult = TaskResult | { stage: string; tasks: number };

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkRunId(runId: string): string {
  if (!RUN_ID.test(runId)) {
    throw new UserError(`--run-id: invalid value '${runId}' (expected letters, digits, '.', '_' or '-', at most 128, starting with a letter or digit)`);
  }
  return runId;
}

export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(prefix)) {
    throw new UserError(`--prefix: invalid value '${prefix}' (expected letters, digits, '.', '_' or '-')`);
  }
  return prefix;
}

const slug = (s: string) => s.replace(/\.[a-z]+$/i, '').replace(/^.*\//, '').replace(/[^A-Za-z0-9_-]/g, '_');

/** A task's name within its stage: what it writes, so it is unique and stable across restarts. */
export function taskKey(task: Task): string {
  switch (task.kind) {
    case 'featurize':
      return task.file ? `featurize-${slug(task.file)}` : `featurize-${String(task.partition).padStart(5, '0')}`;
    case 'compact':
      return `compact-${slug(task.file)}`;
    case 'stats':
      return `stats-${slug(task.file)}`;
    case 'merge-stats':
      return `merge-${slug(task.file)}`;
    case 'fit':
      return 'fit';
    case 'transform':
      return `transform-${slug(task.part)}`;
    default:
      throw new Error(`no job key for task kind ${(task as { kind: string }).kind}`);
  }
}

export const BARRIER_KEY = 'barrier';

/**
 * `<runId>/<stage>/<key>`. Not ':' as separator: BullMQ accepts `a:b:c` as a custom id, but its
 * Lua scripts find a flow child's queue by cutting the child's Redis key at the last ':', so
 * removing or locking-checking the children of a barrier would go to the wrong keys. The same
 * run, stage and task always give the same id: adding it again is ignored by BullMQ, which is how
 * a restarted coordinator re-attaches to the jobs of its previous life instead of doubling them.
 */
export const ID_SEPARATOR = '/';

export function jobId(runId: string, stage: string, key: string): string {
  return [runId, stage, key].join(ID_SEPARATOR);
}

export function barrierId(runId: string, stage: string): string {
  return jobId(runId, stage, BARRIER_KEY);
}

/** Job names are what the dashboard lists: say what the job does. */
export function jobName(data: JobData): string {
  return data.type === 'task' ? describeTask(data.task) : `stage ${data.stage} (${data.tasks} tasks)`;
}

export interface RetryPolicy {
  /** Attempts per task (a thrown error counts one; see WORKER_SETTINGS for crashed workers). */
  attempts: number;
  /** First retry delay; it doubles with each further attempt. */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000 };

// The coordinator removes a stage's jobs once it has their results. What it cannot remove (its
// stage failed, or it died) stays a week: failed jobs for inspection in the dashboard and to be
// retried when the run is resumed, completed ones to be re-attached to; BullMQ drops them after
// that (when later jobs finish).
const KEEP = { age: 7 * 24 * 3600 };

export function taskJobOptions(id: string, retry: RetryPolicy): JobsOptions {
  return { jobId: id, attempts: retry.attempts, backoff: { type: 'exponential', delay: retry.backoffMs }, removeOnFail: KEEP, removeOnComplete: KEEP };
}

export function barrierJobOptions(id: string): JobsOptions {
  return { jobId: id, removeOnFail: KEEP, removeOnComplete: KEEP };
}

/**
 * Lock and stall settings of every worker (the same on all of them, hence constants, not flags).
 * A worker renews the lock of its job every lockDuration / 2; a worker that dies (SIGKILL, OOM,
 * a lost machine) stops renewing, and within lockDuration + stalledInterval (≤ 20 s) another
 * worker's stalled-job check puts the job back in the queue. Shorter would notice deaths sooner
 * but risks calling a busy worker dead: a task that blocks the event loop for longer than the
 * lock (none does today: the longest, the PCA fit, blocks ~4 s here) would be run twice.
 * A job may stall maxStalledCount times (a task that kills worker after worker is not retried
 * forever); the next stall fails it and the run.
 */
export const WORKER_SETTINGS = {
  lockDuration: 15_000,
  stalledInterval: 5_000,
  maxStalledCount: 3,
} as const;

/** Stable JSON (sorted keys): whether a job found in Redis is the task we mean to run. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
