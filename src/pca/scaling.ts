// Per-feature scale factors applied before PCA: x' = (x − mean) / scale.
//
//   none      scale = 1
//   standard  scale = sample standard deviation with the n − 1 denominator — what Spark MLlib's
//             StandardScaler(withStd) uses, the reference notebooks' convention. scikit-learn's
//             StandardScaler divides by the population std (n); the two differ by the constant
//             sqrt(n / (n − 1)), which leaves components and explained-variance ratios unchanged
//             and multiplies projections by sqrt((n − 1) / n).
//   minmax    scale = max − min: the feature maps to [0, 1] after adding back (mean − min)/scale,
//             as scikit-learn's MinMaxScaler; PCA centres afterwards, so only the range matters.
//
// A constant feature (min = max over the fitted rows, an exact test) gets scale 1 in every mode,
// as scikit-learn does: it then stays exactly 0 after centring instead of dividing by zero.
import type { FeatureStats } from '../stats/feature-stats.js';

/** How features are scaled before PCA: Spark's StandardScaler, MinMaxScaler, or centring only. */
export const SCALE_MODES = ['none', 'standard', 'minmax'] as const;
export type ScaleMode = (typeof SCALE_MODES)[number];

export interface Scaling {
  factors: Float64Array;
  /** Indices of features that were constant over the fitted rows. */
  constantFeatures: number[];
}

export function scalingFor(stats: FeatureStats, mode: ScaleMode): Scaling {
  const d = stats.dim;
  const factors = new Float64Array(d).fill(1);
  const constantFeatures: number[] = [];
  for (let j = 0; j < d; j++) {
    if (stats.count === 0 || stats.min[j] === stats.max[j]) {
      constantFeatures.push(j);
      continue;
    }
    if (mode === 'standard') factors[j] = Math.sqrt(stats.m2[j * d + j] / (stats.count - 1));
    else if (mode === 'minmax') factors[j] = stats.max[j] - stats.min[j];
  }
  return { factors, constantFeatures };
}
