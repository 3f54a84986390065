// The statistics of a part written by the task that made it (featurize, compaction): it holds
// the part's rows, so the statistics stage of a run need not read the part back.
import { encodeStats, statsOfRows } from '../stats/index.js';
import { partStatsKey, type PartStatsTarget } from '../stats/part-stats.js';
import type { TaskContext } from './context.js';

/**
 * Writes the statistics of a part's rows (the same float32 rows and kernels as the statistics
 * task). Anything wrong — a NaN feature — is left to that task, which names the row's image.
 */
export async function writePartStats(
  target: PartStatsTarget,
  part: { file: string; fingerprint: string },
  rows: Float32Array,
  n: number,
  dim: number,
  ctx: TaskContext,
): Promise<void> {
  if (n === 0) return;
  let bytes: Uint8Array;
  try {
    bytes = encodeStats(await statsOfRows(rows, n, dim));
  } catch {
    return;
  }
  await ctx.store(target.store).write(partStatsKey(part, target.featurizer), bytes);
}
