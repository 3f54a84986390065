// The distributed runner (coordinator side): each run() call is one stage, submitted to Redis as
// a BullMQ flow and executed by `fruits worker` processes on any number of machines. Data moves
// through storage; Redis holds only small task descriptions, progress and results.
import { FlowProducer, Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Task, TaskResult } from '../../tasks/index.js';
import type { RunHandlers, Runner } from '../runner.js';
import type { Logger } from '../../util/logger.js';
import { UserError } from '../../util/errors.js';
import { connectRedis, redisOptions } from './redis-connection.js';
import { redactRedisUrl } from './redis-url.js';
import { DEFAULT_PREFIX, DEFAULT_RETRY, ID_SEPARATOR, QUEUE, checkPrefix, checkRunId, type RetryPolicy } from './jobs.js';
import { StageRun } from './stage.js';

export interface DistributedRunnerOptions {
  redisUrl: string;
  /** Part of every job id: the same run id re-attaches to the jobs of an earlier coordinator. */
  runId: string;
  /** Key prefix of the deployment's queues (BullMQ `prefix`). */
  prefix?: string;
  retry?: RetryPolicy;
  /** Remove what earlier coordinators of this run id left in Redis first (`--overwrite`). */
  fresh?: boolean;
  log?: Logger;
  /** Fail the run when Redis stays unreachable this long (default 5 min). */
  redisTimeoutMs?: number;
  /** Safety net against missed events: how often job states are read back (default 30 s). */
  reconcileEveryMs?: number;
}

interface Connections {
  client: Redis;
  queue: Queue;
  flows: FlowProducer;
  events: QueueEvents;
}

export class DistributedRunner implements Runner {
  readonly runId: string;
  readonly prefix: string;
  private conn?: Promise<Connections>;
  private stage?: StageRun;
  /** Stages are named `<task kind>-<n>`: the n-th run() of that kind, the same in every life of a run. */
  private readonly ordinals = new Map<string, number>();
  private downSince?: number;
  private lastConnectionWarning = 0;
  private timers: NodeJS.Timeout[] = [];
  private closing = false;

  constructor(private readonly opts: DistributedRunnerOptions) {
    this.runId = checkRunId(opts.runId);
    this.prefix = checkPrefix(opts.prefix ?? DEFAULT_PREFIX);
  }

  /** The Redis location for messages, password hidden. */
  get where(): string {
    return redactRedisUrl(this.opts.redisUrl);
  }

  private connect(): Promise<Connections> {
    this.conn ??= (async () => {
      const reconnect = () => !this.closing;
      const client = await connectRedis(this.opts.redisUrl, 'coordinator', reconnect);
      const queue = new Queue(QUEUE, { connection: client, prefix: this.prefix });
      const flows = new FlowProducer({ connection: client, prefix: this.prefix });
      const events = new QueueEvents(QUEUE, { connection: redisOptions(this.opts.redisUrl, 'coordinator', reconnect), prefix: this.prefix });
      const trouble = (err: Error) => this.connectionTrouble(err);
      queue.on('error', trouble);
      flows.on('error', trouble);
      events.on('error', trouble);
      client.on('error', (err: Error) => this.connectionTrouble(err));
      client.on('close', () => (this.downSince ??= Date.now()));
      client.on('ready', () => this.reconnected());
      this.listen(events);
      await Promise.all([queue.waitUntilReady(), flows.waitUntilReady(), events.waitUntilReady()]);
      if (this.opts.fresh) await this.discardRun(queue, client);
      this.timers.push(setInterval(() => this.watchdog(), 1000));
      this.timers.push(setInterval(() => void this.stage?.reconcile().catch((err: unknown) => this.connectionTrouble(err as Error)), this.opts.reconcileEveryMs ?? 30_000));
      for (const t of this.timers) t.unref();
      return { client, queue, flows, events };
    })();
    return this.conn;
  }

