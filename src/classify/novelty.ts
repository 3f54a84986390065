// Novelty: how unlike its training data a photo is, from what a bundle keeps of those data.
//
//   u        = x / ‖x‖                                 x: the photo's raw CNN features
//   z        = (u − mean) · componentsᵀ                a k-component PCA of the training rows' u
//   w_c      = L_c⁻¹ · z                               Σ_c = L_c·L_cᵀ, class c's covariance (below)
//   distance = min over classes c of ‖w_c − m_c‖ / √k  m_c = L_c⁻¹ · (class c's mean z)
//   novelty  = distance / distanceScale + confidenceWeight · (1 − the classifier's top score)
//
// A class-conditional Mahalanobis distance with one covariance per class, shrunk toward the
// pooled within-class covariance (regularised discriminant analysis, Friedman 1989):
//   Σ_c = (1 − pooledWeight) · S_c + pooledWeight · S_pooled,  plus a ridge of `shrinkage` × its
//   mean eigenvalue.
// Why per class: the photos of one class are frames of one fruit turning, so each class varies
// along its own few directions; a new class close to a known one (Apple Red 2 beside Apple Red 1
// and 3) sits near that class's mean but off its directions. AUROC with 15 of 119 classes left
// out, mean of eight random splits (bench/novelty.ts; docs/recognition.md): pooled covariance
// alone (version 1 of this data) 0.87, plus the doubt 0.92; per class alone 0.96, plus the doubt
// 0.965 ± 0.007.
//
// The threshold is fixed at training time on the trainer's held-out slice (the last rows of each
// class in path order: a contiguous run of frames, since Fruits-360 neighbours are near-copies
// and a leave-one-out score would make it far too tight): Gaussians fitted without those rows,
// top scores from the classifier fitted without them, and the threshold their (1 − rate)
// quantile, so ~1.5 % of in-distribution photos are flagged.
//
// A bundle stores the model as arrays named `novelty.*` in weights.bin and a `novelty` entry in
// bundle.json (see bundle.ts). Version 1 data (pooled covariance only: no `novelty.classWhiten`)
// still load and score as they did. The pooled whitening is kept in version 2 too: drift reports
// measure shifts in its units. Other consumers (ONNX export, bots) use noveltyOf() or reproduce
// the lines above from those arrays.
import { z } from 'zod';
import { statsOfRows } from '../stats/index.js';
import { fitPca } from '../pca/index.js';
import { multiplyABt } from '../kernels/gemm.js';
import { unitRows } from './knn.js';
import { compareBytewise } from '../util/byte-order.js';

/** Version 2: one covariance per class; version 1 (pooled covariance only) still loads. */
export const NOVELTY_VERSION = 2;
const METHODS = { 1: 'unit-mahalanobis+doubt', 2: 'class-mahalanobis+doubt' } as const;
export type NoveltyMethod = (typeof METHODS)[keyof typeof METHODS];
export const NOVELTY_DEFAULTS = {
  /**
   * Share of held-out rows the threshold flags as unknown. 1 %, not 1.5 %: the quantile rests on a
   * handful of held-out rows, and over random splits the rate on new in-distribution photos
   * spread ±0.7 points around it (two of eight splits at 2.4 % with 1.5 %).
   */
  targetRate: 0.01,
  /** PCA components of the distance: 48 and 64 score within the spread of 32 and cost more bundle (k² per class). */
  k: 32,
  /** Ridge added to each covariance, as a share of its mean eigenvalue. */
  shrinkage: 0.05,
  /** Share of the pooled within-class covariance in each class's covariance (1 = pooled only, version 1). */
  pooledWeight: 0.1,
  /**
   * Weight of the classifier's doubt against the distance (scaled to median 1 on held-out rows):
   * equal footing. 0.5 and 1 score alike (1 flags fewer in-distribution photos), 0 and 2 lower.
   */
  confidenceWeight: 1,
  /**
   * Reference rows kept per class (PCA scores), for drift reports, and at most in all: 10 (was
   * 16) keeps the bundle under twice its size without novelty data now that each class has its
   * own k(k+1)/2 factor; drift compares a class from 5 rows on.
   */
  rowsPerClass: 10,
  maxRows: 2048,
};

