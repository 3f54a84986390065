// Streaming accumulation of feature rows into merge-able statistics.
import { UserError } from '../util/errors.js';
import { centredCrossProduct } from './cross-product.js';
import { createStats, mergeInto, type FeatureStats } from './feature-stats.js';

/** A NaN or ±Infinity in a feature row: the featurizer produced garbage for that image. */
export class NonFiniteFeatureError extends UserError {
  override readonly name = 'NonFiniteFeatureError';
  constructor(
    /** Global index of the offending row (firstRowIndex + position in the batch). */
    readonly rowIndex: number,
    /** The row's label from the caller's rowName(), when one was given. */
    readonly rowName: string | undefined,
    readonly feature: number,
    readonly value: number,
  ) {
    super(
      `non-finite feature value ${value} in row ${rowIndex}${rowName === undefined ? '' : ` (${rowName})`} at feature ${feature}`,
    );
  }
}

/** Maps a global row index to a human label, e.g. the image path. */
export type RowNamer = (rowIndex: number) => string;

// ~16 MiB of float32 per batch (and its 32 MiB float64 transposed copy for the GEMMs): large
// enough for GEMM efficiency, small enough to keep memory flat whatever n is.
const BATCH_ELEMENTS = 1 << 22;

export interface RowsOptions {
  /** Global index of rows[0], for error messages. Default 0. */
  firstRowIndex?: number;
  /** Label of a row by global index (e.g. its image path), for error messages. */
  rowName?: RowNamer;
  /** Rows per cross-product batch (memory vs GEMM efficiency); default ~4 Mi values per batch. */
  batchRows?: number;
}

/**
 * The statistics of n rows (row-major float32, n·dim values).
 * Throws NonFiniteFeatureError naming the first row with a NaN/Inf.
 */
export async function statsOfRows(rows: Float32Array, n: number, dim: number, opts: RowsOptions = {}): Promise<FeatureStats> {
  const { firstRowIndex = 0, rowName } = opts;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`row count must be a non-negative integer, got ${n}`);
  if (rows.length !== n * dim) {
    throw new RangeError(`expected ${n} rows × ${dim} features = ${n * dim} values, got ${rows.length}`);
  }
  const out = createStats(dim);
  if (n === 0) return out;
  const batchRows = opts.batchRows ?? Math.max(1, Math.floor(BATCH_ELEMENTS / dim));
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new RangeError(`batchRows must be a positive integer, got ${batchRows}`);

  // One pass (cross-product.ts) validates, takes min/max/sums and the cross-product. A batch with
  // a NaN or ±Inf is scanned again here to name the first bad value; `out` is thrown away then,
  // so a bad row leaves the caller's statistics untouched.
  const sums = new Float64Array(dim);
  const firstNonFinite = (first: number, count: number): never => {
    for (let i = first; i < first + count; i++) {
      for (let j = 0; j < dim; j++) {
        const v = rows[i * dim + j];
        if (v - v !== 0) {
          const rowIndex = firstRowIndex + i;
          throw new NonFiniteFeatureError(rowIndex, rowName?.(rowIndex), j, v);
        }
      }
    }
    throw new Error('internal: a batch flagged as non-finite has only finite values');
  };
  await centredCrossProduct(rows, n, dim, { sums, min: out.min, max: out.max }, out.m2, firstNonFinite, batchRows);
  for (let j = 0; j < dim; j++) out.mean[j] = sums[j] / n;
  out.count = n;
  return out;
}

/**
 * Adds n rows to `stats` in place. `firstRowIndex` is the global index of rows[0], used (with the
 * optional rowName) to name the offending row in a NonFiniteFeatureError. On any error `stats`
 * is unchanged.
 */
export async function accumulate(
  stats: FeatureStats,
  rows: Float32Array,
  n: number,
  firstRowIndex = 0,
  rowName?: RowNamer,
): Promise<void> {
  const part = await statsOfRows(rows, n, stats.dim, { firstRowIndex, rowName });
  mergeInto(stats, part);
}
