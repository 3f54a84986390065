// The compaction task: rows of existing feature parts in → one new part out, without decoding a
// photo or running the network. It rewrites parts that lose rows (deleted or re-shot photos) and
// packs undersized parts together. Rows keep their stored features byte for byte.
import { encodeFeatures } from '../sink/parquet.js';
import { readPart } from '../sink/read-dataset.js';
import { sidecarKey, writeJson } from '../sink/formats.js';
import { sha256Hex } from '../util/hash.js';
import type { TaskContext } from './context.js';
import { countLabels } from './featurize-partition.js';
import { writePartStats } from './part-stats.js';
import type { PartStatsTarget } from '../stats/part-stats.js';

export interface CompactTask {
  kind: 'compact';
  /** The dataset the input parts are read from. */
  features: string;
  /** Where the new part goes (the update's staging folder) and its name. */
  output: string;
  file: string;
  /** Input parts in order, each with the keys of the rows it no longer holds. */
  inputs: { part: string; drop: string[] }[];
  metadata: Record<string, string>;
  /** Identifies the inputs: a rerun keeps a part whose summary carries the same one. */
  planFingerprint: string;
  /** In a run: also write the new part's statistics there (see stats/part-stats.ts). */
  stats?: PartStatsTarget;
}

export interface CompactResult {
  kind: 'compact';
  file: string;
  rows: number;
  labels: Record<string, number>;
  /** Identifies the rows (paths and their photos' sha256). */
  fingerprint: string;
  planFingerprint: string;
  bytes: number;
  seconds: number;
}

export async function compactParts(task: CompactTask, ctx: TaskContext): Promise<CompactResult> {
  const t0 = performance.now();
  const features = ctx.store(task.features);
  const paths: string[] = [];
  const labels: string[] = [];
  const shas: string[] = [];
  const widths: number[] = [];
  const heights: number[] = [];
  const blocks: Float32Array[] = [];
  let dim = 0;
  for (const input of task.inputs) {
    const part = await readPart(features, input.part);
    const drop = new Set(input.drop);
    if (part.path.length > 0) dim ||= part.dim;
    for (let i = 0; i < part.path.length; i++) {
      if (drop.has(part.path[i])) continue;
      paths.push(part.path[i]);
      labels.push(part.label[i]);
      shas.push(part.sha256?.[i] ?? '');
      widths.push(part.width?.[i] ?? 0);
      heights.push(part.height?.[i] ?? 0);
      blocks.push(part.features.subarray(i * part.dim, (i + 1) * part.dim));
    }
    ctx.progress(1);
  }
  const values = new Float32Array(paths.length * dim);
  blocks.forEach((b, i) => values.set(b, i * dim));
  const bytes = encodeFeatures(
    { path: paths, label: labels, dim, features: values, width: Int32Array.from(widths), height: Int32Array.from(heights), sha256: shas },
    task.metadata,
  );
  const output = ctx.store(task.output);
  await output.write(task.file, bytes);
  const result: CompactResult = {
    kind: 'compact',
    file: task.file,
    rows: paths.length,
    labels: countLabels(labels),
    fingerprint: sha256Hex(paths.map((p, i) => `${p}\u0000${shas[i]}`).join('\n')),
    planFingerprint: task.planFingerprint,
    bytes: bytes.length,
    seconds: (performance.now() - t0) / 1000,
  };
  if (task.stats) await writePartStats(task.stats, result, values, paths.length, dim, ctx);
  await writeJson(output, sidecarKey(task.file), result);
  return result;
}