export interface NoveltyModel {
  method: NoveltyMethod;
  /** Raw feature dimension. */
  inputDim: number;
  k: number;
  classes: number;
  /** Centre of the unit-length features (inputDim) and the PCA directions (k × inputDim, unit rows). */
  mean: Float32Array;
  components: Float32Array;
  /** Variance of the training rows along each component (k), and their total variance. */
  eigenvalues: Float64Array;
  totalVariance: number;
  /** k × k lower-triangular inverse Cholesky factor of the shrunk pooled within-class covariance. */
  whiten: Float32Array;
  /** Class means whitened by `whiten`, classes × k. */
  classMeans: Float32Array;
  /**
   * Version 2: each class's own factor L_c⁻¹, lower triangles packed row by row (classes ×
   * k(k+1)/2), and each class mean whitened by its own factor (classes × k). Absent in version 1,
   * whose distance uses `whiten` and `classMeans`.
   */
  classWhiten?: Float32Array;
  classCentres?: Float32Array;
  pooledWeight?: number;
  /** Per-component within-class variance (k): the unit of per-component shift in drift reports. */
  withinVariance: Float64Array;
  /** Reference rows: PCA scores (rows × k) and class indices, a sample of the training rows. */
  rows: Float32Array;
  rowLabels: Int32Array;
  distanceScale: number;
  confidenceWeight: number;
  threshold: number;
  calibration: NoveltyCalibration;
}

export const noveltyCalibrationSchema = z.object({
  /** Held-out rows scored, the share of them above the threshold (≈ targetRate). */
  rows: z.number().int().nonnegative(),
  targetRate: z.number().min(0).max(1),
  heldOutRate: z.number().min(0).max(1),
  shrinkage: z.number().nonnegative(),
  quantiles: z.object({ p50: z.number(), p90: z.number(), p99: z.number() }),
  /** Histogram of the held-out novelty, for reports. */
  histogram: z.object({ from: z.number(), width: z.number().positive(), counts: z.array(z.number().int().nonnegative()) }),
});
export type NoveltyCalibration = z.infer<typeof noveltyCalibrationSchema>;

/** The novelty entry of bundle.json (the arrays live in weights.bin). */
const noveltyManifestFields = {
  inputDim: z.number().int().positive(),
  k: z.number().int().positive(),
  rows: z.number().int().nonnegative(),
  totalVariance: z.number().positive(),
  distanceScale: z.number().positive(),
  confidenceWeight: z.number().nonnegative(),
  threshold: z.number().positive(),
  calibration: noveltyCalibrationSchema,
};
export const noveltyManifestSchema = z.discriminatedUnion('version', [
  z.object({ version: z.literal(1), method: z.literal(METHODS[1]), ...noveltyManifestFields }),
  z.object({ version: z.literal(2), method: z.literal(METHODS[2]), pooledWeight: z.number().min(0).max(1), ...noveltyManifestFields }),
]);
export type NoveltyManifest = z.infer<typeof noveltyManifestSchema>;

/** The typed arrays of a model, by their name in weights.bin. */
export function noveltyArrays(m: NoveltyModel): Record<string, Float32Array | Float64Array | Int32Array> {
  return {
    'novelty.mean': m.mean,
    'novelty.components': m.components,
    'novelty.eigenvalues': m.eigenvalues,
    'novelty.withinVariance': m.withinVariance,
    'novelty.whiten': m.whiten,
    'novelty.classMeans': m.classMeans,
    'novelty.rows': m.rows,
    'novelty.rowLabels': m.rowLabels,
    ...(m.classWhiten && m.classCentres ? { 'novelty.classWhiten': m.classWhiten, 'novelty.classCentres': m.classCentres } : {}),
  };
}

export function noveltyManifest(m: NoveltyModel): NoveltyManifest {
  const { inputDim, k, totalVariance, distanceScale, confidenceWeight, threshold, calibration } = m;
  const fields = { inputDim, k, rows: m.rowLabels.length, totalVariance, distanceScale, confidenceWeight, threshold, calibration };
  if (m.method === METHODS[1]) return { version: 1, method: m.method, ...fields };
  return { version: 2, method: m.method, pooledWeight: m.pooledWeight ?? NOVELTY_DEFAULTS.pooledWeight, ...fields };
}

