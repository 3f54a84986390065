// `fruits train`: a labelled features (or reduced) dataset in, bundle contents out.
//
//   1. read every row and its label; labels are the classes, in byte-wise order
//   2. optional PCA: a given model file, the reduced dataset's own model, or one fitted here on
//      the training rows (merge-able statistics + eigendecomposition, as `fruits fit` does)
//   3. standardise (per feature for raw features, uniformly for PCA scores, none for k-NN)
//   4. held-out slice: the last `holdout` share of each class in path order. Fruits-360 classes
//      are video frames, so a random slice would hold near-copies of training rows and say
//      nothing; the tail of each class is the least like the rest. It measures the fit, and
//      with --l2 auto picks λ from a grid; the final model is then refitted on every row.
//   5. fit (logistic regression by L-BFGS, or k-NN), and score the training rows.
// Nothing here is random: the same data and options give the same bundle.
import { statsOfRows } from '../stats/index.js';
import { checkCompatible, fitPca, IncompatibleFeaturesError, parsePcaModel, project, type PcaModel } from '../pca/index.js';
import { splitModelLocation } from '../pipeline/reduce.js';
import { openStore } from '../storage/open.js';
import { noDatasetError } from '../sink/dataset.js';
import { MANIFEST } from '../sink/formats.js';
import { UserError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
import type { Logger } from '../util/logger.js';
import type { Progress } from '../util/progress.js';
import { pcaText, type BundleContents, type TrainingInfo } from './bundle.js';
import { classifierScores, type Classifier, type ClassifierKind } from './classifier.js';
import { datasetsAt, loadDataset, type LabelledRows } from './dataset.js';
import { fitKnn } from './knn.js';
import { fitLogReg, type LogRegFit, type LogRegModel } from './logreg.js';
import { accuracyOf, type Accuracy } from './metrics.js';
import { fitNovelty, topScoresOf, type NoveltyModel } from './novelty.js';
import { fitStandardizer, standardize, type StandardizeMode } from './standardize.js';
import { TRAIN_DEFAULTS } from './train-options.js';
import { compareBytewise } from '../util/byte-order.js';

export interface TrainOptions {
  dataset: string;
  classifier: ClassifierKind;
  /** A PCA model file to reduce raw features with. */
  pcaFile?: string;
  /** Fit a PCA with this many components on the training rows. */
  pcaK?: number;
  l2: number | 'auto';
  knnK: number;
  /** Share of each class held out to measure the fit (0: none). */
  holdout: number;
  maxIterations: number;
  tolerance: number;
  log: Logger;
  progress: Progress;
}

export async function readPcaFile(location: string): Promise<{ model: PcaModel; text: string }> {
  const { dir, file } = splitModelLocation(location);
  const store = openStore(dir);
  let bytes: Buffer;
  try {
    bytes = await store.read(file);
  } catch {
    throw new UserError(`${store.uriOf(file)}: cannot read the PCA model`);
  }
  const text = bytes.toString('utf8');
  try {
    return { model: parsePcaModel(text, store.uriOf(file)), text };
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

/** Indices of the held-out rows: the last `fraction` of each class in path order. */
export function holdoutSplit(data: LabelledRows, fraction: number): { fit: number[]; held: number[] } {
  if (fraction <= 0) return { fit: data.paths.map((_, i) => i), held: [] };
  const byClass = new Map<string, number[]>();
  data.labels.forEach((l, i) => {
    const list = byClass.get(l);
    if (list) list.push(i);
    else byClass.set(l, [i]);
  });
  const heldSet = new Set<number>();
  for (const rows of byClass.values()) {
    if (rows.length < 2) continue;
    rows.sort((a, b) => compareBytewise(data.paths[a], data.paths[b]));
    const count = Math.min(rows.length - 1, Math.max(1, Math.round(rows.length * fraction)));
    for (const r of rows.slice(rows.length - count)) heldSet.add(r);
  }
  const fit: number[] = [];
  const held: number[] = [];
  data.paths.forEach((_, i) => (heldSet.has(i) ? held : fit).push(i));
  return { fit, held };
}

function pick(x: Float32Array, dim: number, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * dim);
  indices.forEach((r, i) => out.set(x.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

/** Resolves the dataset argument: a run's reduced dataset wins (it is what the run was for). */
async function trainingData(location: string): Promise<LabelledRows> {
  const choice = await datasetsAt(location);
  if (!choice) throw await noDatasetError(openStore(location), `not a fruits dataset (no ${MANIFEST}); featurize the images first (fruits featurize)`);
  return loadDataset(choice.reduced ?? choice.features!);
}

type TrainingData = Awaited<ReturnType<typeof trainingData>>;
interface PcaStep {
  pca?: { model: PcaModel; text: string };
  source?: 'fitted' | 'file' | 'dataset';
  /** The classifier's input rows: the PCA scores, or the features themselves. */
  x: Float32Array;
}

/**
 * A bundle from a features (or reduced) dataset, in named steps: load the rows → the PCA (the
 * dataset's, a file, or fitted here) → labels and standardisation → the held-out slice and the
 * classifier → novelty data → training accuracy and what to record.
 */
export async function trainBundle(opts: TrainOptions): Promise<BundleContents> {
  const t0 = performance.now();
  const { log } = opts;
  if (opts.pcaFile && opts.pcaK) throw new UserError('--pca and --pca-k are alternatives: give one of them');
  if (opts.l2 === 'auto' && !(opts.holdout > 0)) throw new UserError('--l2 auto picks λ on the held-out slice: it needs --holdout > 0');
  const data = await trainingData(opts.dataset);
  const { space } = data;
  const spec = space.featurizer.spec;
  if (!spec) {
    throw new UserError(`${data.location}: the spec of featurizer ${space.featurizer.id} is unknown (its features dataset is gone); train on the features dataset instead`);
  }
  log.info(`${data.n} rows × ${space.dim} ${space.kind === 'reduced' ? 'PCA scores' : 'features'} from ${data.location}`);
  const tLoad = performance.now();

  const { pca, source: pcaSource, x } = await pcaStep(opts, data);
  const tPcaDone = performance.now();
  const dim = pca ? pca.model.k : space.dim;

  // --- labels and inputs
  const labels = [...new Set(data.labels)].sort(compareBytewise);
  if (labels.length < 2) throw new UserError(`${data.location}: only one label (${labels[0]}); a classifier needs at least two`);
  const index = new Map(labels.map((l, i) => [l, i]));
  const y = Int32Array.from(data.labels, (l) => index.get(l)!);
  const mode: StandardizeMode = opts.classifier === 'knn' ? 'none' : pca ? 'uniform' : 'per-feature';
  const standardizer = fitStandardizer(x, data.n, dim, mode);
  const xs = standardize(standardizer, x, data.n);
  const classes = labels.length;

  const split = holdoutSplit(data, opts.holdout);
  const tFit = performance.now();
  const fitted = await classifierStep(opts, { xs, y, n: data.n, dim, classes, split });
  opts.progress.stop();
  const novelty = await noveltyStep(opts, data, y, classes, split, fitted.heldTop);
  const tFitDone = performance.now();
  const train = accuracyOf(await classifierScores(fitted.classifier, xs, data.n), y, classes);
  const tEnd = performance.now();

  const training: TrainingInfo = {
    dataset: data.location,
    datasetKind: space.kind,
    datasetVersion: space.datasetVersion ?? null,
    rows: data.n,
    classes,
    featureDim: spec.feature.dim,
    inputDim: dim,
    pca: pca
      ? {
          source: pcaSource!,
          k: pca.model.k,
          scale: pca.model.scale,
          varianceKept: Math.min(1, pca.model.explainedVarianceRatio.reduce((a, v) => a + v, 0)),
        }
      : null,
    l2: fitted.l2Info,
    knnK: fitted.classifier.kind === 'knn' ? fitted.classifier.k : null,
    heldOut: fitted.heldOut ? { ...fitted.heldOut, fraction: opts.holdout } : null,
    train,
    optimizer: fitted.optimizer,
    seconds: {
      load: (tLoad - t0) / 1000,
      pca: (tPcaDone - tLoad) / 1000,
      fit: (tFitDone - tFit) / 1000,
      total: (tEnd - t0) / 1000,
    },
  };
  return {
    featurizer: { id: space.featurizer.id, sha256: space.featurizer.sha256, spec },
    pca,
    standardizer,
    classifier: fitted.classifier,
    labels,
    training,
    novelty,
  };
}

/** The PCA a bundle carries: the one that reduced the dataset, a model file, or one fitted on the rows (--pca-k). */
async function pcaStep(opts: TrainOptions, data: TrainingData): Promise<PcaStep> {
  const { space } = data;
  if (space.kind === 'reduced') {
    if (opts.pcaK) throw new UserError(`${data.location} is already reduced (k = ${space.dim}); --pca-k applies to a features dataset`);
    const pca = await readPcaFile(opts.pcaFile ?? space.pcaLocation!);
    if (sha256Hex(pca.text) !== space.pcaSha256) {
      throw new UserError(`${opts.pcaFile ?? space.pcaLocation}: not the PCA model that reduced ${data.location} (sha256 differs)`);
    }
    return { pca, source: 'dataset', x: data.rows };
  }
  if (!opts.pcaFile && !opts.pcaK) return { x: data.rows };
  const tPca = performance.now();
  let pca: { model: PcaModel; text: string };
  let source: PcaStep['source'];
  if (opts.pcaFile) {
    pca = await readPcaFile(opts.pcaFile);
    try {
      checkCompatible(pca.model, { modelId: space.featurizer.id, sha256: space.featurizer.sha256, dim: space.dim });
    } catch (err) {
      if (err instanceof IncompatibleFeaturesError) throw new UserError(`${opts.pcaFile}: ${err.message}`);
      throw err;
    }
    source = 'file';
  } else {
    const k = opts.pcaK!;
    if (k > Math.min(space.dim, data.n - 1)) throw new UserError(`--pca-k ${k}: at most ${Math.min(space.dim, data.n - 1)} components for ${data.n} rows of ${space.dim} features`);
    opts.log.info(`fitting PCA (k = ${k}, standardised) on the ${data.n} training rows`);
    const stats = await statsOfRows(data.rows, data.n, space.dim, { rowName: (i) => data.paths[i] });
    const model = await fitPca(stats, { scale: 'standard', components: { k }, featurizer: { modelId: space.featurizer.id, sha256: space.featurizer.sha256 } });
    pca = { model, text: pcaText(model) };
    source = 'fitted';
  }
  const x = await project(pca.model, data.rows, data.n);
  opts.log.info(`PCA: ${space.dim} → ${pca.model.k} dimensions in ${((performance.now() - tPca) / 1000).toFixed(1)} s`);
  return { pca, source, x };
}

interface ClassifierInputs {
  /** Standardised inputs, n × dim. */
  xs: Float32Array;
  y: Int32Array;
  n: number;
  dim: number;
  classes: number;
  split: ReturnType<typeof holdoutSplit>;
}

interface ClassifierStep {
  classifier: Classifier;
  heldOut?: Accuracy;
  /** Top scores the classifier fitted without the held-out slice gives its rows: the novelty threshold's. */
  heldTop?: Float32Array;
  optimizer: TrainingInfo['optimizer'];
  l2Info: TrainingInfo['l2'];
}

/** The classifier: measured (and λ chosen) on the held-out slice, then refitted on every row. */
async function classifierStep(opts: TrainOptions, inp: ClassifierInputs): Promise<ClassifierStep> {
  const { xs, y, n, dim, classes, split } = inp;
  const fitX = split.held.length ? pick(xs, dim, split.fit) : xs;
  const fitY = split.held.length ? Int32Array.from(split.fit, (i) => y[i]) : y;
  const heldX = pick(xs, dim, split.held);
  const heldY = Int32Array.from(split.held, (i) => y[i]);
  const { log } = opts;

  if (opts.classifier !== 'logreg') {
    let heldOut: Accuracy | undefined;
    let heldTop: Float32Array | undefined;
    if (split.held.length) {
      const m = fitKnn(fitX, fitY, split.fit.length, dim, classes, opts.knnK);
      const heldScores = await classifierScores(m, heldX, split.held.length);
      heldOut = accuracyOf(heldScores, heldY, classes);
      heldTop = topScoresOf(heldScores, split.held.length, classes);
      log.info(`k-NN (k = ${opts.knnK}) held-out (${split.held.length} rows): top-1 ${(heldOut.top1 * 100).toFixed(2)} %`);
    }
    return { classifier: fitKnn(xs, y, n, dim, classes, opts.knnK), heldOut, heldTop, optimizer: null, l2Info: null };
  }

  const fit = async (rows: Float32Array, labelsOf: Int32Array, count: number, l2: number, init?: LogRegModel, what = 'all rows'): Promise<LogRegFit> => {
    opts.progress.stage(`fit λ=${l2}`, opts.maxIterations, 'iterations');
    const t = performance.now();
    const r = await fitLogReg(rows, labelsOf, count, dim, classes, {
      l2,
      maxIterations: opts.maxIterations,
      tolerance: opts.tolerance,
      init,
      onIteration: () => opts.progress.tick(1),
    });
    // Converged before the cap: the stage is complete at the iterations it took (not "7 %, ETA 31s").
    opts.progress.setTotal(r.iterations);
    log.info(`logistic regression λ=${l2} on ${what} (${count}): ${r.iterations} iterations, loss ${r.loss.toFixed(5)}, ${((performance.now() - t) / 1000).toFixed(1)} s (${r.stop})`);
    return r;
  };
  let chosen = opts.l2 === 'auto' ? TRAIN_DEFAULTS.l2Grid[0] : opts.l2;
  let warm: LogRegModel | undefined;
  let heldOut: Accuracy | undefined;
  let heldTop: Float32Array | undefined;
  let l2Info: TrainingInfo['l2'];
  if (split.held.length) {
    const grid = opts.l2 === 'auto' ? TRAIN_DEFAULTS.l2Grid : [opts.l2];
    const candidates: { l2: number; heldOutTop1: number; heldOutLoss: number; model: LogRegModel; acc: Accuracy }[] = [];
    // Largest λ first: each fit warm-starts the next, smoother-to-sharper.
    for (const l2 of grid) {
      const r = await fit(fitX, fitY, split.fit.length, l2, candidates.at(-1)?.model, `the ${split.fit.length} rows outside the held-out slice`);
      const acc = accuracyOf(await classifierScores(r.model, heldX, split.held.length), heldY, classes);
      log.info(`  held-out (${split.held.length} rows): top-1 ${(acc.top1 * 100).toFixed(2)} %, log-loss ${acc.loss.toFixed(4)}`);
      candidates.push({ l2, heldOutTop1: acc.top1, heldOutLoss: acc.loss, model: r.model, acc });
    }
    const best = candidates.reduce((a, b) => (b.heldOutTop1 > a.heldOutTop1 || (b.heldOutTop1 === a.heldOutTop1 && b.heldOutLoss < a.heldOutLoss) ? b : a));
    chosen = best.l2;
    warm = best.model;
    heldTop = topScoresOf(await classifierScores(best.model, heldX, split.held.length), split.held.length, classes);
    heldOut = best.acc;
    l2Info = { chosen, candidates: opts.l2 === 'auto' ? candidates.map(({ l2, heldOutTop1, heldOutLoss }) => ({ l2, heldOutTop1, heldOutLoss })) : undefined };
  } else {
    l2Info = { chosen };
  }
  const final = await fit(xs, y, n, chosen, warm);
  return { classifier: final.model, heldOut, heldTop, optimizer: { iterations: final.iterations, evaluations: final.evaluations, stop: final.stop }, l2Info };
}

/** Novelty data, when the rows are features and a held-out slice set its threshold; a warning otherwise. */
async function noveltyStep(opts: TrainOptions, data: TrainingData, y: Int32Array, classes: number, split: ReturnType<typeof holdoutSplit>, heldTop: Float32Array | undefined): Promise<NoveltyModel | undefined> {
  if (data.space.kind === 'reduced') {
    opts.log.warn('no novelty data: the training rows are PCA-reduced; train on the features dataset to let the bundle tell unknown photos');
    return undefined;
  }
  if (!heldTop) {
    opts.log.warn('no novelty data: its threshold is set on the held-out slice; train with --holdout > 0 to let the bundle tell unknown photos');
    return undefined;
  }
  const novelty = await fitNovelty({ features: data.rows, n: data.n, dim: data.space.dim, y, classes, paths: data.paths, held: split.held, heldTopScores: heldTop });
  opts.log.info(`novelty: threshold ${novelty.threshold.toFixed(3)} (${(novelty.calibration.heldOutRate * 100).toFixed(1)} % of the ${split.held.length} held-out rows above it)`);
  return novelty;
}
