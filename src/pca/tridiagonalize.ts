// Householder reduction of a dense symmetric matrix to tridiagonal form, A = Q·T·Qᵀ, blocked as
// LAPACK's dsytrd/dlatrd (lower): each panel of NB columns needs one GEMV per column against the
// not-yet-updated trailing matrix, then one symmetric rank-2·NB update for the whole panel.
//
// Why this shape: the reduction is the O(d³) heart of the eigensolver. Unblocked in plain JS it
// took 1.2 s for d = 1280 (~2.3 GFLOP/s). Here the GEMVs (memory-bound, half the flops) run in a
// WebAssembly SIMD kernel on the trailing matrix kept in a wasm memory, the panel updates (GEMM,
// the other half) in ONNX Runtime's float64 MLAS kernels, and JS keeps only the O(d²·NB)
// bookkeeping. The GEMVs were in ORT too (MatMul with N = 1): 1.9 s of the reduction's 2.5 s at
// d = 1280 on the loaded 2-core machine, against ~0.3 s now. Q is kept as per-panel compact-WY
// factors (V, T) so that eigenvectors can be back-transformed with GEMMs as well.
import { trailingUpdate } from '../kernels/dense.js';
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
  const arena = new SimdArena(d * d + (d - 1) * (d - 1) + 3 * nb2 * d + 4 * d + nb2 + 64);
  // S is the trailing matrix of rows/columns base … d−1, of order s, as of the start of a panel;
  // panel updates ping-pong between two buffers of the arena (the first holds a copy of a).
  const buffers = [arena.f64(d * d), arena.f64((d - 1) * (d - 1))];
  buffers[0].set(a);
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
  let S = buffers[0];
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
      // Column j of the partially reduced matrix, local rows c … s−1 (row c of S, by symmetry),
      // with the panel's pending updates applied.
      col.set(S.subarray(c * s + c, c * s + s));
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
      arena.symv(S.subarray(from * s + from), rows, s, vPad.subarray(from), y.subarray(from));
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
    const m = s - nb;
    const out = buffers[panels.length % 2].subarray(0, m * m); // the buffer not holding S
    await trailingUpdate(S, s, nb, X.subarray(nb * nb2, s * nb2), Y.subarray(nb * nb2, s * nb2), nb2, out);
    S = out;
    s = m;
    base += nb;
  }
  diag[d - 1] = S[(s - 1) * s + (s - 1)];
  return { dim: d, tri: { diag, off }, panels };
}
