// Micro-batching: concurrent requests are gathered into one inference call. The first item of a
// batch waits at most `maxWaitMs` for company (or less, once `maxBatch` items are there); while
// a batch runs, new items queue and go together as soon as it finishes. The queue is bounded:
// past `maxQueue` waiting items, submit() fails at once with QueueFullError (the server's 503)
// instead of letting latency and memory grow without limit.

export class QueueFullError extends Error {
  constructor(readonly limit: number) {
    super(`the inference queue is full (${limit} images waiting)`);
    this.name = 'QueueFullError';
  }
}

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
}

export interface Batched<O> {
  value: O;
  /** Time from submit() to the start of the batch's run. */
  queueMs: number;
  /** Duration of the batch's run. */
  runMs: number;
  batchSize: number;
}

interface Pending<I, O> {
  item: I;
  at: number;
  resolve: (r: Batched<O>) => void;
  reject: (err: unknown) => void;
}

export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private idle: (() => void)[] = [];
  /** Sizes of the batches run so far, for metrics. */
  onBatch?: (size: number, runMs: number) => void;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly opts: BatcherOptions,
  ) {
    if (opts.maxBatch < 1 || opts.maxQueue < 1 || opts.maxWaitMs < 0) throw new RangeError('batcher: maxBatch and maxQueue must be ≥ 1, maxWaitMs ≥ 0');
  }

  /** Items waiting for a batch (not counting the one running). */
  get queued(): number {
    return this.queue.length;
  }

  submit(item: I): Promise<Batched<O>> {
    if (this.queue.length >= this.opts.maxQueue) return Promise.reject(new QueueFullError(this.opts.maxQueue));
    return new Promise((resolve, reject) => {
      this.queue.push({ item, at: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.opts.maxBatch || this.opts.maxWaitMs === 0) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    this.running = true;
    const start = performance.now();
    void this.run(batch.map((p) => p.item))
      .then(
        (values) => {
          const runMs = performance.now() - start;
          if (values.length !== batch.length) throw new Error(`internal: batch of ${batch.length} gave ${values.length} results`);
          this.onBatch?.(batch.length, runMs);
          batch.forEach((p, i) => p.resolve({ value: values[i], queueMs: start - p.at, runMs, batchSize: batch.length }));
        },
      )
      .catch((err) => batch.forEach((p) => p.reject(err)))
      .finally(() => {
        this.running = false;
        // Whatever arrived during the run has waited long enough: go at once.
        if (this.queue.length > 0) this.flush();
        else this.idle.splice(0).forEach((f) => f());
      });
  }

  /** Resolves once nothing is queued or running. */
  drain(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}
