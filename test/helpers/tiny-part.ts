// A features part of three rows, for tests of the runners that need a real task but not a model.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { encodeFeatures } from '../../src/sink/parquet.js';
import type { StatsTask } from '../../src/tasks/statistics.js';

export const TINY_DIM = 4;

/** Writes `root/features/part-00000.parquet`: 3 rows × TINY_DIM, a NaN at [row, feature] if asked. */
export async function writeTinyPart(root: string, nanAt?: { row: number; feature: number }): Promise<void> {
  const features = Float32Array.from({ length: 3 * TINY_DIM }, (_, i) => i / 7);
  if (nanAt) features[nanAt.row * TINY_DIM + nanAt.feature] = Number.NaN;
  const bytes = encodeFeatures({ path: ['Apple/a.jpg', 'Apple/b.jpg', 'Kiwi/c.jpg'], label: ['Apple', 'Apple', 'Kiwi'], dim: TINY_DIM, features }, {});
  await fs.mkdir(path.join(root, 'features'), { recursive: true });
  await fs.writeFile(path.join(root, 'features', 'part-00000.parquet'), bytes);
}

/** A statistics task over one part of `root/features`, writing its own file under `root/pca`. */
export function statsTask(root: string, part: string, n: number): StatsTask {
  return { kind: 'stats', features: path.join(root, 'features'), parts: [part], output: path.join(root, 'pca'), file: `_stats/g-${n}.bin` };
}
