// The featurize job: list → partition → featurize tasks on a runner → manifest, rejects,
// _SUCCESS. Resumable: a partition whose part and summary exist with the same fingerprint is
// not run again.
import sharp from 'sharp';
import { assertHasImages, listImages } from '../source/listing.js';
import { partFileName, planPartitions, writePlan, type Partition } from '../source/partition.js';
import { toCsv } from '../sink/csv.js';
import { checkOutputLocation } from '../sink/dataset.js';
import { FEATURES_FORMAT, MANIFEST, REJECTS, partSummarySchema, readJsonOrNothing, sidecarKey, writeJson, type IndexEntry } from '../sink/formats.js';
import { configDifference, readFeaturesManifest, type FeaturesManifest, type JobConfig } from '../sink/manifest.js';
import { IndexWriter } from '../sink/dataset-index.js';
import { acquireLock, type DatasetLock } from '../sink/lock.js';
import { rollForward, updateDataset, type VersionChange } from './update.js';
import type { Store } from '../storage/store.js';
import type { ModelRef, ResolvedModel } from '../model/resolve.js';
import type { FeaturizeResult, FeaturizeTask, Reject } from '../tasks/featurize-partition.js';
import type { Task } from '../tasks/index.js';
import type { Runner } from '../runner/runner.js';
import type { PartStatsTarget } from '../stats/part-stats.js';
import type { Progress } from '../util/progress.js';
import type { Logger } from '../util/logger.js';
import { UserError } from '../util/errors.js';
import { SOFTWARE } from '../version.js';
import { beginWrite, commitWrite, footerMetadata } from '../sink/commit.js';

export interface FeaturizeJobOptions {
  input: Store;
  output: Store;
  model: ResolvedModel;
  batchSize: number;
  partitionSize: number;
  limit?: number;
  maxPixels: number;
  overwrite: boolean;
  /** Fail (non-zero exit, no _SUCCESS) when rejects / listed exceeds this. */
  maxRejectRatio?: number;
  /** An update may remove more than half of the dataset's images (or all of them). */
  allowRemovals?: boolean;
  runner: Runner;
  progress: Progress;
  log: Logger;
  /** Where a run keeps the statistics of parts: the tasks that make parts write them there. */
  partStats?: PartStatsTarget;
}

export interface FeaturizeSummary {
  output: string;
  listed: number;
  rows: number;
  rejects: number;
  /** The first rejects (at most 1,000; all of them are in _rejects.csv). */
  rejectList: Reject[];
  labels: number;
  partitions: number;
  resumedPartitions: number;
  seconds: number;
  imagesPerSecond: number;
  manifest: FeaturesManifest;
  /** The dataset version after this run, and what this run changed (absent for a first run). */
  version?: number;
  update?: VersionChange;
}

export class TooManyRejectsError extends UserError {
  override readonly exitCode = 3;
  constructor(readonly summary: FeaturizeSummary, ratio: number, limit: number) {
    super(`${summary.rejects} of ${summary.listed} images rejected (${(ratio * 100).toFixed(1)}% > --max-reject-ratio ${limit}); see ${summary.output}/${REJECTS}`);
  }
}

export function preprocessingOf(model: ResolvedModel, maxPixels: number): Record<string, string | number> {
  const { width, height, layout } = model.spec.input;
  return {
    decoder: `sharp ${sharp.versions.sharp ?? ''} / libvips ${sharp.versions.vips}`.trim(),
    orientation: 'EXIF orientation applied',
    colour: 'any colour space, alpha (flattened on white), bit depth or palette → 8-bit sRGB',
    resize: `bilinear (half-pixel centres) to ${width}×${height}, aspect ratio not kept, in ONNX Runtime; photos larger than twice that size are first shrunk by sharp to fit within it (lanczos3, aspect kept)`,
    normalize: JSON.stringify(model.spec.normalize),
    layout,
    maxPixels,
  };
}

async function* tap<T>(source: AsyncIterable<T>, onItem: (item: T) => void): AsyncIterable<T> {
  for await (const item of source) {
    onItem(item);
    yield item;
  }
}

