// `fruits evaluate`: a bundle against a labelled dataset. Rows whose label the bundle does not
// know are reported and left out (they could only ever count as errors); everything else is
// scored once and summarised: accuracy, per-class precision/recall, confusions, mistakes.
import type { Bundle } from './bundle.js';
import { rankOf, topClasses } from './classifier.js';
import type { LabelledRows } from './dataset.js';
import { scoreRows } from './inputs.js';
import { histogramOf, noveltyOf, topScoresOf } from './novelty.js';
import { accuracyOf, confusionOf, type Accuracy, type ClassMetrics, type ConfusedPair } from './metrics.js';

export interface Mistake {
  path: string;
  actual: string;
  predicted: string;
  /** Score of the predicted class. */
  score: number;
  /** Score and 0-based rank of the true class. */
  actualScore: number;
  actualRank: number;
  top: { label: string; score: number }[];
}

export interface Evaluation {
  bundle: { dir: string; classifier: string; featurizer: string; pcaK: number | null; classes: number; trainedOn: string; trainedOnVersion: number | null };
  dataset: string;
  /** The version of the evaluated features dataset, when it has one. */
  datasetVersion: number | null;
  imageRoot?: string;
  /** Rows scored (labels known to the bundle). */
  rows: number;
  /** Labels of the evaluation set that are no class of the bundle, with their row counts. */
  excluded: { label: string; rows: number }[];
  /** Labels present in the evaluation set (and the bundle). */
  labelsEvaluated: number;
  accuracy: Accuracy;
  perClass: ClassMetrics[];
  /** Non-zero cells of the confusion matrix, [actual, predicted, count], diagonal included. */
  confusion: { labels: string[]; cells: [number, number, number][] };
  pairs: ConfusedPair[];
  mistakes: Mistake[];
  /** Top-1 score histogram (10 bins of 0.1), right and wrong predictions apart. */
  confidence: { from: number; to: number; correct: number; wrong: number }[];
  /** Novelty (bundles with novelty data, features datasets): how many photos it would call unknown. */
  novelty: NoveltySummary | null;
  seconds: number;
}

export interface NoveltySummary {
  threshold: number;
  /** Rows of the bundle's classes: the unknown rate here is the false-alarm rate. */
  known: { rows: number; unknown: number; rate: number };
  /** Rows of labels the bundle does not know: the unknown rate here is the detection rate. */
  excluded: { rows: number; unknown: number; rate: number } | null;
  /** Novelty histograms of both (same bins). */
  histogram: { from: number; width: number; known: number[]; excluded: number[] };
}

async function noveltySummary(bundle: Bundle, data: LabelledRows, kept: number[], keptScores: Float32Array): Promise<NoveltySummary | null> {
  const m = bundle.novelty;
  if (!m || data.space.kind !== 'features') return null;
  const classes = bundle.labels.length;
  const d = data.space.dim;
  const keptSet = new Set(kept);
  const others = Array.from({ length: data.n }, (_, i) => i).filter((i) => !keptSet.has(i));
  const part = async (rows: number[], scores?: Float32Array) => {
    if (rows.length === 0) return new Float32Array(0);
    const x = new Float32Array(rows.length * d);
    rows.forEach((r, i) => x.set(data.rows.subarray(r * d, (r + 1) * d), i * d));
    const s = scores ?? (await scoreRows(bundle, data.space, x, rows.length, data.location));
    return (await noveltyOf(m, x, topScoresOf(s, rows.length, classes), rows.length)).novelty;
  };
  const known = await part(kept, keptScores);
  const excluded = await part(others);
  const count = (v: Float32Array) => {
    const unknown = v.filter((x) => x > m.threshold).length;
    return { rows: v.length, unknown, rate: v.length ? unknown / v.length : 0 };
  };
  const to = [known, excluded].reduce((a, v) => v.reduce((b, x) => Math.max(b, x), a), 2 * m.threshold);
  const hk = histogramOf(known, 0, to, 40);
  return {
    threshold: m.threshold,
    known: count(known),
    excluded: excluded.length ? count(excluded) : null,
    histogram: { from: hk.from, width: hk.width, known: hk.counts, excluded: histogramOf(excluded, 0, to, 40).counts },
  };
}

export async function evaluateBundle(bundle: Bundle, data: LabelledRows): Promise<Evaluation> {
  const t0 = performance.now();
  const index = new Map(bundle.labels.map((l, i) => [l, i]));
  const kept: number[] = [];
  const excludedCounts = new Map<string, number>();
  data.labels.forEach((l, i) => {
    if (index.has(l)) kept.push(i);
    else excludedCounts.set(l, (excludedCounts.get(l) ?? 0) + 1);
  });
  const excluded = [...excludedCounts].map(([label, rows]) => ({ label, rows })).sort((a, b) => (a.label < b.label ? -1 : 1));
  const base = {
    bundle: {
      dir: bundle.dir,
      classifier: bundle.classifier.kind,
      featurizer: bundle.featurizer.id,
      pcaK: bundle.pca?.model.k ?? null,
      classes: bundle.labels.length,
      trainedOn: bundle.training.dataset,
      trainedOnVersion: bundle.training.datasetVersion ?? null,
    },
    dataset: data.location,
    datasetVersion: data.space.datasetVersion ?? null,
    imageRoot: data.imageRoot,
    excluded,
  };
  const classes = bundle.labels.length;
  const d = data.space.dim;
  const rows = kept.length === data.n ? data.rows : new Float32Array(kept.length * d);
  if (rows !== data.rows) kept.forEach((r, i) => rows.set(data.rows.subarray(r * d, (r + 1) * d), i * d));
  const scores = kept.length ? await scoreRows(bundle, data.space, rows, kept.length, data.location) : new Float32Array(0);
  const y = Int32Array.from(kept, (i) => index.get(data.labels[i])!);
  const accuracy = accuracyOf(scores, y, classes);
  const conf = confusionOf(scores, y, bundle.labels);
  const cells: [number, number, number][] = [];
  for (let a = 0; a < classes; a++) {
    for (let p = 0; p < classes; p++) {
      const c = conf.matrix[a * classes + p];
      if (c > 0) cells.push([a, p, c]);
    }
  }
  const mistakes: Mistake[] = [];
  const confidence = Array.from({ length: 10 }, (_, b) => ({ from: b / 10, to: (b + 1) / 10, correct: 0, wrong: 0 }));
  kept.forEach((row, i) => {
    const p = conf.predicted[i];
    const bin = confidence[Math.min(9, Math.floor(scores[i * classes + p] * 10))];
    if (p === y[i]) {
      bin.correct++;
      return;
    }
    bin.wrong++;
    mistakes.push({
      path: data.paths[row],
      actual: bundle.labels[y[i]],
      predicted: bundle.labels[p],
      score: scores[i * classes + p],
      actualScore: scores[i * classes + y[i]],
      actualRank: rankOf(scores, i, classes, y[i]),
      top: topClasses(scores, i, classes, 5).map((r) => ({ label: bundle.labels[r.index], score: r.score })),
    });
  });
  // Confident mistakes first: they are the surprising ones.
  mistakes.sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : 1));
  return {
    ...base,
    rows: kept.length,
    labelsEvaluated: conf.perClass.filter((c) => c.support > 0).length,
    accuracy,
    perClass: conf.perClass,
    confusion: { labels: bundle.labels, cells },
    pairs: conf.pairs,
    mistakes,
    confidence,
    novelty: await noveltySummary(bundle, data, kept, scores),
    seconds: (performance.now() - t0) / 1000,
  };
}
