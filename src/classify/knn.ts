// k-nearest neighbours by cosine similarity: the training rows are kept unit-length, so one
// product Q·Tᵀ gives every similarity. A class's score is its share of the similarity-weighted
// votes of the k nearest rows (classes with no neighbour among them score 0).
import { multiplyABt } from '../kernels/gemm.js';

export interface KnnModel {
  kind: 'knn';
  classes: number;
  dim: number;
  k: number;
  /** Training rows, unit length, rows × dim. */
  rows: Float32Array;
  /** Class index of each training row. */
  labels: Int32Array;
}

/** Scales each row to unit length (a zero row stays zero), into a new array. */
export function unitRows(x: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const base = i * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[base + j] * x[base + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) out[base + j] = x[base + j] * inv;
  }
  return out;
}

export function fitKnn(x: Float32Array, y: Int32Array, n: number, dim: number, classes: number, k: number): KnnModel {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (n < 1) throw new Error('k-NN needs at least one training row');
  return { kind: 'knn', classes, dim, k: Math.min(k, n), rows: unitRows(x, n, dim), labels: Int32Array.from(y) };
}

// Similarities are computed for this many queries at a time: bounded memory on large training sets.
const QUERY_CHUNK = 256;

export async function knnScores(model: KnnModel, x: Float32Array, n: number): Promise<Float32Array> {
  const { dim, classes, k } = model;
  const total = model.labels.length;
  const out = new Float32Array(n * classes);
  const topIdx = new Int32Array(k);
  const topSim = new Float64Array(k);
  for (let start = 0; start < n; start += QUERY_CHUNK) {
    const m = Math.min(QUERY_CHUNK, n - start);
    const q = unitRows(x.subarray(start * dim, (start + m) * dim), m, dim);
    const sims = await multiplyABt(q, m, model.rows, total, dim);
    for (let i = 0; i < m; i++) {
      // Insertion into a sorted top-k list: k is small.
      let filled = 0;
      const base = i * total;
      for (let t = 0; t < total; t++) {
        const s = sims[base + t];
        if (filled === k && s <= topSim[k - 1]) continue;
        let pos = filled < k ? filled++ : k - 1;
        while (pos > 0 && topSim[pos - 1] < s) {
          topSim[pos] = topSim[pos - 1];
          topIdx[pos] = topIdx[pos - 1];
          pos--;
        }
        topSim[pos] = s;
        topIdx[pos] = t;
      }
      const row = (start + i) * classes;
      let sum = 0;
      for (let j = 0; j < filled; j++) {
        // Similarity weights in (0, 2]: an exact opposite still counts a little.
        const w = topSim[j] + 1 + 1e-6;
        out[row + model.labels[topIdx[j]]] += w;
        sum += w;
      }
      for (let c = 0; c < classes; c++) out[row + c] /= sum;
    }
  }
  return out;
}