type ArrayReader = <T extends Float32Array | Float64Array | Int32Array>(name: string, dtype: 'float32' | 'float64' | 'int32', length: number) => T;

/** Rebuilds the model from bundle.json's entry and weights.bin's arrays (sizes checked by `read`). */
export function noveltyFromBundle(entry: NoveltyManifest, classes: number, read: ArrayReader): NoveltyModel {
  const { inputDim, k, rows } = entry;
  const rowLabels = read<Int32Array>('novelty.rowLabels', 'int32', rows);
  if (rowLabels.some((l) => l < 0 || l >= classes)) throw new Error('novelty reference rows have labels outside the label list');
  return {
    method: entry.method,
    ...(entry.version === 2
      ? {
          pooledWeight: entry.pooledWeight,
          classWhiten: read<Float32Array>('novelty.classWhiten', 'float32', classes * packedSize(k)),
          classCentres: read<Float32Array>('novelty.classCentres', 'float32', classes * k),
        }
      : {}),
    inputDim,
    k,
    classes,
    mean: read<Float32Array>('novelty.mean', 'float32', inputDim),
    components: read<Float32Array>('novelty.components', 'float32', k * inputDim),
    eigenvalues: read<Float64Array>('novelty.eigenvalues', 'float64', k),
    withinVariance: read<Float64Array>('novelty.withinVariance', 'float64', k),
    totalVariance: entry.totalVariance,
    whiten: read<Float32Array>('novelty.whiten', 'float32', k * k),
    classMeans: read<Float32Array>('novelty.classMeans', 'float32', classes * k),
    rows: read<Float32Array>('novelty.rows', 'float32', rows * k),
    rowLabels,
    distanceScale: entry.distanceScale,
    confidenceWeight: entry.confidenceWeight,
    threshold: entry.threshold,
    calibration: entry.calibration,
  };
}

// ---------------------------------------------------------------- scoring

/** PCA scores (n × k) of n rows of raw features. */
export async function noveltyProject(m: Pick<NoveltyModel, 'mean' | 'components' | 'k' | 'inputDim'>, features: Float32Array, n: number): Promise<Float32Array> {
  const d = m.inputDim;
  if (features.length !== n * d) throw new RangeError(`expected ${n} rows × ${d} features, got ${features.length}`);
  const u = unitRows(features, n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) u[i * d + j] -= m.mean[j];
  return multiplyABt(u, n, m.components, m.k, d);
}

/** w = L⁻¹·z for each row (L⁻¹ lower-triangular, k × k). */
export function whitenRows(whiten: ArrayLike<number>, z: ArrayLike<number>, n: number, k: number): Float64Array {
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const zb = i * k;
    for (let r = 0; r < k; r++) {
      let s = 0;
      const wb = r * k;
      for (let c = 0; c <= r; c++) s += whiten[wb + c] * z[zb + c];
      out[zb + r] = s;
    }
  }
  return out;
}

export interface ClassGaussians {
  k: number;
  classes: number;
  /** The pooled factor and the class means it whitens (version 1's distance; drift's units). */
  whiten: Float32Array;
  classMeans: Float32Array;
  /** Each class's own factor (packed lower triangles) and whitened mean: the distance when present. */
  classWhiten?: Float32Array;
  classCentres?: Float32Array;
}

/** Entries of a packed lower triangle of a k × k matrix. */
export function packedSize(k: number): number {
  return (k * (k + 1)) / 2;
}

/** Distance to the nearest class (‖w_c − m_c‖ / √k) and which class, for PCA-space rows (n × k). */
export function classDistances(g: ClassGaussians, z: Float32Array, n: number): { distance: Float32Array; nearest: Int32Array } {
  const { k, classes, classWhiten: factors, classCentres: centres } = g;
  if (factors && centres) {
    // Each class whitened by its own factor; a class stops as soon as it cannot win.
    const size = packedSize(k);
    return nearestClass(n, classes, k, (i, c, bound) => {
      const zb = i * k;
      let d2 = 0;
      for (let r = 0, rb = c * size; r < k && d2 < bound; rb += ++r) {
        let s = -centres[c * k + r];
        for (let p = 0; p <= r; p++) s += factors[rb + p] * z[zb + p];
        d2 += s * s;
      }
      return d2;
    });
  }
  const w = whitenRows(g.whiten, z, n, k);
  return nearestClass(n, classes, k, (i, c, bound) => {
    let d2 = 0;
    for (let j = 0; j < k && d2 < bound; j++) {
      const t = w[i * k + j] - g.classMeans[c * k + j];
      d2 += t * t;
    }
    return d2;
  });
}

