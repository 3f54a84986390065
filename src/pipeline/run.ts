// `fruits run`: featurize → statistics → fit → transform → report, in one command, with stage
// outputs in subfolders. Every stage checks what an earlier run finished, so a rerun after a
// crash redoes only what is missing.
import { chooseRunId } from './run-id.js';
import { featurizeJob, type FeaturizeJobOptions, type FeaturizeSummary } from './featurize.js';
import { MODEL_FILE, featurizerKeyOf, fitJob, keptFit, statisticsJob, transformJob, type FitSummary, type StatsSummary, type TransformSummary } from './reduce.js';
import { PART_STATS_DIR } from '../stats/part-stats.js';
import { checkOutputLocation } from '../sink/dataset.js';
import { MANIFEST, RUN_FORMAT, RUN_MANIFEST, readJson, readJsonOrNothing, reducedManifestHeadSchema, runManifestHeadSchema, writeJson } from '../sink/formats.js';
import { withLock } from '../sink/lock.js';
import { assertHasImages } from '../source/listing.js';
import { REPORT_LIMITS, type RunReport } from '../report/types.js';
import type { ComponentSelection, ScaleMode } from '../pca/index.js';
import type { Store } from '../storage/store.js';
import type { Progress } from '../util/progress.js';
import { SOFTWARE } from '../version.js';

export const LAYOUT = { features: 'features', pca: 'pca', reduced: 'reduced', csv: 'reduced-csv', report: 'report.html' } as const;

export interface RunJobOptions extends Omit<FeaturizeJobOptions, 'output'> {
  output: Store;
  scale: ScaleMode;
  components: ComponentSelection;
  csv: boolean;
  runId?: string;
  /** Keep a fitted PCA model: project only new and changed rows with it (no statistics, no refit). */
  keepPca?: boolean;
}

export interface RunSummary {
  runId: string;
  output: string;
  featurize: FeaturizeSummary;
  statistics: StatsSummary;
  fit: Omit<FitSummary, 'summary'>;
  transform: Omit<TransformSummary, 'sample'>;
  report: string;
  seconds: number;
}

export async function runJob(opts: RunJobOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const root = opts.output;
  // Input before output: a missing input (or bucket) must not leave a _run.json behind.
  await assertHasImages(opts.input);
  const state = await checkOutputLocation(root, RUN_FORMAT, RUN_MANIFEST);
  return withLock(root, 'fruits run', opts.log, async (lock) => {
    if (state === 'previous' && opts.overwrite) {
      opts.log.info(`--overwrite: removing the previous run in ${root.root}`);
      await root.deletePrefix('');
      await lock.rewrite();
    }
    return runStages(opts, t0);
  });
}

async function runStages(opts: RunJobOptions, t0: number): Promise<RunSummary> {
  const root = opts.output;
  const previous = await readJson(root, RUN_MANIFEST, runManifestHeadSchema);
  const runId = await chooseRunId(root, opts.runId, false); // after --overwrite there is no previous run
  const base = {
    format: RUN_FORMAT,
    formatVersion: 1,
    runId,
    software: SOFTWARE,
    // The time of this run id: a resumed run keeps it, a new run (a rerun of a complete one) has its own.
    createdAt: previous?.runId === runId && previous.createdAt ? previous.createdAt : new Date().toISOString(),
    input: opts.input.root,
    layout: LAYOUT,
    pca: { scale: opts.scale, components: opts.components },
  };
  await writeJson(root, RUN_MANIFEST, { ...base, status: 'running' });

  const stage = { runner: opts.runner, progress: opts.progress };
  const features = root.sub(LAYOUT.features);
  const pca = root.sub(LAYOUT.pca);
  // The report's modules (Vega-Lite: ~0.15 s to load) load, and render a first page, once the
  // workers report their first images — the listing and the plan done, the coordinator idle —
  // rather than on the way.
  let reportHtml: Promise<typeof import('../report/html.js')> | undefined;
  const loadReport = () => {
    if (!reportHtml) {
      reportHtml = import('../report/html.js').then((m) => {
        try {
          m.warmUpReport();
        } catch {
          // only a warm-up: the run's own report reports its own errors
        }
        return m;
      });
      reportHtml.catch(() => undefined); // awaited at the report; until then not an unhandled rejection
    }
    return reportHtml;
  };
  const featurizeProgress: Progress = { ...opts.progress, tick: (n) => (loadReport(), opts.progress.tick(n)) };
  // The tasks that make parts (featurize, compaction) also write each part's statistics where the
  // statistics stage keeps them: a worker holds the rows then (reading new parts back cost an
  // update ~0.3 s, a −1 % update ~2 s) — unless a kept PCA needs no statistics. The files there
  // before are listed first, so the stage can say how many parts this run computed.
  const needsStats = !(opts.keepPca && (await pca.exists(MODEL_FILE)));
  const partStats = needsStats ? { store: pca.root, featurizer: featurizerKeyOf({ id: opts.model.spec.id, sha256: opts.model.sha256 }) } : undefined;
  const existedBefore = new Set<string>();
  if (partStats) for await (const o of pca.list(PART_STATS_DIR)) existedBefore.add(o.key);
  const featurize = await featurizeJob({ ...opts, progress: featurizeProgress, output: features, overwrite: false, partStats });
  const kept = opts.keepPca ? await keptFit(pca) : undefined;
  if (opts.keepPca && !kept) opts.log.info('--keep-pca: no fitted model yet; fitting one');
  const statistics = kept?.statistics ?? (await statisticsJob(features, pca, { ...stage, existedBefore: partStats ? existedBefore : undefined }));
  const fit =
    kept?.fit ??
    (await fitJob(pca, {
      ...stage,
      scale: opts.scale,
      components: opts.components,
      featurizer: { modelId: opts.model.spec.id, sha256: opts.model.sha256 },
    }));
  // The run owns reduced/: after a refit (another --k, --variance or --scale) the previous
  // transform is replaced, CSV included, rather than refused as a standalone transform would.
  const reduced = root.sub(LAYOUT.reduced);
  const previousTransform = await readJsonOrNothing(reduced, MANIFEST, reducedManifestHeadSchema);
  const replace = previousTransform !== undefined && previousTransform.pcaSha256 !== fit.modelSha256;
  if (replace && !opts.csv) await root.sub(LAYOUT.csv).deletePrefix('');
  // The fit's summary of its model: the coordinator never parses model.json (~16 MB at k ≈ 580).
  const transform = await transformJob(features, { store: pca, file: MODEL_FILE, loaded: { model: fit.summary, sha256: fit.modelSha256 } }, reduced, {
    ...stage,
    csv: opts.csv ? root.sub(LAYOUT.csv) : undefined,
    overwrite: replace,
    samplePoints: REPORT_LIMITS.scatterPoints,
  });
  // No task is left: the workers stop (~50 ms) while the report renders. Closing again is a no-op.
  const closing = opts.runner.close();
  opts.progress.stop();
  const seconds = (performance.now() - t0) / 1000;
  const report = buildRunReport({ runId, input: opts.input.root, output: root.root, seconds, featurize, statistics, fit, transform });
  await root.write(LAYOUT.report, (await loadReport()).renderReportHtml(report));

  const { summary: _summary, ...fitInfo } = fit;
  const { sample: _sample, ...transformInfo } = transform;
  const { manifest: _manifest, rejectList: _rejects, ...featurizeInfo } = featurize;
  await writeJson(root, RUN_MANIFEST, {
    ...base,
    status: 'complete',
    completedAt: new Date().toISOString(),
    seconds,
    stages: { featurize: featurizeInfo, statistics, fit: fitInfo, transform: transformInfo },
  });
  await closing;
  return { runId, output: root.root, featurize, statistics, fit: fitInfo, transform: transformInfo, report: root.uriOf(LAYOUT.report), seconds };
}