  private listen(events: QueueEvents): void {
    const mine = (id: string) => this.stage?.owns(id) ?? false;
    events.on('progress', ({ jobId, data }) => mine(jobId) && this.stage!.onProgress(jobId, data));
    events.on('completed', ({ jobId, returnvalue }) => mine(jobId) && this.stage!.onCompleted(jobId, returnvalue));
    events.on('failed', ({ jobId, failedReason }) => mine(jobId) && this.stage!.onFailed(jobId, failedReason));
    events.on('removed', ({ jobId }) => mine(jobId) && this.stage!.onRemoved(jobId));
  }

  private connectionTrouble(err: Error): void {
    const now = Date.now();
    if (now - this.lastConnectionWarning < 10_000) return;
    this.lastConnectionWarning = now;
    this.opts.log?.warn(`Redis at ${this.where}: ${err.message}`);
  }

  private reconnected(): void {
    if (this.downSince === undefined) return;
    const seconds = ((Date.now() - this.downSince) / 1000).toFixed(1);
    this.downSince = undefined;
    this.opts.log?.info(`Redis at ${this.where} is back after ${seconds} s: checking the run's jobs`);
    void this.stage?.reconcile().catch((err: unknown) => this.connectionTrouble(err as Error));
  }

  private watchdog(): void {
    const limit = this.opts.redisTimeoutMs ?? 300_000;
    if (this.downSince !== undefined && Date.now() - this.downSince > limit && this.stage && !this.stage.isFinished) {
      this.stage.abort(new UserError(`lost the connection to Redis at ${this.where} for more than ${Math.round(limit / 1000)} s; rerun with --run-id ${this.runId} to resume`), false);
    }
  }

  /** Removes the jobs of this run id left by earlier coordinators; refuses while workers still run some. */
  private async discardRun(queue: Queue, client: Redis): Promise<void> {
    const base = `${this.prefix}:${QUEUE}:`;
    const barriers = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${base}${this.runId}${ID_SEPARATOR}*${ID_SEPARATOR}barrier`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) barriers.add(k.slice(base.length));
    } while (cursor !== '0');
    for (const id of barriers) {
      const job = await Job.fromId(queue, id);
      try {
        await job?.remove({ removeChildren: true });
      } catch {
        throw new UserError(`run ${this.runId} still has tasks running on workers (stage ${id.split(ID_SEPARATOR)[1]}); wait for them to finish, or choose another --run-id`);
      }
    }
    if (barriers.size > 0) this.opts.log?.info(`--overwrite: removed the jobs of ${barriers.size} earlier stage${barriers.size === 1 ? '' : 's'} of run ${this.runId} from Redis`);
  }

  async run(tasks: AsyncIterable<Task> | Iterable<Task>, handlers: RunHandlers = {}): Promise<TaskResult[]> {
    if (this.stage) throw new Error('DistributedRunner.run() is already running');
    const conn = await this.connect();
    // A flow is added atomically, so the stage's tasks are gathered first (tasks are small: they
    // name plan files, not images).
    const list: Task[] = [];
    for await (const t of tasks as AsyncIterable<Task>) list.push(t);
    if (list.length === 0) return [];
    const kind = list[0].kind;
    const n = (this.ordinals.get(kind) ?? 0) + 1;
    this.ordinals.set(kind, n);
    const stage = new StageRun({ queue: conn.queue, flows: conn.flows, prefix: this.prefix, runId: this.runId, retry: this.opts.retry ?? DEFAULT_RETRY, log: this.opts.log }, `${kind}-${n}`, list, handlers);
    this.stage = stage;
    try {
      await stage.start();
      return await stage.done;
    } finally {
      this.stage = undefined;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const conn = await this.conn?.catch(() => undefined);
    this.conn = undefined;
    if (!conn) return;
    // A graceful close needs Redis; without it (an outage is why the run failed) give up after a
    // moment and drop the connections, so that the command can exit.
    const closed = Promise.allSettled([conn.events.close(), conn.flows.close(), conn.queue.close()]);
    const timer = new Promise((resolve) => setTimeout(resolve, 3000).unref());
    if ((await Promise.race([closed.then(() => true), timer.then(() => false)])) === false) {
      // Not awaited: BullMQ waits for an 'end' event that a connection already down never sends.
      for (const c of [conn.events, conn.flows, conn.queue]) void c.disconnect().catch(() => undefined);
    }
    conn.client.disconnect();
  }
}
