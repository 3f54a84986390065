// Classification metrics from a score matrix: top-1/top-5 accuracy, log-loss, per-class
// precision and recall, the confusion matrix and its largest off-diagonal cells.
import { rankOf, topClasses } from './classifier.js';

export interface Accuracy {
  rows: number;
  top1: number;
  top5: number;
  /** Mean −log(score of the true class), scores clamped at 1e-12. */
  loss: number;
}

export function accuracyOf(scores: Float32Array, y: Int32Array, classes: number): Accuracy {
  const n = y.length;
  let top1 = 0;
  let top5 = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const rank = rankOf(scores, i, classes, y[i]);
    if (rank === 0) top1++;
    if (rank < 5) top5++;
    loss -= Math.log(Math.max(scores[i * classes + y[i]], 1e-12));
  }
  return { rows: n, top1: n ? top1 / n : 0, top5: n ? top5 / n : 0, loss: n ? loss / n : 0 };
}

export interface ClassMetrics {
  label: string;
  /** Rows of this class in the evaluation set. */
  support: number;
  /** Rows predicted as this class. */
  predicted: number;
  correct: number;
  /** correct / predicted (null when never predicted). */
  precision: number | null;
  /** correct / support (null when the class has no rows here). */
  recall: number | null;
  f1: number | null;
}

export interface ConfusedPair {
  actual: string;
  predicted: string;
  count: number;
  /** Share of the actual class's rows that went to `predicted`. */
  share: number;
}

export interface Confusion {
  /** Predicted class (top-1) of each row. */
  predicted: Int32Array;
  /** classes × classes counts, [actual][predicted]. */
  matrix: Int32Array;
  perClass: ClassMetrics[];
  /** Off-diagonal cells, largest first. */
  pairs: ConfusedPair[];
}

export function confusionOf(scores: Float32Array, y: Int32Array, labels: readonly string[]): Confusion {
  const classes = labels.length;
  const n = y.length;
  const predicted = new Int32Array(n);
  const matrix = new Int32Array(classes * classes);
  for (let i = 0; i < n; i++) {
    predicted[i] = topClasses(scores, i, classes, 1)[0].index;
    matrix[y[i] * classes + predicted[i]]++;
  }
  const perClass: ClassMetrics[] = labels.map((label, c) => {
    let support = 0;
    let predictedCount = 0;
    for (let j = 0; j < classes; j++) {
      support += matrix[c * classes + j];
      predictedCount += matrix[j * classes + c];
    }
    const correct = matrix[c * classes + c];
    const precision = predictedCount ? correct / predictedCount : null;
    const recall = support ? correct / support : null;
    const f1 = precision !== null && recall !== null ? (precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0) : null;
    return { label, support, predicted: predictedCount, correct, precision, recall, f1 };
  });
  const pairs: ConfusedPair[] = [];
  for (let a = 0; a < classes; a++) {
    for (let p = 0; p < classes; p++) {
      const count = matrix[a * classes + p];
      if (a !== p && count > 0) pairs.push({ actual: labels[a], predicted: labels[p], count, share: count / perClass[a].support });
    }
  }
  pairs.sort((x, z) => z.count - x.count || z.share - x.share || (x.actual < z.actual ? -1 : x.actual > z.actual ? 1 : 0));
  return { predicted, matrix, perClass, pairs };
}
