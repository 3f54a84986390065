// `fruits drift`: does a batch of photos come from the distribution the reference was trained on?
//
// Per class, not only overall: rows are grouped by the class the reference predicts for them,
// and each group is compared with the reference rows of that class only. A batch of apples alone
// from the training session changes the label mix and nothing else (every per-class comparison
// holds); the same apples shot in a new session move within their class (the comparisons fail).
//
// Measures, all in the novelty space of the reference (unit-length features → PCA-k, whitened by
// the shared within-class covariance; see classify/novelty.ts):
//   unknown share    photos past the novelty threshold, against the rate expected in distribution
//   domain AUC       per class, a logistic regression telling batch rows from reference rows,
//                    cross-validated over contiguous blocks (near-copies of a frame stay in one
//                    fold); 0.5 = indistinguishable. Overall: mean over classes weighted by rows.
//   class shift      per class, the Mahalanobis distance between the batch's and the reference's
//                    class means (in within-class standard deviations)
//   component shift  per PCA component, the batch's mean offset from its predicted classes'
//                    means in within-class sd: where the change is
//   variance kept    share of the batch's variance the reference components capture, against the
//                    reference's own share: a drop means the spectrum changed (refit the PCA)
//   label mix, and accuracy when the batch's labels are classes of the reference.
import type { NoveltyModel } from '../classify/novelty.js';
import { auroc, histogramOf, noveltyOf, whitenRows } from '../classify/novelty.js';
import { unitRows } from '../classify/knn.js';
import { percentText } from '../report/format.js';

/** The thresholds of the verdict. */
export const DRIFT_LIMITS = {
  /** A class is compared when it has at least this many batch rows and reference rows. */
  minRows: 5,
  /** Weighted mean domain AUC at or above which the batch has drifted. */
  auc: 0.75,
  /** Unknown share above max(factor × expected, expected + 3 σ) is drift. */
  unknownFactor: 2,
  /** Batch variance captured / reference variance captured below this is drift. */
  varianceKept: 0.8,
};

/** What drift needs from a reference (a bundle, or a features dataset fitted on the spot). */
export interface DriftReference {
  location: string;
  kind: 'bundle' | 'features';
  labels: string[];
  novelty: NoveltyModel;
  /** Reference rows in the novelty PCA space (rows × k) and their classes. */
  rows: Float32Array;
  rowLabels: Int32Array;
  /** Share of in-distribution photos past the threshold (measured at training). */
  expectedUnknownRate: number;
  /** Predicted class and top score of each batch row (raw features). */
  classify(features: Float32Array, n: number): Promise<{ predicted: Int32Array; top: Float32Array }>;
}

export interface DriftBatch {
  location: string;
  n: number;
  dim: number;
  features: Float32Array;
  labels: string[];
}

export interface ClassDrift {
  label: string;
  batchRows: number;
  referenceRows: number;
  unknownShare: number;
  /** Cross-validated domain-classifier AUC (null: too few rows to compare). */
  auc: number | null;
  /** Mahalanobis distance between the class means (within-class sd). */
  shift: number | null;
  /** Accuracy on the rows of this predicted class whose label is a class of the reference. */
  accuracy: number | null;
}

export interface DriftResult {
  reference: { location: string; kind: 'bundle' | 'features'; classes: number; threshold: number; expectedUnknownRate: number };
  batch: { location: string; rows: number };
  verdict: 'ok' | 'drift';
  reasons: string[];
  unknown: { rows: number; share: number; limit: number };
  domainAuc: { value: number | null; classes: number; limit: number };
  varianceKept: { batch: number; reference: number; ratio: number; limit: number };
  componentShift: number[];
  labelMix: { label: string; predicted: number; labelled: number }[];
  accuracy: { rows: number; top1: number } | null;
  classes: ClassDrift[];
  /** For the report: novelty histograms and a PC1/PC2 sample of both sides. */
  plots: {
    novelty: { from: number; width: number; reference: number[]; batch: number[] };
    scatter: { side: 'reference' | 'batch'; pc1: number; pc2: number; label: string }[];
  };
}

/** Ridge logistic regression by gradient descent (tiny problems: tens of rows × k). */
function fitDomain(x: Float64Array, y: Uint8Array, rows: number[], k: number, l2 = 0.1, iterations = 200): Float64Array {
  const w = new Float64Array(k + 1);
  const g = new Float64Array(k + 1);
  const lr = 0.5;
  const pos = rows.filter((r) => y[r]).length;
  // Balanced weights: the sides may differ a lot in size.
  const wPos = rows.length / (2 * Math.max(1, pos));
  const wNeg = rows.length / (2 * Math.max(1, rows.length - pos));
  for (let it = 0; it < iterations; it++) {
    g.fill(0);
    for (const r of rows) {
      let s = w[k];
      for (let j = 0; j < k; j++) s += w[j] * x[r * k + j];
      const p = 1 / (1 + Math.exp(-s));
      const e = (p - y[r]) * (y[r] ? wPos : wNeg);
      for (let j = 0; j < k; j++) g[j] += e * x[r * k + j];
      g[k] += e;
    }
    for (let j = 0; j <= k; j++) w[j] -= lr * (g[j] / rows.length + (j < k ? l2 * w[j] : 0));
  }
  return w;
}