/** For each of n rows, the class of least squared distance (d2 may stop once past `bound`) and √(d2 / k). */
function nearestClass(n: number, classes: number, k: number, d2: (row: number, c: number, bound: number) => number): { distance: Float32Array; nearest: Int32Array } {
  const distance = new Float32Array(n);
  const nearest = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    let arg = 0;
    for (let c = 0; c < classes; c++) {
      const d = d2(i, c, best);
      if (d < best) {
        best = d;
        arg = c;
      }
    }
    distance[i] = Math.sqrt(best / k);
    nearest[i] = arg;
  }
  return { distance, nearest };
}

export interface NoveltyScores {
  /** Per row: higher = less like the training data; above the model's threshold = unknown. */
  novelty: Float32Array;
  unknown: boolean[];
  /** The distance part and the nearest class by it. */
  distance: Float32Array;
  nearest: Int32Array;
  /** PCA scores (n × k), for drift reports. */
  projected: Float32Array;
}

function combine(distance: ArrayLike<number>, topScores: ArrayLike<number>, scale: number, weight: number): Float32Array {
  return Float32Array.from(distance, (d, i) => d / scale + weight * (1 - topScores[i]));
}

/**
 * Novelty of n photos from their raw features and the classifier's top score for each (its
 * probability for logistic regression, vote share for k-NN).
 */
export async function noveltyOf(m: NoveltyModel, features: Float32Array, topScores: ArrayLike<number>, n: number): Promise<NoveltyScores> {
  if (topScores.length !== n) throw new RangeError(`expected ${n} top scores, got ${topScores.length}`);
  const projected = await noveltyProject(m, features, n);
  const { distance, nearest } = classDistances(m, projected, n);
  const novelty = combine(distance, topScores, m.distanceScale, m.confidenceWeight);
  return { novelty, unknown: Array.from(novelty, (v) => v > m.threshold), distance, nearest, projected };
}

/** The best score of each row of an n × classes score matrix. */
export function topScoresOf(scores: Float32Array, n: number, classes: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    for (let c = 0; c < classes; c++) if (scores[i * classes + c] > best) best = scores[i * classes + c];
    out[i] = best;
  }
  return out;
}

// ---------------------------------------------------------------- fitting

/** Lower-triangular inverse of the Cholesky factor of a symmetric positive-definite k × k matrix. */
function inverseCholesky(a: Float64Array, k: number): Float64Array {
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * k + j];
      for (let p = 0; p < j; p++) s -= l[i * k + p] * l[j * k + p];
      if (i === j) {
        if (!(s > 0)) throw new Error('novelty: the within-class covariance is not positive definite');
        l[i * k + i] = Math.sqrt(s);
      } else {
        l[i * k + j] = s / l[j * k + j];
      }
    }
  }
  // Forward substitution, column by column: L · inv = I.
  const inv = new Float64Array(k * k);
  for (let c = 0; c < k; c++) {
    for (let i = c; i < k; i++) {
      let s = i === c ? 1 : 0;
      for (let p = c; p < i; p++) s -= l[i * k + p] * inv[p * k + c];
      inv[i * k + c] = s / l[i * k + i];
    }
  }
  return inv;
}

/** Adds a ridge of `shrinkage` × the mean eigenvalue (trace / k) to a k × k covariance, in place. */
function addRidge(cov: Float64Array, k: number, shrinkage: number): void {
  let trace = 0;
  for (let a = 0; a < k; a++) trace += cov[a * k + a];
  const ridge = shrinkage * (trace / k) + 1e-12;
  for (let a = 0; a < k; a++) cov[a * k + a] += ridge;
}

/**
 * Class means and whitenings of the rows `use` keeps: the pooled within-class covariance and,
 * unless pooledWeight is 1, each class's own covariance shrunk toward the pooled one; each with
 * its ridge.
 */
