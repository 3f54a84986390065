// Statistics tasks: partial statistics of a group of feature parts, and the merge of partial
// statistics files — the two steps of the tree aggregation that feeds the PCA fit. Statistics
// travel as files in storage, never through the runner's messages.
import { accumulate, createStats, decodePackedStats, encodePackedStats, encodeStats, mergePackedInto, mergeTree, type FeatureStats, type PackedStats } from '../stats/index.js';
import { readPart } from '../sink/read-dataset.js';
import type { TaskContext } from './context.js';

export interface StatsTask {
  kind: 'stats';
  /** The features dataset. */
  features: string;
  parts: string[];
  /** Where the statistics file goes, and its name. */
  output: string;
  file: string;
}

export interface MergeStatsTask {
  kind: 'merge-stats';
  store: string;
  inputs: string[];
  file: string;
}

export interface StatsResult {
  kind: 'stats' | 'merge-stats';
  file: string;
  rows: number;
  dim: number;
  seconds: number;
}

export async function statsOfParts(task: StatsTask, ctx: TaskContext): Promise<StatsResult> {
  const t0 = performance.now();
  const features = ctx.store(task.features);
  let stats: FeatureStats | undefined;
  for (const key of task.parts) {
    const part = await readPart(features, key);
    if (part.path.length === 0) continue;
    stats ??= createStats(part.dim);
    if (part.dim !== stats.dim) throw new Error(`${features.uriOf(key)}: ${part.dim} features per row, other parts have ${stats.dim}`);
    // A NaN/Inf names its image: "part-00003.parquet row 17 (Apple/12.jpg)".
    await accumulate(stats, part.features, part.path.length, 0, (i) => `${key} row ${i}: ${part.path[i]}`);
    ctx.progress(1);
  }
  stats ??= createStats(1);
  await ctx.store(task.output).write(task.file, encodeStats(stats));
  return { kind: 'stats', file: task.file, rows: stats.count, dim: stats.dim, seconds: (performance.now() - t0) / 1000 };
}

export async function mergeStatsFiles(task: MergeStatsTask, ctx: TaskContext): Promise<StatsResult> {
  const t0 = performance.now();
  const store = ctx.store(task.store);
  // Packed: a merge reads, adds and writes only the stored upper triangle of each m2.
  const parts: PackedStats[] = [];
  for (const key of task.inputs) {
    const s = decodePackedStats(await store.read(key), store.uriOf(key));
    if (s.count > 0) parts.push(s);
  }
  const bytes = parts.length ? encodePackedStats(mergeTree(parts, mergePackedInto)) : encodeStats(createStats(1));
  const merged = parts[0] ?? createStats(1);
  await store.write(task.file, bytes);
  // No progress tick: the statistics stage counts parts, and merges add none.
  return { kind: 'merge-stats', file: task.file, rows: merged.count, dim: merged.dim, seconds: (performance.now() - t0) / 1000 };
}