/** Out-of-fold domain scores over 5 contiguous blocks per side; AUC of batch vs reference. */
function domainAuc(x: Float64Array, y: Uint8Array, k: number): number {
  const n = y.length;
  const folds = 5;
  const fold = new Int32Array(n);
  for (const side of [0, 1]) {
    const members = Array.from({ length: n }, (_, i) => i).filter((i) => y[i] === side);
    members.forEach((r, j) => (fold[r] = Math.floor((j * folds) / members.length)));
  }
  const scores = new Array<number>(n).fill(0);
  for (let f = 0; f < folds; f++) {
    const train = Array.from({ length: n }, (_, i) => i).filter((i) => fold[i] !== f);
    const w = fitDomain(x, y, train, k);
    for (let i = 0; i < n; i++) {
      if (fold[i] !== f) continue;
      let s = w[k];
      for (let j = 0; j < k; j++) s += w[j] * x[i * k + j];
      scores[i] = s;
    }
  }
  return auroc(scores.filter((_, i) => y[i] === 0), scores.filter((_, i) => y[i] === 1));
}

/** Class means in the PCA space: solves whiten · μ = m (forward substitution). */
function classMeansProjected(m: NoveltyModel): Float64Array {
  const { k, classes } = m;
  const out = new Float64Array(classes * k);
  for (let c = 0; c < classes; c++) for (let r = 0; r < k; r++) {
    let s = m.classMeans[c * k + r];
    for (let p = 0; p < r; p++) s -= m.whiten[r * k + p] * out[c * k + p];
    out[c * k + r] = s / m.whiten[r * k + r];
  }
  return out;
}