export function buildRunReport(r: {
  runId: string;
  input: string;
  output: string;
  seconds: number;
  featurize: FeaturizeSummary;
  statistics: StatsSummary;
  fit: FitSummary;
  transform: TransformSummary;
}): RunReport {
  const m = r.fit.summary;
  // Past the numerical rank (e.g. fewer rows than features) the spectrum is round-off noise.
  const ratios = m.spectrumRatio.slice(0, Math.max(m.k, Math.min(m.rank, m.spectrumRatio.length)));
  let acc = 0;
  const cumulative = ratios.map((v) => Math.min(1, (acc += v)));
  const rowsPerLabel = Object.entries(r.featurize.manifest.rowsPerLabel ?? {}).map(([label, count]) => ({ label, count }));
  const points = r.transform.sample.slice(0, REPORT_LIMITS.scatterPoints);
  const rate = (items: number, s: number) => (s > 0 ? items / s : 0);
  return {
    title: `fruits run ${r.runId}`,
    runId: r.runId,
    generatedAt: new Date().toISOString(),
    input: r.input,
    output: r.output,
    // The page prints "fruits <version>".
    softwareVersion: SOFTWARE.version,
    durationSeconds: r.seconds,
    model: { id: m.featurizer.modelId, sha256: m.featurizer.sha256 },
    totals: { images: r.featurize.listed, rows: r.featurize.rows, rejects: r.featurize.rejects, labels: rowsPerLabel.length },
    rowsPerLabel,
    rejects: { total: r.featurize.rejects, items: r.featurize.rejectList.slice(0, REPORT_LIMITS.rejects).map((x) => ({ path: x.path, reason: x.reason })) },
    timings: [
      { stage: 'featurize', seconds: r.featurize.seconds, items: r.featurize.listed, itemsPerSecond: r.featurize.imagesPerSecond },
      { stage: 'statistics', seconds: r.statistics.seconds, items: r.statistics.rows, itemsPerSecond: rate(r.statistics.rows, r.statistics.seconds) },
      { stage: 'fit', seconds: r.fit.seconds, items: r.fit.rows, itemsPerSecond: rate(r.fit.rows, r.fit.seconds) },
      { stage: 'transform', seconds: r.transform.seconds, items: r.transform.rows, itemsPerSecond: rate(r.transform.rows, r.transform.seconds) },
    ],
    pca: {
      k: m.k,
      variance: 'variance' in m.selection ? m.selection.variance : undefined,
      scale: m.scale,
      inputDim: m.dim,
      explainedVarianceRatio: ratios,
      cumulative,
    },
    scatter: { total: r.transform.rows, points },
    dataset: datasetOf(r.featurize),
  };
}

function datasetOf(f: FeaturizeSummary): RunReport['dataset'] {
  const m = f.manifest;
  if (m.version === undefined || !m.versions) return undefined;
  return {
    version: m.version,
    changed: !f.update?.unchanged,
    versions: m.versions.slice(-REPORT_LIMITS.versions).map((v) => ({
      version: v.version,
      time: v.time,
      kind: v.kind,
      added: v.images.added,
      changed: v.images.changed,
      removed: v.images.removed,
      partsAdded: v.parts.added.length,
      partsRemoved: v.parts.removed.length,
      rows: v.rows,
    })),
  };
}
