// Merge-able summary statistics of a set of d-dimensional feature vectors: everything PCA needs,
// computed once per partition and combined in any order (sequentially or as a tree).
//
// The cross-product is kept centred (m2 = Σ (x − mean)(x − mean)ᵀ) and merged with the pairwise
// update of Chan, Golub & LeVeque, which stays accurate when the mean is large compared with the
// spread (ReLU6 features are all non-negative): the raw Σ xxᵀ − n·mean·meanᵀ would cancel badly.

export interface FeatureStats {
  readonly dim: number;
  /** Number of rows seen (a float64 integer, exact up to 2^53). */
  count: number;
  /** Per-feature mean (length dim; zeros while count = 0). */
  mean: Float64Array;
  /** Centred cross-product Σ (x − mean)(x − mean)ᵀ, full symmetric dim×dim, row-major. */
  m2: Float64Array;
  /** Per-feature minimum and maximum (+Inf / −Inf while count = 0). */
  min: Float64Array;
  max: Float64Array;
}

export function createStats(dim: number): FeatureStats {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`feature dimension must be a positive integer, got ${dim}`);
  return {
    dim,
    count: 0,
    mean: new Float64Array(dim),
    m2: new Float64Array(dim * dim),
    min: new Float64Array(dim).fill(Infinity),
    max: new Float64Array(dim).fill(-Infinity),
  };
}

export function cloneStats(s: FeatureStats): FeatureStats {
  return { dim: s.dim, count: s.count, mean: s.mean.slice(), m2: s.m2.slice(), min: s.min.slice(), max: s.max.slice() };
}

/** Everything but the cross-product: what the pairwise update treats the same in any storage of m2. */
export type Moments = Omit<FeatureStats, 'm2'>;

/**
 * The pairwise update of count, mean, min and max (Chan et al.); returns how m2 must change:
 * `copy` (target was empty), `keep` (src is empty), or the weight na·nb/n and the mean difference
 * for m2 += m2b + w·δδᵀ. The caller updates m2 — full (mergeInto) or packed (stats-file.ts).
 */
function mergeMoments(target: Moments, src: Moments): 'copy' | 'keep' | { w: number; delta: Float64Array } {
  if (target.dim !== src.dim) {
    throw new Error(`cannot merge feature statistics of dimension ${src.dim} into dimension ${target.dim}`);
  }
  if (src.count === 0) return 'keep';
  const d = target.dim;
  const na = target.count;
  const nb = src.count;
  const n = na + nb;
  if (na === 0) {
    target.count = nb;
    target.mean.set(src.mean);
    target.min.set(src.min);
    target.max.set(src.max);
    return 'copy';
  }
  const delta = new Float64Array(d);
  for (let j = 0; j < d; j++) delta[j] = src.mean[j] - target.mean[j];
  const fb = nb / n;
  for (let j = 0; j < d; j++) {
    target.mean[j] += delta[j] * fb;
    if (src.min[j] < target.min[j]) target.min[j] = src.min[j];
    if (src.max[j] > target.max[j]) target.max[j] = src.max[j];
  }
  target.count = n;
  return { w: (na * nb) / n, delta };
}

/**
 * Adds `src` into `target` in place (Chan et al.), with m2 stored full (each row from column 0) or
 * packed (each row from its diagonal, as in statistics files): the upper triangle gets the same
 * numbers either way.
 */
export function mergeM2Into(target: Moments & { m2: Float64Array }, src: Moments & { m2: Float64Array }, packed: boolean): void {
  const how = mergeMoments(target, src);
  if (how === 'keep') return;
  if (how === 'copy') {
    target.m2.set(src.m2);
    return;
  }
  const { w, delta } = how;
  const d = target.dim;
  const m2 = target.m2;
  const m2b = src.m2;
  for (let i = 0, at = 0; i < d; i++) {
    const wdi = w * delta[i];
    for (let j = packed ? i : 0; j < d; j++, at++) m2[at] += m2b[at] + wdi * delta[j];
  }
}

/** Adds `src` into `target` in place (Chan et al. pairwise update). */
export function mergeInto(target: FeatureStats, src: FeatureStats): void {
  mergeM2Into(target, src, false);
}

/** The statistics of the union of the two row sets (inputs are left untouched). */
export function mergeStats(a: FeatureStats, b: FeatureStats): FeatureStats {
  const out = cloneStats(a);
  mergeInto(out, b);
  return out;
}

/** Merges many partial statistics as a balanced tree (rounding error grows with log(parts)). */
export function mergeAll(parts: readonly FeatureStats[]): FeatureStats {
  return mergeTree(parts.map(cloneStats), mergeInto);
}

/**
 * Merges `level` pairwise, level by level, into its first element (which is modified, as are the
 * others). The same order for any storage of m2, so packed and full merges give the same numbers.
 */
export function mergeTree<T>(level: T[], merge: (into: T, from: T) => void): T {
  if (level.length === 0) throw new Error('mergeAll needs at least one partial statistics object');
  while (level.length > 1) {
    const next: T[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i];
      const b = level[i + 1];
      if (b) merge(a, b);
      next.push(a);
    }
    level = next;
  }
  return level[0];
}

/** Sample covariance (n − 1 denominator, as scikit-learn's PCA), full symmetric dim×dim. */
export function covariance(s: FeatureStats): Float64Array {
  if (s.count < 2) throw new Error(`covariance needs at least 2 rows, the statistics hold ${s.count}`);
  const inv = 1 / (s.count - 1);
  const c = new Float64Array(s.m2.length);
  for (let i = 0; i < c.length; i++) c[i] = s.m2[i] * inv;
  return c;
}
