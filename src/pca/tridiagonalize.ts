// Householder reduction of a dense symmetric matrix to tridiagonal form, A = Q·T·Qᵀ, blocked as
// LAPACK's dsytrd/dlatrd (lower): each panel of NB columns needs one GEMV per column against the
// not-yet-updated trailing matrix, then one symmetric rank-2·NB update for the whole panel.
//
// Why this shape: the reduction is the O(d³) heart of the eigensolver. Unblocked in plain JS it
// took 1.2 s for d = 1280 (~2.3 GFLOP/s). Here the GEMVs (memory-bound, half the flops) run in a
// WebAssembly SIMD kernel on the trailing matrix kept in a wasm memory, the panel updates (GEMM,
// the other half) in ONNX Runtime's float64 MLAS kernels on the lower block triangle only,
// subtracted in place (band-gemm.ts; d = 1280: ~75 → ~40 ms, and none of the ~100 MB of sliced
// copies a full update allocated on a first call), and JS keeps only the O(d²·NB) bookkeeping.
// The GEMVs were in ORT too (MatMul with N = 1): 1.9 s of the reduction's 2.5 s at d = 1280 on
// the loaded 2-core machine, against ~0.1 s now. Q is kept as per-panel compact-WY factors (V, T)
// so that eigenvectors can be back-transformed with GEMMs as well.
import type * as ort from 'onnxruntime-node';
import { bandSession, bandsFor } from '../kernels/band-gemm.js';
import { f64 } from '../kernels/ort-graph.js';
import { SimdArena } from '../kernels/simd-gemv.js';

const NB = 64;

export interface Tridiagonal {
  /** Diagonal, length d. */
  diag: Float64Array;
  /** Sub-diagonal, length d − 1 (off[i] couples i and i + 1). */
  off: Float64Array;
}

/** The block reflector I − V·T·Vᵀ = H(start)·…·H(start + count − 1), acting on rows start+1 … d−1. */
export interface ReflectorPanel {
  start: number;
  count: number;
  /** Rows of V: d − start − 1. */
  rows: number;
  /** rows×count, row-major; column c is the Householder vector of column start + c (v[c] = 1, zeros above). */
  V: Float64Array;
  /** count×count upper triangular compact-WY factor. */
  T: Float64Array;
}

export interface Reduction {
  dim: number;
  tri: Tridiagonal;
  /** Q = panels[0] · panels[1] · … (each panel's block reflector, in order). */
  panels: ReflectorPanel[];
}

/** 2-norm without overflow or harmful underflow (scaled sum of squares, as BLAS dnrm2). */
function norm2(x: Float64Array, from: number, to: number): number {
  let scale = 0;
  let ssq = 1;
  for (let i = from; i < to; i++) {
    const a = Math.abs(x[i]);
    if (a === 0) continue;
    if (scale < a) {
      ssq = 1 + ssq * (scale / a) * (scale / a);
      scale = a;
    } else {
      ssq += (a / scale) * (a / scale);
    }
  }
  return scale * Math.sqrt(ssq);
}

/**
 * Householder vector of x (LAPACK dlarfg): returns beta and tau with (I − tau·v·vᵀ)·x = beta·e1,
 * overwriting x with v (v[0] = 1).
 */
function householder(x: Float64Array): { beta: number; tau: number } {
  const alpha = x[0];
  const xnorm = norm2(x, 1, x.length);
  x[0] = 1;
  if (xnorm === 0) {
    for (let i = 1; i < x.length; i++) x[i] = 0;
    return { beta: alpha, tau: 0 };
  }
  const r = Math.hypot(alpha, xnorm);
  const beta = alpha >= 0 ? -r : r;
  const tau = (beta - alpha) / beta;
  const inv = 1 / (alpha - beta);
  for (let i = 1; i < x.length; i++) x[i] *= inv;
  return { beta, tau };
}

/**
 * Reduces the symmetric d×d matrix `a` (full, row-major; left untouched) to tridiagonal form.
 */
