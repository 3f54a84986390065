// The jobs after featurization: statistics (a tree of merge-able partial statistics), the PCA
// fit, and the transform of every features part. Each plans tasks for a runner, checks what an
// earlier run already finished, and writes only through stores.
import { checkOutputLocation, noDatasetError } from '../sink/dataset.js';
import {
  MANIFEST,
  PART_FILE,
  PARTS_DIR,
  REDUCED_FORMAT,
  SUCCESS,
  fitInfoSchema,
  readJson,
  readJsonOrNothing,
  reducedManifestHeadSchema,
  sidecarKey,
  statsSummarySchema,
  transformSummarySchema,
  writeJson,
} from '../sink/formats.js';
import { readFeaturesManifest, type FeaturesManifest } from '../sink/manifest.js';
// The light modules only: the coordinator plans and checks, the workers compute (no ONNX Runtime here).
import { parsePcaModel, portableKeyOf, summarizePcaModel, IncompatibleFeaturesError, checkCompatible, type PcaSummary } from '../pca/model.js';
import type { ComponentSelection } from '../pca/select-components.js';
import type { ScaleMode } from '../pca/scaling.js';
import type { Store } from '../storage/store.js';
import type { Runner } from '../runner/runner.js';
import type { Task, TaskResult } from '../tasks/index.js';
import type { StatsResult } from '../tasks/statistics.js';
import type { FitResult } from '../tasks/fit.js';
import type { ScatterSample, TransformResult, TransformTask } from '../tasks/transform.js';
import type { Progress } from '../util/progress.js';
import { UserError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
import { inputSizeOfId } from '../model/spec.js';
import { SOFTWARE } from '../version.js';
import { z } from 'zod';
import { beginWrite, commitWrite, footerMetadata } from '../sink/commit.js';
import { PART_STATS_DIR, partStatsKey } from '../stats/part-stats.js';

export const STATS_FILE = 'stats.bin';
export const MODEL_FILE = 'model.json';
const STATS_INFO = '_stats.json';
const FIT_INFO = '_fit.json';

export interface StageOptions {
  runner: Runner;
  progress: Progress;
}

/** A complete features dataset, or one clear line saying why not. */
export async function completeFeatures(features: Store): Promise<FeaturesManifest> {
  const manifest = await readFeaturesManifest(features);
  if (!manifest) throw await noDatasetError(features, `not a fruits features dataset (no ${MANIFEST})`);
  if (!(await features.exists(SUCCESS)) || manifest.status !== 'complete' || !manifest.partitions) {
    throw new UserError(`${features.root}: the features dataset is not complete (no ${SUCCESS}); finish or rerun its featurize first`);
  }
  return manifest;
}

/** A featurizer by its weights, and the input size when not the declared one (`<id>@<n>`). */
export function featurizerKeyOf(model: { id: string; sha256: string }): string {
  return inputSizeOfId(model.id) === undefined ? model.sha256 : `${model.sha256}@${inputSizeOfId(model.id)}`;
}

/** The featurizer of a features dataset. */
function featurizerKey(m: FeaturesManifest): string {
  return featurizerKeyOf(m.config.model);
}

/** Identifies a features dataset's content: the parts' fingerprints and the model. */
export function featuresFingerprint(m: FeaturesManifest): string {
  return sha256Hex(JSON.stringify([featurizerKey(m), (m.partitions ?? []).map((p) => [p.file, p.fingerprint, p.rows])]));
}

async function runAll(runner: Runner, tasks: Task[], progress: Progress): Promise<TaskResult[]> {
  return runner.run(tasks, { onProgress: (n) => progress.tick(n) });
}

export type StatsSummary = z.infer<typeof statsSummarySchema>;

/**
 * A PCA folder holds the fit of one featurizer: fitting features of another network, other weights
 * or another input size there would replace it by mistake (and mean nothing to what it reduced).
 */
async function checkPcaFolder(pca: Store, manifest: FeaturesManifest): Promise<void> {
  if (!(await pca.exists(MODEL_FILE))) return;
  // _fit.json names the featurizer of the model written with it: no need to read ~16 MB to know.
  const info = await readJsonOrNothing(pca, FIT_INFO, fitInfoSchema);
  const fitted = info?.summary?.featurizer ?? (await fittedModel(pca, info)).summary.featurizer;
  const { id, sha256 } = manifest.config.model;
  if (fitted.modelId !== id || fitted.sha256 !== sha256) {
    throw new UserError(`${pca.root} holds a PCA fitted on features of ${fitted.modelId} (${fitted.sha256.slice(0, 12)}…), these are of ${id} (${sha256.slice(0, 12)}…); fit into another folder`);
  }
}

/**
 * Statistics of each part (kept: an update computes them only for its new parts), then merged as
 * a tree (fan-in `fanIn`) into STATS_FILE in the `pca` store. The tree is fixed by the part list
 * alone, so every runner merges in the same order and gets the same numbers.
 */
export async function statisticsJob(
  features: Store,
  pca: Store,
  opts: StageOptions & {
    fanIn?: number;
    /**
     * The part statistics files there were before this run: the others were computed by it (by
     * the tasks that made their parts), and count as computed.
     */
    existedBefore?: ReadonlySet<string>;
  },
): Promise<StatsSummary> {
  const t0 = performance.now();
  const manifest = await completeFeatures(features);
  await checkPcaFolder(pca, manifest);
  const fingerprint = featuresFingerprint(manifest);
  const done = await readJsonOrNothing(pca, STATS_INFO, statsSummarySchema);
  if (done?.fingerprint === fingerprint && (await pca.exists(STATS_FILE))) return { ...done, resumed: true, computedParts: 0 };

  const parts = (manifest.partitions ?? []).filter((p) => p.rows > 0);
  if (parts.length === 0) throw new UserError(`${features.root}: no rows to fit a PCA on`);
  const fanIn = opts.fanIn ?? 8;
  const dir = '_stats';
  const featurizer = featurizerKey(manifest);
  const level0 = parts.map((p) => partStatsKey(p, featurizer));
  let level: string[] = level0;
  const missing: Task[] = [];
  for (const [i, p] of parts.entries()) {
    const file = level0[i];
    if (!(await pca.exists(file))) missing.push({ kind: 'stats', features: features.root, parts: [p.file], output: pca.root, file });
  }
  opts.progress.stage('statistics', parts.length, 'parts');
  opts.progress.tick(parts.length - missing.length);
  await runAll(opts.runner, missing, opts.progress);
  // Statistics of parts the dataset no longer holds are not merged again, nor kept.
  const current = new Set(level);
  const unused: string[] = [];
  for await (const o of pca.list(PART_STATS_DIR)) if (!current.has(o.key)) unused.push(o.key);
  for (const key of unused) await pca.deletePrefix(key);
  // Merge levels until one file remains; the last merge writes STATS_FILE itself. An inner node is
  // named after its inputs (themselves named after their content), so a node whose inputs did not
  // change is kept from the previous run: an update merges only the path from its new parts to the
  // root, and the numbers are those of merging the whole tree again (same tree, same order).
  let depth = 1;
  let result: StatsResult | undefined;
  const tree = new Set<string>();
  do {
    const next: string[] = [];
    const merges: Task[] = [];
    const last = level.length <= fanIn;
    for (let i = 0; i < level.length; i += fanIn) {
      const inputs = level.slice(i, i + fanIn);
      const file = last ? STATS_FILE : `${dir}/l${depth}-${sha256Hex(inputs.join('\n')).slice(0, 24)}.bin`;
      next.push(file);
      tree.add(file);
      if (last || !(await pca.exists(file))) merges.push({ kind: 'merge-stats', store: pca.root, inputs, file });
    }
    const results = await runAll(opts.runner, merges, opts.progress);
    if (last) result = results[0] as StatsResult;
    level = next;
    depth++;
  } while (level.length > 1);
  if (!result) throw new Error('statistics: the merge tree has no root');
  // Inner nodes of earlier trees are removed; the per-part statistics and this tree are kept.
  const levels: string[] = [];
  for await (const o of pca.list(dir)) if (/^_stats\/l\d+-/.test(o.key) && !tree.has(o.key)) levels.push(o.key);
  for (const key of levels) await pca.deletePrefix(key);
  const summary: StatsSummary = {
    rows: result.rows,
    dim: result.dim,
    fingerprint,
    seconds: (performance.now() - t0) / 1000,
    resumed: false,
    computedParts: opts.existedBefore ? level0.filter((key) => !opts.existedBefore!.has(key)).length : missing.length,
    parts: parts.length,
  };
  await writeJson(pca, STATS_INFO, summary);
  return summary;
}

export interface FitSummary extends FitResult {
  resumed: boolean;
}

/**
 * The model.json in `pca`, its sha256 and summary: the summary of `info` (the _fit.json the caller
 * read) when it describes that very file (hashed, not parsed), else the parsed file's.
 */
async function fittedModel(pca: Store, info: z.infer<typeof fitInfoSchema> | undefined): Promise<{ sha256: string; summary: PcaSummary }> {
  const bytes = await pca.read(MODEL_FILE);
  const sha256 = sha256Hex(bytes);
  if (info?.summary && info.modelSha256 === sha256) return { sha256, summary: info.summary };
  return { sha256, summary: summarizePcaModel(parsePcaModel(bytes.toString('utf8'), pca.uriOf(MODEL_FILE))) };
}

/** A --k beyond the feature dimension is a mistake to report before any work, not a task to retry. */
export function checkComponentCount(components: ComponentSelection, dim: number): void {
  if ('k' in components && components.k > dim) throw new UserError(`--k ${components.k} is more than the feature dimension ${dim}`);
}

export async function fitJob(
  pca: Store,
  opts: StageOptions & { scale: ScaleMode; components: ComponentSelection; featurizer: { modelId: string; sha256: string } },
): Promise<FitSummary> {
  const stats = await readJson(pca, STATS_INFO, statsSummarySchema);
  if (!stats) throw new UserError(`${pca.root}: no statistics (${STATS_FILE}) to fit from`);
  checkComponentCount(opts.components, stats.dim);
  const key = JSON.stringify({ stats: stats.fingerprint, scale: opts.scale, components: opts.components });
  const previous = await readJsonOrNothing(pca, FIT_INFO, fitInfoSchema);
  // An output from before model.onnx existed refits once (~1 s) to get it.
  if (previous?.key === key && (await pca.exists(MODEL_FILE)) && (await pca.exists(portableKeyOf(MODEL_FILE)))) {
    const model = await fittedModel(pca, previous);
    const { key: _key, ...result } = previous;
    return { ...result, resumed: true, modelSha256: model.sha256, summary: model.summary };
  }
  opts.progress.stage('fit', 1, 'steps');
  const [r] = await runAll(
    opts.runner,
    [{ kind: 'fit', store: pca.root, statsFile: STATS_FILE, modelFile: MODEL_FILE, scale: opts.scale, components: opts.components, featurizer: opts.featurizer }],
    opts.progress,
  );
  const result = r as FitResult;
  await writeJson(pca, FIT_INFO, { ...result, key });
  return { ...result, resumed: false };
}

/**
 * --keep-pca: the model an earlier run fitted, used as it is (new rows are projected with it;
 * nothing is recomputed). Undefined when there is none yet.
 */
export async function keptFit(pca: Store): Promise<{ statistics: StatsSummary; fit: FitSummary } | undefined> {
  const [stats, info] = await Promise.all([readJsonOrNothing(pca, STATS_INFO, statsSummarySchema), readJsonOrNothing(pca, FIT_INFO, fitInfoSchema)]);
  if (!stats || !info || !(await pca.exists(MODEL_FILE))) return undefined;
  const { sha256, summary } = await fittedModel(pca, info);
  const { key: _key, ...result } = info;
  // Nothing was computed for them in this run: their times are not this run's.
  return {
    statistics: { ...stats, seconds: 0, resumed: true, computedParts: 0 },
    fit: { ...result, seconds: 0, resumed: true, modelSha256: sha256, summary },
  };
}

/** `s3://b/x/model.json` → store of `s3://b/x` and key `model.json`; a folder → its model.json. */
export function splitModelLocation(location: string): { dir: string; file: string } {
  if (/\.json$/i.test(location)) {
    const i = location.replace(/\/+$/, '').lastIndexOf('/');
    return i < 0 ? { dir: '.', file: location } : { dir: location.slice(0, i) || '/', file: location.slice(i + 1) };
  }
  return { dir: location, file: MODEL_FILE };
}

/** A PCA model file, parsed, with the sha256 of its bytes. */
async function loadPcaModel(pca: { store: Store; file: string }): Promise<{ model: TransformModel; sha256: string }> {
  let bytes: Buffer;
  try {
    bytes = await pca.store.read(pca.file);
  } catch {
    throw new UserError(`${pca.store.uriOf(pca.file)}: no PCA model there`);
  }
  return { model: parsePcaModel(bytes.toString('utf8'), pca.store.uriOf(pca.file)), sha256: sha256Hex(bytes) };
}

/** What the transform job checks and records of the model (the tasks read the model file itself). */
type TransformModel = Pick<PcaSummary, 'featurizer' | 'dim' | 'k' | 'selection' | 'rowsFitted'>;

export interface TransformSummary {
  output: string;
  rows: number;
  parts: number;
  resumedParts: number;
  k: number;
  seconds: number;
  sample: ScatterSample[];
  featuresVersion?: number;
}

export async function transformJob(
  features: Store,
  pca: { store: Store; file: string; loaded?: { model: TransformModel; sha256: string } },
  output: Store,
  opts: StageOptions & { csv?: Store; overwrite?: boolean; samplePoints?: number },
): Promise<TransformSummary> {
  const t0 = performance.now();
  const manifest = await completeFeatures(features);
  const { model, sha256: pcaSha256 } = pca.loaded ?? (await loadPcaModel(pca));
  try {
    checkCompatible(model, { modelId: manifest.config.model.id, sha256: manifest.config.model.sha256, dim: manifest.featureDim });
  } catch (err) {
    if (err instanceof IncompatibleFeaturesError) throw new UserError(`${features.root}: ${err.message}`);
    throw err;
  }
  const state = await checkOutputLocation(output, REDUCED_FORMAT);
  if (state === 'previous' && opts.overwrite) await output.deletePrefix('');
  if (opts.csv && opts.overwrite) await opts.csv.deletePrefix('');
  const previous = state === 'previous' && !opts.overwrite ? await readJson(output, MANIFEST, reducedManifestHeadSchema) : undefined;
  if (previous && previous.pcaSha256 !== pcaSha256) {
    throw new UserError(`output ${output.root} holds a transform with another PCA model; pass --overwrite to replace it`);
  }
  const base = {
    format: REDUCED_FORMAT,
    formatVersion: 1,
    software: SOFTWARE,
    features: features.root,
    pca: pca.store.uriOf(pca.file),
    pcaSha256,
    k: model.k,
    featurizer: model.featurizer,
  };
  await beginWrite(output, { ...base, status: 'running' });

  const parts = manifest.partitions ?? [];
  // Each part's share of the report's sample follows its rows (parts differ in size: the last
  // one, and parts with rejects), so a dataset under the cap is shown whole.
  const cap = opts.samplePoints ?? 5000;
  const totalRows = parts.reduce((s, p) => s + p.rows, 0);
  const sampleOf = (rows: number) => (totalRows <= cap ? rows : Math.floor((cap * rows) / totalRows));
  const metadata = footerMetadata(REDUCED_FORMAT, { id: model.featurizer.modelId, sha256: model.featurizer.sha256 }, model.k, { 'fruits.pca_sha256': pcaSha256 });
  const results: TransformResult[] = [];
  const tasks: TransformTask[] = [];
  for (const p of parts) {
    const done = await readJsonOrNothing(output, sidecarKey(p.file), transformSummarySchema);
    if (done && done.fingerprint === p.fingerprint && done.pcaSha256 === pcaSha256 && (await output.exists(p.file)) && (!opts.csv || (await opts.csv.exists(p.file.replace(/\.parquet$/, '.csv'))))) {
      results.push(done);
      continue;
    }
    tasks.push({
      kind: 'transform',
      features: features.root,
      part: p.file,
      pcaStore: pca.store.root,
      pcaFile: pca.file,
      pcaSha256,
      output: output.root,
      csvOutput: opts.csv?.root,
      metadata,
      fingerprint: p.fingerprint,
      samplePoints: sampleOf(p.rows),
    });
  }
  const resumedParts = results.length;
  // Parts of an earlier version of the features dataset are gone from it: gone from here too.
  const current = new Set(parts.map((p) => p.file));
  const stale: string[] = [];
  for await (const o of output.list('')) {
    const name = o.key.startsWith(`${PARTS_DIR}/`) ? o.key.slice(PARTS_DIR.length + 1).replace(/\.json$/, '.parquet') : o.key;
    if (PART_FILE.test(name) && !current.has(name)) stale.push(o.key);
  }
  for (const key of stale) await output.deletePrefix(key);
  if (opts.csv) {
    const staleCsv: string[] = [];
    for await (const o of opts.csv.list('')) if (PART_FILE.test(o.key.replace(/\.csv$/, '.parquet')) && !current.has(o.key.replace(/\.csv$/, '.parquet'))) staleCsv.push(o.key);
    for (const key of staleCsv) await opts.csv.deletePrefix(key);
  }
  opts.progress.stage('transform', parts.length, 'parts');
  opts.progress.tick(resumedParts);
  for (const r of await runAll(opts.runner, tasks, opts.progress)) results.push(r as TransformResult);
  results.sort((a, b) => (a.part < b.part ? -1 : 1));
  const rows = results.reduce((s, r) => s + r.rows, 0);
  const seconds = (performance.now() - t0) / 1000;
  const finished = {
    ...base,
    status: 'complete',
    counts: { rows, parts: results.length },
    columns: [
      { name: 'path', type: 'string' },
      { name: 'label', type: 'string' },
      { name: 'features', type: `list<float32>[${model.k}]` },
    ],
    partitions: results.map((r) => ({ file: r.part, rows: r.rows, fingerprint: r.fingerprint })),
    featuresVersion: manifest.version,
    timings: { seconds, resumedParts },
  };
  await commitWrite(output, finished, opts.csv ? [opts.csv] : []);
  return { output: output.root, rows, parts: results.length, resumedParts, k: model.k, seconds, sample: results.flatMap((r) => r.sample), featuresVersion: manifest.version };
}
