// What every runner offers: execute tasks, report progress and each result as it arrives.
// The embedded local runner (worker processes) and the distributed runner (BullMQ) both
// implement it, and the pipelines never know which one they have.
import type { ModelRef, Task, TaskResult } from '../tasks/index.js';

export interface RunHandlers {
  /** Finished items (images or rows) inside tasks, for the progress display. */
  onProgress?(items: number): void;
  onResult?(result: TaskResult, task: Task): void | Promise<void>;
}

export interface Runner {
  /** Runs every task (pulled lazily from the stream); rejects with TaskFailedError if one fails all attempts. */
  run(tasks: AsyncIterable<Task> | Iterable<Task>, handlers?: RunHandlers): Promise<TaskResult[]>;
  close(): Promise<void>;
  /**
   * A hint: featurize tasks with this model will come (and, with `reduce`, a PCA fit and
   * projections), so workers may load it and make their first calls ahead of them.
   */
  warm?(model: ModelRef, reduce?: boolean): void;
}

export class TaskFailedError extends Error {
  constructor(
    readonly task: string,
    readonly attempts: number,
    readonly lastError: string,
  ) {
    super(`${task} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastError}`);
    this.name = 'TaskFailedError';
  }
}
