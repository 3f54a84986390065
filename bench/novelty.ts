// `npm run bench -- novelty`: how well the novelty score tells photos of unseen classes from
// photos of known ones, on the mini dataset with classes left out of training.
//
// Four folds; fold f leaves out every 8th class starting at 2f (15 of the 119 Training classes).
// The classifier (standardise + logistic regression, as `fruits train`) and the novelty
// candidates are fitted on the Training rows of the other classes; the Test photos of the known
// classes are the in-distribution sample, those of the left-out classes (and Tomato Yellow, in
// no Training folder) the unknown sample. Candidates: 1 − max softmax (baseline), k-NN distance
// in the PCA space (all rows and the sample a bundle keeps), and the class-conditional
// Mahalanobis distance at several k and shrinkages (what bundles carry). AUROC per candidate,
// mean over folds, and for the chosen score the unknown rates at the trained threshold.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { loadDataset, selectRows, type LabelledRows } from '../src/classify/dataset.js';
import { multiplyABt } from '../src/kernels/gemm.js';
import { fitLogReg, logRegProbabilities } from '../src/classify/logreg.js';
import { auroc, fitNovelty, NOVELTY_DEFAULTS, noveltyOf, topScoresOf, unitRows, type NoveltyModel } from '../src/classify/novelty.js';
import { holdoutSplit } from '../src/classify/train.js';
import { TRAIN_DEFAULTS } from '../src/classify/train-options.js';
import { fitStandardizer, standardize } from '../src/classify/standardize.js';
import { repoRoot } from './util.js';

const shared = path.resolve(repoRoot, '..', 'shared');

/** Features of a mini split, featurized once by the CLI into the temporary folder (resumed later). */
function features(split: 'Training' | 'Test'): string {
  const out = process.env[`BENCH_NOVELTY_${split.toUpperCase()}`] ?? path.join(os.tmpdir(), 'fruits-bench-novelty', split);
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'featurize', path.join(shared, 'data', 'fruits360-mini', split), out, '--quiet'], {
    env: { FRUITS_MODEL_DIR: path.join(shared, 'models'), ...process.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`featurize ${split} failed`);
  return out;
}

interface FoldResult {
  /** CPU ms per photo of the classifier alone and with the novelty score (batches of 8 features). */
  cpu: { classify: number; withNovelty: number };
  auroc: Record<string, number>;
  knownRate: number;
  unknownRate: number;
  heldOutRate: number;
}

