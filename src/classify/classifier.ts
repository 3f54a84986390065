// The classifiers a bundle can hold, behind one scoring function: rows in (already
// standardised), n × classes scores out (probabilities for logreg, vote shares for k-NN).
import { knnScores, type KnnModel } from './knn.js';
import { logRegProbabilities, type LogRegModel } from './logreg.js';

export type Classifier = LogRegModel | KnnModel;
export type ClassifierKind = Classifier['kind'];

export function classifierScores(model: Classifier, x: Float32Array, n: number): Promise<Float32Array> {
  if (x.length !== n * model.dim) throw new RangeError(`expected ${n} rows × ${model.dim} inputs, got ${x.length}`);
  return model.kind === 'logreg' ? logRegProbabilities(model, x, n) : knnScores(model, x, n);
}

export interface Ranked {
  index: number;
  score: number;
}

/** The `k` best classes of one score row, best first; ties go to the lower class index. */
export function topClasses(scores: Float32Array, row: number, classes: number, k: number): Ranked[] {
  const base = row * classes;
  const out: Ranked[] = [];
  for (let c = 0; c < classes; c++) {
    const s = scores[base + c];
    if (out.length === k && s <= out[k - 1].score) continue;
    let pos = out.length < k ? out.length : k - 1;
    if (out.length < k) out.push({ index: c, score: s });
    while (pos > 0 && out[pos - 1].score < s) {
      out[pos] = out[pos - 1];
      pos--;
    }
    out[pos] = { index: c, score: s };
  }
  return out;
}

/** 0-based rank of class `target` in one score row (ties broken as in topClasses). */
export function rankOf(scores: Float32Array, row: number, classes: number, target: number): number {
  const base = row * classes;
  const s = scores[base + target];
  let rank = 0;
  for (let c = 0; c < classes; c++) {
    const v = scores[base + c];
    if (v > s || (v === s && c < target)) rank++;
  }
  return rank;
}
