// The transform task: one features part in → one reduced part (PCA scores) out, plus an optional
// CSV of the same rows and a small sample of (PC1, PC2) points for the report's scatter plot.
import { checkCompatible, parsePcaModel, project } from '../pca/index.js';
import { portableKeyOf, readPortableProjection } from '../pca/portable.js';
import { projectionOf, type Projection } from '../pca/project.js';
import { encodeFeatures } from '../sink/parquet.js';
import { readPart } from '../sink/read-dataset.js';
import { toCsv } from '../sink/csv.js';
import { sidecarKey, writeJson } from '../sink/formats.js';
import { sha256Hex } from '../util/hash.js';
import type { TaskContext } from './context.js';

export interface TransformTask {
  kind: 'transform';
  features: string;
  part: string;
  /** Store and key of the PCA model file. */
  pcaStore: string;
  pcaFile: string;
  /** sha256 of the model file: the task refuses a model that changed under it. */
  pcaSha256: string;
  output: string;
  /** Where the CSV copy goes (same part name, .csv), if wanted. */
  csvOutput?: string;
  /** Footer metadata of the reduced dataset. */
  metadata: Record<string, string>;
  /** Identifies the input part (its features summary fingerprint): resume checks it. */
  fingerprint: string;
  /** How many (PC1, PC2) points this part contributes to the report. */
  samplePoints: number;
}

export interface ScatterSample {
  pc1: number;
  pc2: number;
  label: string;
  path: string;
}

export interface TransformResult {
  kind: 'transform';
  part: string;
  rows: number;
  k: number;
  fingerprint: string;
  pcaSha256: string;
  sample: ScatterSample[];
  seconds: number;
}

/** The memo of a model's projection in a worker, by the sha256 of its model.json. */
export function pcaMemoKey(sha256: string): string {
  return `pca:${sha256}`;
}

/**
 * The projection of the task's model: from the model.onnx written with it when that names this
 * very model.json (its sha256), else from model.json itself, checked against the task's sha256.
 */
async function loadProjection(task: TransformTask, ctx: TaskContext): Promise<Projection> {
  return ctx.memo(pcaMemoKey(task.pcaSha256), async () => {
    const store = ctx.store(task.pcaStore);
    const portable = await store.read(portableKeyOf(task.pcaFile)).then(readPortableProjection, () => undefined);
    if (portable?.jsonSha256 === task.pcaSha256) return portable;
    const bytes = await store.read(task.pcaFile);
    const sha = sha256Hex(bytes);
    if (sha !== task.pcaSha256) throw new Error(`${store.uriOf(task.pcaFile)} changed during the run (sha256 ${sha.slice(0, 12)}…)`);
    return projectionOf(parsePcaModel(bytes.toString('utf8'), store.uriOf(task.pcaFile)));
  });
}

/** Evenly spaced rows: deterministic, and spread over the whole part. */
function sampleRows(n: number, want: number): number[] {
  if (want <= 0 || n === 0) return [];
  if (want >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: want }, (_, i) => Math.floor((i * n) / want));
}

export async function transformPart(task: TransformTask, ctx: TaskContext): Promise<TransformResult> {
  const t0 = performance.now();
  const model = await loadProjection(task, ctx);
  const features = ctx.store(task.features);
  const part = await readPart(features, task.part);
  const n = part.path.length;
  if (n > 0) {
    checkCompatible(model, {
      modelId: part.metadata['fruits.model_id'] ?? '',
      sha256: part.metadata['fruits.model_sha256'] ?? '',
      dim: part.dim,
    });
  }
  const scores = await project(model, part.features, n, 0, (i) => `${task.part} row ${i}: ${part.path[i]}`);
  const k = model.k;
  const output = ctx.store(task.output);
  await output.write(task.part, encodeFeatures({ path: part.path, label: part.label, dim: k, features: scores }, task.metadata));
  if (task.csvOutput) {
    const header = ['path', 'label', ...Array.from({ length: k }, (_, j) => `pc_${j + 1}`)];
    const rows = part.path.map((p, i) => [p, part.label[i], ...Array.from(scores.subarray(i * k, (i + 1) * k), (v) => v)]);
    await ctx.store(task.csvOutput).write(task.part.replace(/\.parquet$/, '.csv'), toCsv(header, rows));
  }
  const sample = sampleRows(n, task.samplePoints).map((i) => ({
    pc1: scores[i * k],
    pc2: k > 1 ? scores[i * k + 1] : 0,
    label: part.label[i],
    path: part.path[i],
  }));
  const result: TransformResult = {
    kind: 'transform',
    part: task.part,
    rows: n,
    k,
    fingerprint: task.fingerprint,
    pcaSha256: task.pcaSha256,
    sample,
    seconds: (performance.now() - t0) / 1000,
  };
  await writeJson(output, sidecarKey(task.part), result);
  ctx.progress(1);
  return result;
}
