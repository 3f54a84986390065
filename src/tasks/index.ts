// Every kind of task a runner can execute, and the one dispatcher both runners call.
import type { ModelRef, TaskContext } from './context.js';
import { featurizePartition, type FeaturizeResult, type FeaturizeTask } from './featurize-partition.js';
import { compactParts, type CompactResult, type CompactTask } from './compact-parts.js';
import { fitFromStats, type FitResult, type FitTask } from './fit.js';
import { transformPart, type TransformResult, type TransformTask } from './transform.js';
import { mergeStatsFiles, statsOfParts, type MergeStatsTask, type StatsResult, type StatsTask } from './statistics.js';

export type Task = FeaturizeTask | StatsTask | MergeStatsTask | FitTask | TransformTask | CompactTask;
export type TaskResult = FeaturizeResult | StatsResult | FitResult | TransformResult | CompactResult;
export type { ModelRef };

export async function runTask(task: Task, ctx: TaskContext): Promise<TaskResult> {
  switch (task.kind) {
    case 'featurize':
      return featurizePartition(task, ctx);
    case 'stats':
      return statsOfParts(task, ctx);
    case 'merge-stats':
      return mergeStatsFiles(task, ctx);
    case 'fit':
      return fitFromStats(task, ctx);
    case 'transform':
      return transformPart(task, ctx);
    case 'compact':
      return compactParts(task, ctx);
    default:
      throw new Error(`unknown task kind: ${(task as { kind: string }).kind}`);
  }
}