export function fitClassGaussians(
  z: Float32Array,
  y: Int32Array,
  k: number,
  classes: number,
  opts: { shrinkage: number; pooledWeight: number },
  use?: (i: number) => boolean,
): ClassGaussians & { withinVariance: Float64Array } {
  const n = y.length;
  const means = new Float64Array(classes * k);
  const counts = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    if (use && !use(i)) continue;
    counts[y[i]]++;
    for (let j = 0; j < k; j++) means[y[i] * k + j] += z[i * k + j];
  }
  for (let c = 0; c < classes; c++) for (let j = 0; j < k; j++) means[c * k + j] /= Math.max(1, counts[c]);
  // Scatter of each class about its mean (lower triangles), and their sum.
  const scatter = new Float64Array(classes * k * k);
  const r = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    if (use && !use(i)) continue;
    for (let j = 0; j < k; j++) r[j] = z[i * k + j] - means[y[i] * k + j];
    const sb = y[i] * k * k;
    for (let a = 0; a < k; a++) for (let b = 0; b <= a; b++) scatter[sb + a * k + b] += r[a] * r[b];
  }
  const used = counts.reduce((a, v) => a + v, 0);
  const pooled = new Float64Array(k * k);
  for (let c = 0; c < classes; c++) for (let a = 0; a < k; a++) for (let b = 0; b <= a; b++) pooled[a * k + b] += scatter[c * k * k + a * k + b];
  const symmetric = (cov: Float64Array, dof: number) => {
    for (let a = 0; a < k; a++) {
      for (let b = 0; b <= a; b++) {
        cov[a * k + b] /= dof;
        cov[b * k + a] = cov[a * k + b];
      }
    }
    return cov;
  };
  symmetric(pooled, Math.max(1, used - classes));
  const withinVariance = Float64Array.from({ length: k }, (_, j) => pooled[j * k + j]);
  const pooledRidged = pooled.slice();
  addRidge(pooledRidged, k, opts.shrinkage);
  const whiten = inverseCholesky(pooledRidged, k);
  const out: ClassGaussians & { withinVariance: Float64Array } = {
    k,
    classes,
    whiten: Float32Array.from(whiten),
    classMeans: Float32Array.from(whitenRows(whiten, means, classes, k)),
    withinVariance,
  };
  if (opts.pooledWeight >= 1) return out;
  const size = packedSize(k);
  const classWhiten = new Float32Array(classes * size);
  const classCentres = new Float32Array(classes * k);
  for (let c = 0; c < classes; c++) {
    const own = symmetric(scatter.subarray(c * k * k, (c + 1) * k * k), Math.max(1, counts[c] - 1));
    for (let e = 0; e < k * k; e++) own[e] = (1 - opts.pooledWeight) * own[e] + opts.pooledWeight * pooled[e];
    addRidge(own, k, opts.shrinkage);
    const f = inverseCholesky(own, k);
    for (let a = 0, p = c * size; a < k; a++) for (let b = 0; b <= a; b++) classWhiten[p++] = f[a * k + b];
    classCentres.set(whitenRows(f, means.subarray(c * k, (c + 1) * k), 1, k), c * k);
  }
  return { ...out, classWhiten, classCentres };
}

/** The q-quantile (0 … 1) of values, linear between order statistics. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export interface NoveltyFitInput {
  /** Raw features of the training rows (n × dim), their class indices and paths. */
  features: Float32Array;
  n: number;
  dim: number;
  y: Int32Array;
  classes: number;
  paths: readonly string[];
  /** The trainer's held-out slice and the top scores the classifier fitted without it gives its rows. */
  held: readonly number[];
  heldTopScores: ArrayLike<number>;
}

export type NoveltyFitOptions = Partial<typeof NOVELTY_DEFAULTS>;