export async function measureDrift(ref: DriftReference, batch: DriftBatch): Promise<DriftResult> {
  const m = ref.novelty;
  const { k } = m;
  const n = batch.n;
  const { predicted, top } = await ref.classify(batch.features, n);
  const scored = await noveltyOf(m, batch.features, top, n);
  const z = scored.projected;
  const wBatch = whitenRows(m.whiten, z, n, k);
  const wRef = whitenRows(m.whiten, ref.rows, ref.rowLabels.length, k);
  const classes = ref.labels.length;
  const labelIndex = new Map(ref.labels.map((l, i) => [l, i]));

  // Per class.
  const perClass: ClassDrift[] = [];
  let aucSum = 0;
  let aucWeight = 0;
  for (let c = 0; c < classes; c++) {
    const b: number[] = [];
    for (let i = 0; i < n; i++) if (predicted[i] === c) b.push(i);
    if (b.length === 0) continue;
    const r: number[] = [];
    ref.rowLabels.forEach((l, i) => l === c && r.push(i));
    const labelled = b.filter((i) => labelIndex.has(batch.labels[i]));
    const unknownShare = b.filter((i) => scored.unknown[i]).length / b.length;
    let auc: number | null = null;
    let shift: number | null = null;
    if (b.length >= DRIFT_LIMITS.minRows && r.length >= DRIFT_LIMITS.minRows) {
      const x = new Float64Array((b.length + r.length) * k);
      const y = new Uint8Array(b.length + r.length);
      b.forEach((i, j) => {
        x.set(wBatch.subarray(i * k, (i + 1) * k), j * k);
        y[j] = 1;
      });
      r.forEach((i, j) => x.set(wRef.subarray(i * k, (i + 1) * k), (b.length + j) * k));
      auc = domainAuc(x, y, k);
      aucSum += auc * b.length;
      aucWeight += b.length;
      let d2 = 0;
      for (let j = 0; j < k; j++) {
        let mb = 0;
        let mr = 0;
        for (const i of b) mb += wBatch[i * k + j];
        for (const i of r) mr += wRef[i * k + j];
        d2 += (mb / b.length - mr / r.length) ** 2;
      }
      shift = Math.sqrt(d2);
    }
    perClass.push({
      label: ref.labels[c],
      batchRows: b.length,
      referenceRows: r.length,
      unknownShare,
      auc,
      shift,
      accuracy: labelled.length ? labelled.filter((i) => labelIndex.get(batch.labels[i]) === c).length / labelled.length : null,
    });
  }

  // Per component: offset from the predicted class's mean, in within-class sd.
  const means = classMeansProjected(m);
  const componentShift = Array.from({ length: k }, (_, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += z[i * k + j] - means[predicted[i] * k + j];
    return s / n / Math.sqrt(m.withinVariance[j]);
  });

  // Variance the reference components capture on the batch.
  const u = unitRows(batch.features, n, batch.dim);
  let total = 0;
  for (let d = 0; d < batch.dim; d++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = u[i * batch.dim + d];
      s += v;
      s2 += v * v;
    }
    total += s2 / n - (s / n) ** 2;
  }
  let captured = 0;
  for (let j = 0; j < k; j++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      s += z[i * k + j];
      s2 += z[i * k + j] ** 2;
    }
    captured += s2 / n - (s / n) ** 2;
  }
  const keptBatch = total > 0 ? captured / total : 0;
  const keptRef = m.eigenvalues.reduce((a, v) => a + v, 0) / m.totalVariance;

  // Label mix and accuracy.
  const mix = new Map<string, { predicted: number; labelled: number }>();
  const bump = (l: string, key: 'predicted' | 'labelled') => {
    const e = mix.get(l) ?? { predicted: 0, labelled: 0 };
    e[key]++;
    mix.set(l, e);
  };
  let labelled = 0;
  let right = 0;
  for (let i = 0; i < n; i++) {
    bump(ref.labels[predicted[i]], 'predicted');
    if (batch.labels[i]) bump(batch.labels[i], 'labelled');
    const t = labelIndex.get(batch.labels[i]);
    if (t !== undefined) {
      labelled++;
      if (t === predicted[i]) right++;
    }
  }

  // Verdict.
  const unknownRows = scored.unknown.filter(Boolean).length;
  const p = ref.expectedUnknownRate;
  const unknownLimit = Math.max(DRIFT_LIMITS.unknownFactor * p, p + 3 * Math.sqrt((p * (1 - p)) / n));
  const auc = aucWeight ? aucSum / aucWeight : null;
  const ratio = keptRef > 0 ? keptBatch / keptRef : 1;
  const reasons: string[] = [];
  const pct = (v: number) => percentText(v, 1);
  if (unknownRows / n > unknownLimit) reasons.push(`${pct(unknownRows / n)} of the photos are unknown (limit ${pct(unknownLimit)} for ${n} photos at an expected ${pct(p)})`);
  if (auc !== null && auc >= DRIFT_LIMITS.auc) reasons.push(`batch photos are told from reference photos of the same class with AUC ${auc.toFixed(2)} (limit ${DRIFT_LIMITS.auc})`);
  if (ratio < DRIFT_LIMITS.varianceKept) reasons.push(`the reference components capture ${pct(keptBatch)} of the batch's variance against ${pct(keptRef)} of the reference's (ratio ${ratio.toFixed(2)} < ${DRIFT_LIMITS.varianceKept}): refit`);

  // Plots: the batch's novelty on the bins of the reference's held-out histogram, a PC1/PC2 sample of both sides.
  const hr = m.calibration.histogram;
  const hb = histogramOf(scored.novelty, hr.from, hr.from + hr.width * hr.counts.length, hr.counts.length);
  const scatter: DriftResult['plots']['scatter'] = [];
  const every = (count: number, max: number) => Math.max(1, Math.ceil(count / max));
  for (let i = 0; i < ref.rowLabels.length; i += every(ref.rowLabels.length, 1500)) scatter.push({ side: 'reference', pc1: ref.rows[i * k], pc2: ref.rows[i * k + 1], label: ref.labels[ref.rowLabels[i]] });
  for (let i = 0; i < n; i += every(n, 1500)) scatter.push({ side: 'batch', pc1: z[i * k], pc2: z[i * k + 1], label: batch.labels[i] || ref.labels[predicted[i]] });

  return {
    reference: { location: ref.location, kind: ref.kind, classes, threshold: m.threshold, expectedUnknownRate: p },
    batch: { location: batch.location, rows: n },
    verdict: reasons.length ? 'drift' : 'ok',
    reasons,
    unknown: { rows: unknownRows, share: unknownRows / n, limit: unknownLimit },
    domainAuc: { value: auc, classes: perClass.filter((c) => c.auc !== null).length, limit: DRIFT_LIMITS.auc },
    varianceKept: { batch: keptBatch, reference: keptRef, ratio, limit: DRIFT_LIMITS.varianceKept },
    componentShift,
    labelMix: [...mix].map(([label, v]) => ({ label, ...v })).sort((a, b) => b.predicted + b.labelled - (a.predicted + a.labelled) || (a.label < b.label ? -1 : 1)),
    accuracy: labelled ? { rows: labelled, top1: right / labelled } : null,
    classes: perClass.sort((a, b) => (b.auc ?? -1) - (a.auc ?? -1)),
    plots: { novelty: { from: hb.from, width: hb.width, reference: hr.counts, batch: hb.counts }, scatter },
  };
}