async function fold(train: LabelledRows, test: LabelledRows, f: number, log: (m: string) => void): Promise<FoldResult> {
  const allLabels = [...new Set(train.labels)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const left = new Set(allLabels.filter((_, i) => i % 8 === 2 * f));
  const labels = allLabels.filter((l) => !left.has(l));
  const index = new Map(labels.map((l, i) => [l, i]));
  const tr = selectRows(train, train.labels.flatMap((l, i) => (left.has(l) ? [] : [i])));
  const y = Int32Array.from(tr.labels, (l) => index.get(l)!);
  const dim = tr.space.dim;
  const c = labels.length;
  // As `fruits train` does: standardise, fit without the held-out slice, refit on all rows.
  const st = fitStandardizer(tr.rows, tr.n, dim, 'per-feature');
  const xs = standardize(st, tr.rows, tr.n);
  const split = holdoutSplit(tr, TRAIN_DEFAULTS.holdout);
  const pick = (rows: number[]) => {
    const out = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => out.set(xs.subarray(r * dim, (r + 1) * dim), i * dim));
    return out;
  };
  const opts = { l2: TRAIN_DEFAULTS.l2, maxIterations: 300, tolerance: TRAIN_DEFAULTS.tolerance };
  const part = await fitLogReg(pick(split.fit), Int32Array.from(split.fit, (i) => y[i]), split.fit.length, dim, c, opts);
  const heldTop = topScoresOf(await logRegProbabilities(part.model, pick(split.held), split.held.length), split.held.length, c);
  const fit = await fitLogReg(xs, y, tr.n, dim, c, { ...opts, init: part.model });
  const xt = standardize(st, test.rows, test.n);
  const known = test.labels.map((l) => index.has(l));
  const result: Record<string, number> = {};
  const record = (name: string, s: ArrayLike<number>) => {
    const all = Array.from(s);
    result[name] = auroc(all.filter((_, i) => known[i]), all.filter((_, i) => !known[i]));
  };
  const testTop = topScoresOf(await logRegProbabilities(fit.model, xt, test.n), test.n, c);
  record('1 − max softmax', Array.from(testTop, (v) => 1 - v));
  const uTrain = unitRows(tr.rows, tr.n, dim);
  const uTest = unitRows(test.rows, test.n, dim);
  const sims = await multiplyABt(uTest, test.n, uTrain, tr.n, dim);
  record('cosine distance to the nearest training row', Array.from({ length: test.n }, (_, i) => 1 - Math.max(...sims.subarray(i * tr.n, (i + 1) * tr.n))));
  const input = { features: tr.rows, n: tr.n, dim, y, classes: c, paths: tr.paths, held: split.held, heldTopScores: heldTop };
  let chosen: NoveltyModel | undefined;
  for (const k of [16, 32, 64]) {
    for (const w of [0, 1, 2, 4]) {
      const m = await fitNovelty(input, { k, confidenceWeight: w });
      const s = await noveltyOf(m, test.rows, testTop, test.n);
      record(w === 0 ? `Mahalanobis on unit features (k = ${k})` : `unit Mahalanobis (k = ${k}) + ${w}·(1 − max softmax)`, s.novelty);
      if (k === NOVELTY_DEFAULTS.k && w === NOVELTY_DEFAULTS.confidenceWeight) chosen = m;
    }
  }
  const m = chosen!;
  const s = await noveltyOf(m, test.rows, testTop, test.n);
  const knownRate = s.unknown.filter((v, i) => v && known[i]).length / known.filter(Boolean).length;
  const unknownRate = s.unknown.filter((v, i) => v && !known[i]).length / known.filter((v) => !v).length;
  log(`fold ${f}: left out ${[...left].join(', ')}; threshold ${m.threshold.toFixed(3)}, AUROC ${result[`unit Mahalanobis (k = ${m.k}) + ${m.confidenceWeight}·(1 − max softmax)`].toFixed(3)}, unknown in-distribution ${(knownRate * 100).toFixed(1)} %, on left-out ${(unknownRate * 100).toFixed(1)} %`);
  const cpu = async (withNovelty: boolean) => {
    const t = process.cpuUsage();
    for (let i = 0; i + 8 <= test.n; i += 8) {
      const x = test.rows.subarray(i * dim, (i + 8) * dim);
      const p8 = await logRegProbabilities(fit.model, standardize(st, x, 8), 8);
      if (withNovelty) await noveltyOf(m, x, topScoresOf(p8, 8, c), 8);
    }
    const u = process.cpuUsage(t);
    return (u.user + u.system) / 1000 / (Math.floor(test.n / 8) * 8);
  };
  const cpuClassify = await cpu(false);
  const cpuNovelty = await cpu(true);
  return { cpu: { classify: cpuClassify, withNovelty: cpuNovelty }, auroc: result, knownRate, unknownRate, heldOutRate: m.calibration.heldOutRate };
}

export async function benchNovelty(opts: { folds?: number; log?: (m: string) => void } = {}): Promise<Record<string, unknown>> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const [train, test] = await Promise.all([loadDataset(features('Training')), loadDataset(features('Test'))]);
  const folds = opts.folds ?? 4;
  const results: FoldResult[] = [];
  for (let f = 0; f < folds; f++) results.push(await fold(train, test, f, log));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const aurocs = Object.fromEntries(Object.keys(results[0].auroc).map((name) => [name, Number(mean(results.map((r) => r.auroc[name])).toFixed(4))]));
  return {
    folds,
    auroc: aurocs,
    chosen: `unit Mahalanobis (k = ${NOVELTY_DEFAULTS.k}) + ${NOVELTY_DEFAULTS.confidenceWeight}·(1 − max softmax)`,
    unknownRateInDistribution: Number(mean(results.map((r) => r.knownRate)).toFixed(4)),
    unknownRateLeftOut: Number(mean(results.map((r) => r.unknownRate)).toFixed(4)),
    cpuMsPerPhoto: {
      classifier: Number(mean(results.map((r) => r.cpu.classify)).toFixed(3)),
      classifierAndNovelty: Number(mean(results.map((r) => r.cpu.withNovelty)).toFixed(3)),
      note: 'on features; the network itself costs ~7–9 ms of CPU per photo (bench serve)',
    },
    unknownRateHeldOutTraining: Number(mean(results.map((r) => r.heldOutRate)).toFixed(4)),
  };
}

