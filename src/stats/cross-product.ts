// Centred cross-product of float32 rows, in float64: C = Σ (x − mean)(x − mean)ᵀ, batch by batch,
// in one pass over the rows (which also yields their sums, min and max).
//
// JS writes a shifted batch transposed (Xc, dim × n, float64: one row per feature) into a reused
// scratch buffer; ONNX Runtime's float64 Gemm (MLAS) then computes only the upper block triangle
// of the symmetric result (kernels/band-gemm.ts): for each band of ~160 features,
// C[band, band…] += Xc[band] · Xc[band…]ᵀ, both operands being contiguous row ranges of the same
// buffer (no copy), the running sum going in as the Gemm's C. Measured for 20,000 × 1280 in
// 3,276-row batches on the 2-core machine: 1.3 s of CPU against 2.0 s for the former graph (Cast,
// Sub and Split in ORT, then 10 Gemms on 320-column blocks of the row-major batch: the copies and
// transposed packing cost as much as the saved flops), and the batches no longer need a
// full-matrix copy and merge each.
import type * as ort from 'onnxruntime-node';
import { bandSession, bandsFor, type Bands } from '../kernels/band-gemm.js';
import { f64 } from '../kernels/ort-graph.js';

// Transposed-batch buffers kept between calls: statistics stream in batches of a bounded size, so
// this reuses one buffer of the largest batch instead of a fresh ~33 MB allocation per batch.
// Concurrent calls (Promise.all over parts) each take their own.
const idle: Float64Array[] = [];
const MAX_IDLE = 2;

function takeScratch(length: number): Float64Array {
  const i = idle.findIndex((buf) => buf.length >= length);
  return i >= 0 ? idle.splice(i, 1)[0] : new Float64Array(length);
}

function giveBack(buf: Float64Array): void {
  if (idle.length < MAX_IDLE) idle.push(buf);
}

/** Per-feature sums, minima and maxima, filled in place (given fresh: zeros, +∞, −∞). */
export interface RowMoments {
  sums: Float64Array;
  min: Float64Array;
  max: Float64Array;
}

/**
 * The one pass over a batch's float32 rows: Xc[j·n + i] = rows[i·dim + j] − shift[j] (float64,
 * transposed for the band GEMMs), adding each feature's sum, min and max on the way. Returns NaN
 * when a value is NaN or ±Infinity (a running v − v), 0 otherwise. Column by column inside
 * 64 × 64 tiles: the writes are contiguous and the moments stay in registers (20,000 × 1280: this
 * pass ~60 ms, where a row-wise validation pass and a row-wise transpose took ~55 + ~70 ms).
 */
function shiftedTranspose(rows: Float32Array, n: number, dim: number, shift: Float64Array, xc: Float64Array, m: RowMoments): number {
  const TILE = 64;
  const { sums, min, max } = m;
  let bad = 0;
  for (let i0 = 0; i0 < n; i0 += TILE) {
    const i1 = Math.min(n, i0 + TILE);
    for (let j0 = 0; j0 < dim; j0 += TILE) {
      const j1 = Math.min(dim, j0 + TILE);
      for (let j = j0; j < j1; j++) {
        const s = shift[j];
        const to = j * n;
        let sum = 0;
        let lo = min[j];
        let hi = max[j];
        for (let i = i0, from = i0 * dim + j; i < i1; i++, from += dim) {
          const v = rows[from];
          bad += v - v;
          sum += v;
          lo = v < lo ? v : lo;
          hi = v > hi ? v : hi;
          xc[to + i] = v - s;
        }
        sums[j] += sum;
        min[j] = lo;
        max[j] = hi;
      }
    }
  }
  return bad;
}

/** The mean of the first few rows: a shift near the mean, known before the single pass. */
function shiftOf(rows: Float32Array, n: number, dim: number): Float64Array {
  const count = Math.min(n, 16);
  const shift = new Float64Array(dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) shift[j] += rows[i * dim + j];
  for (let j = 0; j < dim; j++) shift[j] /= count;
  return shift;
}

/**
 * Reads the n rows once, `batchRows` at a time (the transposed float64 copy of a batch is the
 * memory cost): fills the fresh `moments` with their per-feature sums, min and max, and writes
 * Σ (x − mean)(x − mean)ᵀ into `out` (full symmetric dim×dim, row-major), mean = sums / n.
 * `rows` holds exactly n·dim float32 values, row-major, n ≥ 1.
 *
 * The products are taken about a shift s (the mean of the first rows), then corrected:
 * Σ (x − mean)(x − mean)ᵀ = Σ (x − s)(x − s)ᵀ − n·(mean − s)(mean − s)ᵀ. The correction costs
 * about ε·n·(mean − s)² of accuracy, nothing while s is within a few standard deviations of the
 * mean (raw sums, s = 0, would cancel catastrophically when the mean dwarfs the spread); it saves a
 * second pass over the rows. When the first rows were so far off that a feature's correction
 * exceeds SHIFT_GUARD times its variance, the products are taken again about the exact mean.
 * A batch holding a NaN or ±Infinity calls `nonFinite(first, count)` with its row range, which
 * must throw; nothing is written to `out` then.
 */
