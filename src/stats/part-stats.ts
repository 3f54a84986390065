// The statistics of one features part, as a run keeps them (`pca/_stats/parts/`): named after the
// part, its rows and the featurizer, so the same photos featurized with other weights or at
// another input size are another file, and a part is never counted twice. Written by the
// statistics stage — or by the task that made the part, which holds its rows then (featurize,
// compaction), so the stage need not read the part back.
// (Light on purpose: the coordinator names these files without loading the kernels.)
import { sha256Hex } from '../util/hash.js';

export const PART_STATS_DIR = '_stats/parts';

/** Where a part's statistics go: the PCA folder's store and the featurizer's key. */
export interface PartStatsTarget {
  store: string;
  featurizer: string;
}

export function partStatsKey(p: { file: string; fingerprint: string }, featurizer: string): string {
  return `${PART_STATS_DIR}/${p.file.replace(/\.parquet$/, '')}-${sha256Hex(`${p.fingerprint}\n${featurizer}`).slice(0, 16)}.bin`;
}
