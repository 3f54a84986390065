// One stage of a distributed run: the tasks of one Runner.run() call, submitted as a BullMQ flow
// (a barrier job whose children are the tasks) and followed until every task has its result and
// the barrier has completed. Events (QueueEvents) bring results and progress quickly; a
// reconciliation with the job states in Redis — after submitting, after a reconnection, and every
// so often — makes the outcome independent of missed events, of a previous coordinator of the
// same run (re-attach) and of a Redis that lost its data (re-submission).
import { Job, type FlowJob, type FlowProducer, type Queue } from 'bullmq';
import { describeTask } from '../../tasks/describe.js';
import type { Task, TaskResult } from '../../tasks/index.js';
import { TaskFailedError, type RunHandlers } from '../runner.js';
import type { Logger } from '../../util/logger.js';
import { mapOrdered } from '../../util/ordered.js';
import { QUEUE, WORKER_SETTINGS, barrierId, barrierJobOptions, canonicalJson, jobId, jobName, taskJobOptions, taskKey, type JobData, type RetryPolicy } from './jobs.js';
import { UserError } from '../../util/errors.js';

export interface StageContext {
  queue: Queue;
  flows: FlowProducer;
  prefix: string;
  runId: string;
  retry: RetryPolicy;
  log?: Logger;
}

interface Child {
  id: string;
  task: Task;
  /** Highest progress (items) seen from any attempt: only growth beyond it is reported. */
  progress: number;
  settled: boolean;
}

/** Redis calls in flight at once while reconciling a stage's jobs. */
const PARALLEL = 32;

async function forEachLimit<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  for await (const _ of mapOrdered(items, PARALLEL, fn));
}

export class StageRun {
  readonly barrier: string;
  private readonly children = new Map<string, Child>();
  private readonly results: TaskResult[] = [];
  private unsettled: number;
  private barrierDone = false;
  private finished = false;
  private results$ = Promise.resolve();
  private reconciling?: Promise<void>;
  private readonly submittedAt = Date.now();
  private resolve!: (r: TaskResult[]) => void;
  private reject!: (err: Error) => void;
  readonly done: Promise<TaskResult[]>;

  constructor(
    private readonly ctx: StageContext,
    readonly stage: string,
    tasks: Task[],
    private readonly handlers: RunHandlers,
  ) {
    this.barrier = barrierId(ctx.runId, stage);
    for (const task of tasks) {
      const id = jobId(ctx.runId, stage, taskKey(task));
      if (this.children.has(id)) throw new Error(`two tasks of stage ${stage} share the job id ${id}`);
      this.children.set(id, { id, task, progress: 0, settled: false });
    }
    this.unsettled = this.children.size;
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.done.catch(() => undefined); // the caller awaits it; a failure before that is not unhandled
  }

  /**
   * Submits the stage, or re-attaches to it: the jobs a previous coordinator of this run left are
   * first checked to be these very tasks (a run id reused for other work is refused before
   * anything is added), then the flow is added (existing ids are kept as they are) and what Redis
   * already knows is settled.
   */
  async start(): Promise<void> {
    await this.checkExistingJobs();
    await this.submit([...this.children.values()], true);
    await this.reconcile(true);
  }

  private async checkExistingJobs(): Promise<void> {
    if ((await this.ctx.queue.getJobState(this.barrier)) === 'unknown') return;
    let clash: string | undefined;
    let existing = 0;
    await forEachLimit([...this.children.values()], async (child) => {
      const job = await Job.fromId(this.ctx.queue, child.id);
      const data = job?.data as JobData | undefined;
      if (job) existing++;
      if (job && (data?.type !== 'task' || canonicalJson(data.task) !== canonicalJson(child.task))) clash ??= child.id;
    });
    if (clash) {
      throw new UserError(`run id ${this.ctx.runId} is already used in Redis for other work (job ${clash} holds another task); choose another --run-id, or pass --overwrite to start this run over`);
    }
    if (existing > 0) this.ctx.log?.info(`stage ${this.stage}: re-attached to ${existing} of its ${this.children.size} tasks, queued or run by an earlier coordinator of run ${this.ctx.runId}`);
  }

  owns(jobId: string): boolean {
    return jobId === this.barrier || this.children.has(jobId);
  }

  // --- events -------------------------------------------------------------------------------

  onProgress(id: string, data: unknown): void {
    const child = this.children.get(id);
    if (!child || child.settled || typeof data !== 'number') return;
    if (data > child.progress) {
      this.handlers.onProgress?.(data - child.progress);
      child.progress = data;
    }
  }

  onCompleted(id: string, returnvalue: unknown): void {
    if (id === this.barrier) {
      this.barrierDone = true;
      this.maybeFinish();
      return;
    }
    this.settle(id, returnvalue as TaskResult);
  }

  onFailed(id: string, reason: string): void {
    const child = this.children.get(id);
    if (!child || child.settled) return;
    void Job.fromId(this.ctx.queue, id).then(
      (job) => this.fail(child, job?.attemptsMade ?? this.ctx.retry.attempts, reason),
      () => this.fail(child, this.ctx.retry.attempts, reason),
    );
  }

  /** BullMQ's reason for a job whose workers kept dying, said in this project's terms. */
  private static explain(attempts: number, reason: string): { attempts: number; reason: string } {
    if (/stalled more than allowable limit/.test(reason)) {
      const deaths = WORKER_SETTINGS.maxStalledCount + 1;
      return { attempts: Math.max(attempts, deaths), reason: `the worker running it died ${deaths} times (BullMQ: ${reason})` };
    }
    return { attempts, reason };
  }