export async function centredCrossProduct(
  rows: Float32Array,
  n: number,
  dim: number,
  moments: RowMoments,
  out: Float64Array,
  nonFinite: (first: number, count: number) => never,
  batchRows = n,
): Promise<void> {
  const bands = bandsFor(dim);
  const shift = shiftOf(rows, n, dim);
  const bandSums = await shiftedProducts(rows, n, dim, shift, moments, nonFinite, batchRows, bands);
  const offset = new Float64Array(dim);
  for (let j = 0; j < dim; j++) offset[j] = moments.sums[j] / n - shift[j];
  if (shiftTooFar(bandSums, bands, offset, n)) {
    const mean = moments.sums.map((sum) => sum / n);
    const again: RowMoments = { sums: new Float64Array(dim), min: new Float64Array(dim).fill(Infinity), max: new Float64Array(dim).fill(-Infinity) };
    writeSymmetric(await shiftedProducts(rows, n, dim, mean, again, nonFinite, batchRows, bands), bands, dim, new Float64Array(dim), n, out);
    return;
  }
  writeSymmetric(bandSums, bands, dim, offset, n, out);
}

/** ε·n·offset² of round-off against at most 1e3·variance: ~2e-13 relative at worst. */
const SHIFT_GUARD = 1e3;

function shiftTooFar(bandSums: Float64Array[], bands: Bands, offset: Float64Array, n: number): boolean {
  for (let b = 0; b < bands.sizes.length; b++) {
    const width = bandSums[b].length / bands.sizes[b]; // features o … dim−1
    for (let a = 0; a < bands.sizes[b]; a++) {
      const j = bands.offsets[b] + a;
      const correction = n * offset[j] * offset[j];
      if (correction > 0 && correction > SHIFT_GUARD * (bandSums[b][a * width + a] - correction)) return true;
    }
  }
  return false;
}

/** The band sums (upper block triangle) of Σ (x − shift)(x − shift)ᵀ, batch by batch. */
async function shiftedProducts(
  rows: Float32Array,
  n: number,
  dim: number,
  shift: Float64Array,
  moments: RowMoments,
  nonFinite: (first: number, count: number) => never,
  batchRows: number,
  bands: Bands,
): Promise<Float64Array[]> {
  const count = bands.sizes.length;
  // Per task: every worker computes its parts' statistics at once (the thread budget).
  const session = bandSession(count, true, true);
  // Running sums of the bands, ping-ponged between two sets: ORT's outputs may not alias inputs.
  const sums = [0, 1].map(() => bands.offsets.map((o, b) => new Float64Array(bands.sizes[b] * (dim - o))));
  const scratch = takeScratch(Math.min(n, batchRows) * dim);
  let turn = 0;
  try {
    for (let start = 0; start < n; start += batchRows, turn ^= 1) {
      const m = Math.min(batchRows, n - start);
      const xc = scratch.subarray(0, m * dim);
      if (shiftedTranspose(rows.subarray(start * dim, (start + m) * dim), m, dim, shift, xc, moments) !== 0) nonFinite(start, m);
      const feeds: Record<string, ort.Tensor> = {};
      const fetches: Record<string, ort.Tensor> = {};
      for (let b = 0; b < count; b++) {
        const o = bands.offsets[b];
        const shape = [bands.sizes[b], dim - o];
        feeds[`A${b}`] = f64(xc.subarray(o * m, (o + bands.sizes[b]) * m), [bands.sizes[b], m]);
        feeds[`B${b}`] = f64(xc.subarray(o * m), [dim - o, m]);
        feeds[`C${b}`] = f64(sums[turn][b], shape);
        fetches[`S${b}`] = f64(sums[turn ^ 1][b], shape);
      }
      await (await session()).run(feeds, fetches);
    }
  } finally {
    giveBack(scratch);
  }
  return sums[turn];
}

/**
 * The band sums (upper block triangle) into the full symmetric matrix, each entry corrected by
 * −n·offset_i·offset_j once and mirrored (so that the result is exactly symmetric).
 */
function writeSymmetric(bandSums: Float64Array[], bands: Bands, dim: number, offset: Float64Array, n: number, out: Float64Array): void {
  for (let b = 0; b < bandSums.length; b++) {
    const c = bandSums[b];
    const o = bands.offsets[b];
    const width = dim - o;
    // Row a of band b is feature o + a against features o … dim−1: copy its upper part and mirror it.
    for (let a = 0; a < bands.sizes[b]; a++) {
      const src = a * width;
      const row = (o + a) * dim + o;
      const scaled = n * offset[o + a];
      for (let col = a; col < width; col++) {
        const v = c[src + col] - scaled * offset[o + col];
        out[row + col] = v;
        out[(o + col) * dim + o + a] = v;
      }
    }
  }
}