export async function fitNovelty(input: NoveltyFitInput, opts: NoveltyFitOptions = {}): Promise<NoveltyModel> {
  const o = { ...NOVELTY_DEFAULTS, ...opts };
  const { n, dim, y, classes, held } = input;
  if (held.length === 0) throw new Error('novelty: the threshold needs held-out rows');
  const k = Math.min(o.k, dim, n - classes - 1);
  if (k < 1) throw new Error(`novelty: too few rows (${n}) for ${classes} classes`);
  const unit = unitRows(input.features, n, dim);
  const pca = await fitPca(await statsOfRows(unit, n, dim), { scale: 'none', components: { k }, featurizer: { modelId: 'novelty', sha256: '0'.repeat(64) } });
  const space = { mean: Float32Array.from(pca.mean), components: Float32Array.from(pca.components), k, inputDim: dim };
  const z = await noveltyProject(space, input.features, n);

  // Calibration: Gaussians without the held-out slice, its rows scored as new photos.
  const isHeld = new Uint8Array(n);
  for (const i of held) isHeld[i] = 1;
  const g0 = fitClassGaussians(z, y, k, classes, o, (i) => !isHeld[i]);
  const zh = new Float32Array(held.length * k);
  held.forEach((r, i) => zh.set(z.subarray(r * k, (r + 1) * k), i * k));
  const heldDistance = classDistances(g0, zh, held.length).distance;
  const distanceScale = quantile(heldDistance, 0.5);
  const heldNovelty = combine(heldDistance, input.heldTopScores, distanceScale, o.confidenceWeight);
  const threshold = quantile(heldNovelty, 1 - o.targetRate);
  const g = fitClassGaussians(z, y, k, classes, o);

  // Reference rows: evenly spaced through each class (path order), for drift reports.
  const perClass = Math.max(1, Math.min(o.rowsPerClass, Math.floor(o.maxRows / classes)));
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  y.forEach((c, i) => byClass[c].push(i));
  const kept: number[] = [];
  for (const rows of byClass) {
    rows.sort((a, b) => compareBytewise(input.paths[a], input.paths[b]));
    const take = Math.min(perClass, rows.length);
    for (let j = 0; j < take; j++) kept.push(rows[Math.floor(((j + 0.5) * rows.length) / take)]);
  }
  const rows = new Float32Array(kept.length * k);
  kept.forEach((r, i) => rows.set(z.subarray(r * k, (r + 1) * k), i * k));
  return {
    method: o.pooledWeight >= 1 ? METHODS[1] : METHODS[2],
    ...(g.classWhiten ? { classWhiten: g.classWhiten, classCentres: g.classCentres, pooledWeight: o.pooledWeight } : {}),
    inputDim: dim,
    k,
    classes,
    mean: space.mean,
    components: space.components,
    eigenvalues: pca.eigenvalues.slice(),
    totalVariance: pca.totalVariance,
    whiten: g.whiten,
    classMeans: g.classMeans,
    withinVariance: g.withinVariance,
    rows,
    rowLabels: Int32Array.from(kept, (r) => y[r]),
    distanceScale,
    confidenceWeight: o.confidenceWeight,
    threshold,
    calibration: {
      rows: held.length,
      targetRate: o.targetRate,
      heldOutRate: heldNovelty.filter((v) => v > threshold).length / held.length,
      shrinkage: o.shrinkage,
      quantiles: { p50: quantile(heldNovelty, 0.5), p90: quantile(heldNovelty, 0.9), p99: quantile(heldNovelty, 0.99) },
      histogram: histogramOf(heldNovelty, 0, Math.max(2 * threshold, quantile(heldNovelty, 1)), 40),
    },
  };
}

/** Counts of values in `bins` equal bins from `from` to `to` (the last bin takes everything above). */
export function histogramOf(values: ArrayLike<number>, from: number, to: number, bins: number): { from: number; width: number; counts: number[] } {
  const width = Math.max((to - from) / bins, 1e-9);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) counts[Math.max(0, Math.min(bins - 1, Math.floor((values[i] - from) / width)))]++;
  return { from, width, counts };
}

/** Area under the ROC curve of scores where positives should score higher (ties count half). */
export function auroc(negatives: ArrayLike<number>, positives: ArrayLike<number>): number {
  const all = [...Array.from(negatives, (v) => ({ v, p: 0 })), ...Array.from(positives, (v) => ({ v, p: 1 }))].sort((a, b) => a.v - b.v);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j].v === all[i].v) j++;
    const mid = (i + j + 1) / 2;
    for (let t = i; t < j; t++) if (all[t].p) rankSum += mid;
    i = j;
  }
  const np = positives.length;
  const nn = negatives.length;
  if (!np || !nn) return NaN;
  return (rankSum - (np * (np + 1)) / 2) / (np * nn);
}