export async function tridiagonalize(a: Float64Array, d: number): Promise<Reduction> {
  if (a.length !== d * d) throw new RangeError(`expected a ${d}×${d} matrix, got ${a.length} values`);
  const diag = new Float64Array(d);
  const off = new Float64Array(Math.max(0, d - 1));
  const panels: ReflectorPanel[] = [];
  const nb2 = 2 * NB;
  // The band products of the first (largest) trailing update bound every later one's.
  const first = bandsFor(d - Math.min(NB, Math.max(0, d - 1)));
  const bandValues = first.sizes.reduce((sum, size, b) => sum + size * (first.offsets[b] + size), 0);
  const arena = new SimdArena(d * d + bandValues + 3 * nb2 * d + 4 * d + nb2 + 64);
  // The matrix is reduced in place: the trailing matrix of rows/columns base … d−1 (order s) is
  // A[base…, base…] with row stride d, and only its lower triangle is kept up to date (the GEMV
  // reads it, the panel updates compute only it).
  const A = arena.f64(d * d);
  A.set(a);
  const P = arena.f64(bandValues);
  // The panel's reflectors v_p and the w_p of H·A·H = A − v·wᵀ − w·vᵀ, interleaved by column:
  // X[r, 2p] = v_p[r], X[r, 2p+1] = w_p[r]; Y the same with the two swapped (s×2nb, row-major);
  // Xt = Xᵀ (2nb×s). Then Σ_p v_p·w_pᵀ + w_p·v_pᵀ = X·Yᵀ, the pending update of a column is
  // Y·X[c,:]ᵀ, and (Vᵀv, Wᵀv) interleaved is Xt·v — three GEMVs of the SIMD kernel per column.
  const X = arena.f64(d * nb2);
  const Y = arena.f64(d * nb2);
  const Xt = arena.f64(nb2 * d);
  const col = arena.f64(d);
  const vPad = arena.f64(d);
  const y = arena.f64(d);
  const tmp = arena.f64(d);
  const z = arena.f64(nb2);
  let s = d;
  let base = 0;
  while (base < d - 1) {
    const nb = Math.min(NB, d - 1 - base);
    const T = new Float64Array(nb * nb);
    X.fill(0, 0, s * nb2);
    Y.fill(0, 0, s * nb2);
    // Panel-local rows: local row r is global row base + r. Column c's reflector lives in rows c+1….
    for (let c = 0; c < nb; c++) {
      const j = base + c;
      const len = s - c;
      // Column j of the partially reduced matrix, local rows c … s−1 (lower triangle), with the
      // panel's pending updates applied.
      for (let r = 0, at = (j * d + j); r < len; r++, at += d) col[r] = A[at];
      if (c > 0) {
        arena.gemv(Y.subarray(c * nb2), len, 2 * c, nb2, X.subarray(c * nb2), tmp);
        for (let r = 0; r < len; r++) col[r] -= tmp[r];
      }
      diag[j] = col[0];
      const v = col.subarray(1, len); // local rows c+1 … s−1
      const { beta, tau } = householder(v);
      off[j] = beta;

      // y = S·v − W·(Vᵀv) − V·(Wᵀv) on rows c+1 … s−1 (v is zero above).
      const from = c + 1;
      const rows = s - from;
      vPad.set(v, from);
      arena.symv(A.subarray((base + from) * d + base + from), rows, d, vPad.subarray(from), y.subarray(from));
      if (c > 0) {
        arena.gemv(Xt.subarray(from), 2 * c, rows, s, vPad.subarray(from), z); // z[2p] = v_pᵀv, z[2p+1] = w_pᵀv
        arena.gemv(Y.subarray(from * nb2), rows, 2 * c, nb2, z, tmp);
        for (let r = 0; r < rows; r++) y[from + r] -= tmp[r];
      }
      // w = tau·y − ½·tau²·(yᵀv)·v, so that H·A·H = A − v·wᵀ − w·vᵀ.
      let ytv = 0;
      for (let r = from; r < s; r++) ytv += y[r] * vPad[r];
      const alpha = -0.5 * tau * tau * ytv;
      const xv = Xt.subarray(2 * c * s, (2 * c + 1) * s);
      const xw = Xt.subarray((2 * c + 1) * s, (2 * c + 2) * s);
      for (let r = from; r < s; r++) {
        const vr = vPad[r];
        const wr = tau * y[r] + alpha * vr;
        const row = r * nb2 + 2 * c;
        X[row] = vr;
        X[row + 1] = wr;
        Y[row] = wr;
        Y[row + 1] = vr;
        xv[r] = vr;
        xw[r] = wr;
      }
      xv.fill(0, 0, from);
      xw.fill(0, 0, from);
      // Compact WY (dlarft, forward): T[c][c] = tau, T[0:c, c] = −tau·T[0:c, 0:c]·(Vᵀv).
      T[c * nb + c] = tau;
      for (let p = 0; p < c; p++) {
        let acc = 0;
        for (let q = p; q < c; q++) acc += T[p * nb + q] * z[2 * q];
        T[p * nb + c] = -tau * acc;
      }
    }
    // The panel's V for the back-transformation: local rows 1 … s−1 (global base+1 … d−1).
    const V = new Float64Array((s - 1) * nb);
    for (let r = 1; r < s; r++) {
      for (let p = 0; p < nb; p++) V[(r - 1) * nb + p] = X[r * nb2 + 2 * p];
    }
    panels.push({ start: base, count: nb, rows: s - 1, V, T });
    await lowerUpdate(arena, A.subarray((base + nb) * d + base + nb), d, s - nb, X.subarray(nb * nb2), Y.subarray(nb * nb2), nb2, P);
    s -= nb;
    base += nb;
  }
  diag[d - 1] = A[(d - 1) * d + d - 1];
  return { dim: d, tri: { diag, off }, panels };
}

/**
 * The lower triangle of the m×m block (row stride `stride`, a view in the arena) minus X·Yᵀ, the
 * symmetric rank-2·nb update closing a panel (X = [V W], Y = [W V], m×nb2): per band of rows,
 * ORT computes the band's product with the rows of Y up to the band's end into P, and the SIMD
 * kernel subtracts it in place. Entries right of a band's diagonal block are left stale.
 */
async function lowerUpdate(arena: SimdArena, block: Float64Array, stride: number, m: number, X: Float64Array, Y: Float64Array, nb2: number, P: Float64Array): Promise<void> {
  if (m === 0) return;
  const bands = bandsFor(m);
  const count = bands.sizes.length;
  const feeds: Record<string, ort.Tensor> = {};
  const fetches: Record<string, ort.Tensor> = {};
  const products: Float64Array[] = [];
  for (let b = 0, at = 0; b < count; b++) {
    const o = bands.offsets[b];
    const size = bands.sizes[b];
    const width = o + size;
    const product = P.subarray(at, at + size * width);
    at += size * width;
    products.push(product);
    feeds[`A${b}`] = f64(X.subarray(o * nb2, width * nb2), [size, nb2]);
    feeds[`B${b}`] = f64(Y.subarray(0, width * nb2), [width, nb2]);
    fetches[`S${b}`] = f64(product, [size, width]);
  }
  await (await bandSession(count, false, false)()).run(feeds, fetches);
  for (let b = 0; b < count; b++) {
    const o = bands.offsets[b];
    const width = o + bands.sizes[b];
    arena.subtract(block.subarray(o * stride), stride, products[b], width, bands.sizes[b], width);
  }
}