/** Footer metadata shared by every part of a features dataset. */
export function featuresFooter(config: JobConfig, dim: number): Record<string, string> {
  return footerMetadata(FEATURES_FORMAT, config.model, dim, { 'fruits.preprocessing': JSON.stringify(config.preprocessing) });
}

/** What a task needs to find and load the network on any worker. */
const modelRefOf = (model: ResolvedModel): ModelRef => ({ spec: model.spec, sha256: model.sha256, path: model.path });

export async function featurizeJob(opts: FeaturizeJobOptions): Promise<FeaturizeSummary> {
  const t0 = performance.now();
  const { input, output, model, log } = opts;

  // Input first: a missing folder or one without images is one clear line, and nothing is written.
  await assertHasImages(input);

  const config: JobConfig = {
    input: input.root,
    partitionSize: opts.partitionSize,
    limit: opts.limit ?? null,
    maxPixels: opts.maxPixels,
    model: { id: model.spec.id, sha256: model.sha256, spec: model.spec },
    preprocessing: preprocessingOf(model, opts.maxPixels),
  };

  const state = await checkOutputLocation(output, FEATURES_FORMAT);
  let previous: FeaturesManifest | undefined;
  if (state === 'previous' && !opts.overwrite) {
    previous = await readFeaturesManifest(output);
    const diff = previous && configDifference(previous.config, config);
    if (diff) throw new UserError(`output ${output.root} holds a run with other settings (${diff}); pass --overwrite to replace it, or choose another output`);
  }
  // Workers may load the network now, while this process lists the input and reads the index
  // (and the PCA's kernels, when a run's statistics, fit and projections follow).
  opts.runner.warm?.(modelRefOf(model), opts.partStats !== undefined);
  const lock = await acquireLock(output, 'fruits featurize', log);
  try {
    if (state === 'previous' && opts.overwrite) {
      log.info(`--overwrite: removing the previous output in ${output.root}`);
      await output.deletePrefix('');
      await lock.rewrite();
    }
    if (previous?.status === 'committing') previous = await rollForward(output, previous, log);
    if (previous?.status === 'complete' && previous.version !== undefined && previous.index) {
      return await updateJob(opts, previous, config, lock, t0);
    }
    return await firstRun(opts, previous, config, lock, t0);
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/** A dataset that holds a complete version: only what changed in the input is done. */
async function updateJob(opts: FeaturizeJobOptions, previous: FeaturesManifest, config: JobConfig, lock: DatasetLock, t0: number): Promise<FeaturizeSummary> {
  const { input, output, model } = opts;
  const r = await updateDataset({
    input,
    output,
    previous,
    partitionSize: opts.partitionSize,
    limit: opts.limit,
    batchSize: opts.batchSize,
    maxPixels: opts.maxPixels,
    allowRemovals: opts.allowRemovals ?? false,
    metadata: featuresFooter(config, model.spec.feature.dim),
    model: modelRefOf(model),
    runner: opts.runner,
    progress: opts.progress,
    log: opts.log,
    lock,
    partStats: opts.partStats,
  });
  const seconds = (performance.now() - t0) / 1000;
  const m = r.manifest;
  const partitions = m.partitions?.length ?? 0;
  const manifest: FeaturesManifest = r.change.unchanged
    ? m
    : {
        ...m,
        timings: { seconds, imagesPerSecond: r.change.featurized / seconds, resumedPartitions: partitions - r.change.partsAdded.length, taskSeconds: r.taskSeconds },
      };
  if (!r.change.unchanged) await writeJson(output, MANIFEST, manifest);
  if (r.change.unchanged) opts.log.info(`${output.root}: no new, changed or removed images; version ${m.version} kept`);
  return {
    output: output.root,
    listed: r.listed,
    rows: m.counts?.rows ?? 0,
    rejects: m.counts?.rejects ?? 0,
    rejectList: r.rejectList,
    labels: m.counts?.labels ?? 0,
    partitions,
    resumedPartitions: partitions - r.change.partsAdded.length,
    seconds,
    imagesPerSecond: r.change.featurized / seconds,
    manifest,
    version: m.version,
    update: r.change,
  };
}

/** The first version of a dataset (or the rest of an interrupted first run): partitions in listing order. */
async function firstRun(opts: FeaturizeJobOptions, previous: FeaturesManifest | undefined, config: JobConfig, lock: DatasetLock, t0: number): Promise<FeaturizeSummary> {
  const { input, output, model, log } = opts;
  log.info(`featurizing ${input.root} → ${output.root} with ${model.spec.id} (${model.sha256.slice(0, 12)}…)`);
  const now = new Date().toISOString();
  const columns = [
    { name: 'path', type: 'string' },
    { name: 'label', type: 'string' },
    { name: 'features', type: `list<float32>[${model.spec.feature.dim}]` },
    { name: 'width', type: 'int32' },
    { name: 'height', type: 'int32' },
    { name: 'sha256', type: 'string' },
  ];
  const manifest: FeaturesManifest = {
    format: FEATURES_FORMAT,
    formatVersion: 1,
    status: 'running',
    software: SOFTWARE,
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
    output: output.root,
    config,
    featureDim: model.spec.feature.dim,
    columns,
  };
  // From here on the dataset is being changed: it is not complete until _SUCCESS comes back.
  await beginWrite(output, manifest);
  const { results, listed, partitions, resumed, resumedImages } = await featurizePartitions(opts, previous, config);
  await removeStaleParts(output, partitions);

  const rowsPerLabel: Record<string, number> = {};
  for (const r of results) for (const [l, c] of Object.entries(r.labels)) rowsPerLabel[l] = (rowsPerLabel[l] ?? 0) + c;
  const sortedLabels = Object.fromEntries(Object.entries(rowsPerLabel).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const rejects = results.flatMap((r) => r.rejects);
  await output.write(REJECTS, toCsv(['path', 'label', 'reason'], rejects.map((r) => [r.path, r.label, r.reason])));

  const seconds = (performance.now() - t0) / 1000;
  const rows = results.reduce((s, r) => s + r.rows, 0);
  const sum = (k: 'read' | 'decode' | 'infer' | 'write') => results.reduce((s, r) => s + r.seconds[k], 0);
  const ratio = listed === 0 ? 0 : rejects.length / listed;
  const tooMany = opts.maxRejectRatio !== undefined && ratio > opts.maxRejectRatio;
  const index = await firstIndex(output, results);
  await lock.assertHeld();
  const finished: FeaturesManifest = {
    ...manifest,
    status: tooMany ? 'too_many_rejects' : 'complete',
    updatedAt: new Date().toISOString(),
    counts: { listed, rows, rejects: rejects.length, labels: Object.keys(rowsPerLabel).length, partitions },
    rowsPerLabel: sortedLabels,
    partitions: results.map((r) => ({ index: r.index, file: r.file, rows: r.rows, rejects: r.rejects.length, fingerprint: r.fingerprint, bytes: r.bytes })),
    timings: {
      seconds,
      imagesPerSecond: (listed - resumedImages) / seconds,
      resumedPartitions: resumed,
      taskSeconds: { read: sum('read'), decode: sum('decode'), infer: sum('infer'), write: sum('write') },
    },
    ...(index && {
      version: 1,
      index,
      versions: [
        {
          version: 1,
          time: new Date().toISOString(),
          images: { added: listed, changed: 0, removed: 0 },
          parts: { added: results.map((r) => r.file), removed: [] },
          rows,
          featurizer: { id: model.spec.id, sha256: model.sha256 },
          kind: 'full' as const,
        },
      ],
    }),
  };
  const summary: FeaturizeSummary = {
    output: output.root,
    listed,
    rows,
    rejects: rejects.length,
    rejectList: rejects.slice(0, 1000),
    labels: Object.keys(rowsPerLabel).length,
    partitions,
    resumedPartitions: resumed,
    seconds,
    imagesPerSecond: finished.timings!.imagesPerSecond,
    manifest: finished,
    version: finished.version,
  };
  if (tooMany) {
    await writeJson(output, MANIFEST, finished); // says why, and stays without _SUCCESS
    throw new TooManyRejectsError(summary, ratio, opts.maxRejectRatio!);
  }
  await commitWrite(output, finished);
  return summary;
}

/**
 * Featurizes the listing's partitions in order; a partition an interrupted run finished (same
 * fingerprint, its part there) is taken as it is. Results come back in partition order.
 */
async function featurizePartitions(
  opts: FeaturizeJobOptions,
  previous: FeaturesManifest | undefined,
  config: JobConfig,
): Promise<{ results: FeaturizeResult[]; listed: number; partitions: number; resumed: number; resumedImages: number }> {
  const { input, output, model, log } = opts;
  const metadata = featuresFooter(config, model.spec.feature.dim);
  const modelRef = modelRefOf(model);

  const results: FeaturizeResult[] = [];
  let listed = 0;
  let resumed = 0;
  let resumedImages = 0; // processed by an earlier run: not part of this run's rate
  const images = tap(listImages(input, { limit: opts.limit }), () => listed++);

  // Counting runs beside the work so the progress display gets a total (and an ETA) early.
  void (async () => {
    let total = 0;
    for await (const _ of listImages(input, { limit: opts.limit })) total++;
    opts.progress.setTotal(total);
  })().catch(() => undefined);

  const isDone = async (p: Partition): Promise<FeaturizeResult | undefined> => {
    if (!previous) return undefined;
    const file = partFileName(p.index);
    const summary = await readJsonOrNothing(output, sidecarKey(file), partSummarySchema);
    if (summary?.fingerprint !== p.fingerprint || !(await output.exists(file))) return undefined;
    const { entries: _entries, ...result } = summary;
    return result;
  };

  let partitions = 0;
  async function* tasks(): AsyncIterable<Task> {
    for await (const p of planPartitions(images, opts.partitionSize)) {
      partitions++;
      const done = await isDone(p);
      if (done) {
        resumed++;
        resumedImages += p.images.length;
        results.push(done);
        opts.progress.tick(p.images.length);
        continue;
      }
      const task: FeaturizeTask = {
        kind: 'featurize',
        input: input.root,
        output: output.root,
        partition: p.index,
        plan: await writePlan(output, p),
        model: modelRef,
        batchSize: opts.batchSize,
        maxPixels: opts.maxPixels,
        metadata,
        stats: opts.partStats,
      };
      yield task;
    }
  }

  opts.progress.stage('featurize', undefined, 'images');
  await opts.runner.run(tasks(), {
    onProgress: (n) => opts.progress.tick(n),
    onResult: (r) => {
      if (r.kind === 'featurize') results.push(r);
    },
  });
  opts.progress.stop();
  if (resumed > 0) log.info(`resumed: ${resumed} of ${partitions} partitions were already complete`);

  results.sort((a, b) => a.index - b.index);
  return { results, listed, partitions, resumed, resumedImages };
}

/**
 * The index of a first version, from the partitions' summaries in partition order (which is key
 * order). Undefined when a summary has no entries (parts of an older build): such a dataset is
 * resumed as before, and updated only after one --overwrite.
 */
async function firstIndex(output: Store, results: readonly FeaturizeResult[]) {
  const writer = new IndexWriter(output);
  for (const r of results) {
    const summary = await readJsonOrNothing(output, sidecarKey(r.file), partSummarySchema);
    if (!summary?.entries) return undefined;
    for (const e of summary.entries) await writer.add((e.r === undefined ? { ...e, p: r.file } : e) satisfies IndexEntry);
  }
  return writer.close();
}

/** Parts left from an earlier, larger listing would add rows that are no longer in the input;
 * temporaries left by a killed run would only take space. */
async function removeStaleParts(output: Store, partitions: number): Promise<void> {
  const stale: string[] = [];
  for await (const obj of output.list('')) {
    const m = /^(?:_parts\/|_plan\/)?part-(\d{5,})\.(parquet|json)$/.exec(obj.key);
    if (m && Number(m[1]) >= partitions) stale.push(obj.key);
    // Temporaries of writes cut short by a crash (LocalStore's hidden `.name.pid.rand.tmp`).
    else if (/(^|\/)\.[^/]+\.tmp$/.test(obj.key)) stale.push(obj.key);
  }
  for (const key of stale) await output.deletePrefix(key);
}
