// How many principal components to keep.
//
//   { k }         exactly k (1 ≤ k ≤ d). If k exceeds the numerical rank, the extra components
//                 have zero variance and span an arbitrary (but orthonormal, deterministic)
//                 part of the null space — as scikit-learn's full solver.
//   { variance }  the smallest k whose cumulative explained-variance ratio reaches the
//                 threshold (0 < variance ≤ 1; reaching allows 1e-12 of rounding), then:
//                 - never more than the numerical rank, so variance = 1 keeps exactly the
//                   components with non-zero variance;
//                 - extended over ties: if the k-th eigenvalue equals the next ones (relative
//                   1e-9), they are all kept — cutting inside a repeated eigenvalue would keep
//                   an arbitrary sub-space of it.
// Eigenvalues at or below d·ε·λmax count as zero (numpy's matrix_rank tolerance).
export type ComponentSelection = { k: number } | { variance: number };

const EPS = 2.220446049250313e-16;
const REACH_SLACK = 1e-12;
const TIE_RTOL = 1e-9;

/** Number of eigenvalues (descending, non-negative) that are numerically non-zero. */
export function numericalRank(values: Float64Array): number {
  if (values.length === 0) return 0;
  const tol = values.length * EPS * values[0];
  let r = 0;
  while (r < values.length && values[r] > tol) r++;
  return r;
}

/** Cumulative explained-variance ratios (Neumaier-compensated sums). */
export function cumulativeRatios(values: Float64Array, total: number): Float64Array {
  const out = new Float64Array(values.length);
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] / total;
    const t = sum + x;
    comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
    out[i] = sum + comp;
  }
  return out;
}

export function describeSelection(sel: ComponentSelection): string {
  return 'k' in sel ? `k=${sel.k}` : `variance=${sel.variance}`;
}

/**
 * The number of components to keep, given all eigenvalues (descending, clamped at 0) and the
 * total variance (trace of the covariance).
 */
export function selectComponents(values: Float64Array, total: number, sel: ComponentSelection): number {
  const d = values.length;
  if ('k' in sel) {
    if (!Number.isInteger(sel.k) || sel.k < 1 || sel.k > d) {
      throw new RangeError(`number of components k must be an integer between 1 and the feature dimension ${d}, got ${sel.k}`);
    }
    return sel.k;
  }
  const v = sel.variance;
  if (!(v > 0 && v <= 1)) throw new RangeError(`explained-variance threshold must be in (0, 1], got ${v}`);
  const rank = numericalRank(values);
  if (rank === 0) throw new Error('all eigenvalues are zero: nothing to explain');
  let k: number;
  if (v === 1) {
    k = rank;
  } else {
    const cum = cumulativeRatios(values, total);
    k = 1;
    while (k < rank && cum[k - 1] + REACH_SLACK < v) k++;
  }
  while (k < rank && values[k] >= values[k - 1] * (1 - TIE_RTOL)) k++;
  return k;
}
