// Every kind of task a runner can execute, and the one dispatcher both runners call.
import type { TaskContext } from './context.js';
import { featurizePartition, type FeaturizeResult, type FeaturizeTask } from './featurize-partition.js';

export type Task = FeaturizeTask;
export type TaskResult = FeaturizeResult;

export async function runTask(task: Task, ctx: TaskContext): Promise<TaskResult> {
  switch (task.kind) {
    case 'featurize':
      return featurizePartition(task, ctx);
    default:
      throw new Error(`unknown task kind: ${(task as { kind: string }).kind}`);
  }
}

/** A short name for messages: "featurize part-00003". */
export function describeTask(task: Task): string {
  switch (task.kind) {
    case 'featurize':
      return `featurize partition ${task.partition.index}`;
    default:
      return (task as { kind: string }).kind;
  }
}
