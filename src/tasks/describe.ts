// Names of tasks for messages, apart from the task functions so that naming a task (the queue
// side, the CLI) does not load sharp, ONNX Runtime and the Parquet writer.
import type { Task } from './index.js';

/** A short name for messages: "featurize partition 3". */
export function describeTask(task: Task): string {
  switch (task.kind) {
    case 'featurize':
      return task.file ? `featurize ${task.file}` : `featurize partition ${task.partition}`;
    case 'compact':
      return `compaction of ${task.inputs.length} parts → ${task.file}`;
    case 'stats':
      return `statistics of ${task.parts.length} parts → ${task.file}`;
    case 'merge-stats':
      return `merge of ${task.inputs.length} statistics files → ${task.file}`;
    case 'fit':
      return `PCA fit from ${task.statsFile}`;
    case 'transform':
      return `transform ${task.part}`;
    default:
      return (task as { kind: string }).kind;
  }
}