  onRemoved(id: string): void {
    const child = this.children.get(id);
    if (child && !child.settled) this.abort(new UserError(`${describeTask(child.task)}: its job ${id} was removed from the queue (from the dashboard?); rerun with the same --run-id to resume`));
  }

  // --- outcome ------------------------------------------------------------------------------

  private settle(id: string, result: TaskResult): void {
    const child = this.children.get(id);
    if (!child || child.settled || this.finished) return;
    child.settled = true;
    this.unsettled--;
    this.results.push(result);
    this.results$ = this.results$.then(() => this.handlers.onResult?.(result, child.task)).catch((err: unknown) => this.abort(err as Error));
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || this.unsettled > 0 || !this.barrierDone) return;
    this.finished = true;
    void this.results$.then(async () => {
      // A finished stage leaves nothing in Redis: its outputs are in storage, and a completed job
      // kept under a reused run id could otherwise stand in for work that no longer exists.
      // Best effort, and bounded: the results are in hand, a Redis outage now must not hold the run.
      const cleanup = (async () => {
        const barrier = await Job.fromId(this.ctx.queue, this.barrier);
        await barrier?.remove({ removeChildren: true });
      })().catch((err: unknown) => this.ctx.log?.debug(`could not remove the jobs of stage ${this.stage}: ${(err as Error).message}`));
      await Promise.race([cleanup, new Promise((r) => setTimeout(r, 10_000).unref())]);
      this.resolve(this.results);
    });
  }

  private fail(child: Child, attempts: number, reason: string): void {
    if (child.settled) return;
    const e = StageRun.explain(attempts, reason);
    this.abort(new TaskFailedError(describeTask(child.task), e.attempts, e.reason));
  }

  /**
   * Ends the stage with an error. Its queued tasks are taken off the queue (`cancelQueued`), so
   * that no worker spends time on a failed run; a rerun with the same run id adds them again.
   */
  abort(err: Error, cancelQueued = true): void {
    if (this.finished) return;
    this.finished = true;
    if (!cancelQueued) return this.reject(err);
    void Job.fromId(this.ctx.queue, this.barrier)
      .then((b) => b?.removeUnprocessedChildren())
      .catch(() => undefined)
      .finally(() => this.reject(err));
  }

  get isFinished(): boolean {
    return this.finished;
  }

  // --- Redis state --------------------------------------------------------------------------

  private flowOf(children: Child[]): FlowJob {
    const data: JobData = { type: 'stage', runId: this.ctx.runId, stage: this.stage, tasks: this.children.size };
    return {
      name: jobName(data),
      queueName: QUEUE,
      data,
      opts: barrierJobOptions(this.barrier),
      children: children.map((c) => {
        const child: JobData = { type: 'task', runId: this.ctx.runId, stage: this.stage, task: c.task };
        return { name: jobName(child), queueName: QUEUE, data: child, opts: taskJobOptions(c.id, this.ctx.retry) };
      }),
    };
  }

  /** One atomic flow: the barrier and the given tasks (ids that exist already are left as they are). */
  private async submit(children: Child[], first: boolean): Promise<void> {
    if (children.length === 0) {
      const data: JobData = { type: 'stage', runId: this.ctx.runId, stage: this.stage, tasks: this.children.size };
      await this.ctx.queue.add(jobName(data), data, barrierJobOptions(this.barrier));
      return;
    }
    await this.ctx.flows.add(this.flowOf(children));
    if (first) this.ctx.log?.debug(`stage ${this.stage}: ${children.length} tasks submitted as flow ${this.barrier}`);
  }

  /**
   * Brings the stage in line with Redis: completed jobs give their results (events may have been
   * missed), a failed job fails the stage — unless `attach` (right after submitting) finds it
   * failed in an earlier life of the run, which gets it a fresh set of attempts — and jobs Redis
   * no longer has are submitted again.
   */
  reconcile(attach = false): Promise<void> {
    if (this.reconciling) return this.reconciling;
    this.reconciling = this.doReconcile(attach).finally(() => (this.reconciling = undefined));
    return this.reconciling;
  }

  private async doReconcile(attach: boolean): Promise<void> {
    if (this.finished) return;
    const { queue } = this.ctx;
    const missing: Child[] = [];
    const pending = [...this.children.values()].filter((c) => !c.settled);
    await forEachLimit(pending, async (child) => {
      const state = await queue.getJobState(child.id);
      if (state === 'unknown') {
        missing.push(child);
        return;
      }
      if (state !== 'completed' && state !== 'failed') return;
      const job = await Job.fromId(queue, child.id);
      if (!job) {
        missing.push(child);
        return;
      }
      if (state === 'completed') this.settle(child.id, job.returnvalue as TaskResult);
      else if (state === 'failed') {
        if (attach && (job.finishedOn ?? 0) < this.submittedAt) {
          this.ctx.log?.info(`${describeTask(child.task)} had failed in an earlier attempt of run ${this.ctx.runId}: trying it again`);
          await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        } else this.fail(child, job.attemptsMade, job.failedReason);
      }
    });
    if (this.finished) return;
    const barrierState = await queue.getJobState(this.barrier);
    if (barrierState === 'completed') {
      this.barrierDone = true;
    } else if (barrierState === 'failed') {
      await (await Job.fromId(queue, this.barrier))?.retry('failed');
    }
    if (missing.length > 0 || barrierState === 'unknown') {
      if (!attach) {
        this.ctx.log?.warn(
          `Redis no longer has ${missing.length} unfinished task${missing.length === 1 ? '' : 's'} of stage ${this.stage}${barrierState === 'unknown' ? ' nor its barrier' : ''} (restarted without persistence?): submitting ${missing.length === 1 ? 'it' : 'them'} again`,
        );
      }
      await this.submit(missing, false);
    }
    this.maybeFinish();
  }
}
