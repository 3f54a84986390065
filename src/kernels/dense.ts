// The dense float64 matrix products of the symmetric eigensolver, run as ONNX Runtime graphs
// (MLAS: multi-threaded, SIMD); its matrix–vector products are in simd-gemv.ts. Matrices are
// row-major Float64Arrays handed to ORT without copies, and results are written into caller-owned
// buffers (pre-allocated outputs), so the O(d²) passes stay few and nothing large is re-allocated
// per call.
import type * as ort from 'onnxruntime-node';
import { DOUBLE, INT64, NO_SPINNING, f64, i64, lazySession, op, tensorInfo } from './ort-graph.js';

const gemm = (a: string, b: string, c: string, out: string, transA = 0, transB = 0) =>
  op('Gemm', [a, b, c], [out], { alpha: { float: -1 }, beta: { float: 1 }, transA: { int: transA }, transB: { int: transB } });

// S[nb:, nb:] − X·Yᵀ: the symmetric rank-2·nb update closing a panel (X = [V W], Y = [W V]).
const trailingSession = lazySession(() => ({
  nodes: [op('Slice', ['S', 'starts', 'ends'], ['Ssub']), gemm('X', 'Y', 'Ssub', 'R', 0, 1)],
  inputs: [
    tensorInfo('S', DOUBLE, ['s', 's']),
    tensorInfo('starts', INT64, [2]),
    tensorInfo('ends', INT64, [2]),
    tensorInfo('X', DOUBLE, ['m', 'nb2']),
    tensorInfo('Y', DOUBLE, ['m', 'nb2']),
  ],
  outputs: [tensorInfo('R', DOUBLE, ['m', 'm'])],
}), NO_SPINNING);

// Z − V·(T·(Vᵀ·Z)): applies the block reflector I − V·T·Vᵀ (compact WY form) to Z.
const reflectorSession = lazySession(() => ({
  nodes: [op('Gemm', ['V', 'Z'], ['P'], { transA: { int: 1 } }), op('MatMul', ['T', 'P'], ['Q']), gemm('V', 'Q', 'Z', 'R')],
  inputs: [tensorInfo('Z', DOUBLE, ['m', 'k']), tensorInfo('V', DOUBLE, ['m', 'nb']), tensorInfo('T', DOUBLE, ['nb', 'nb'])],
  outputs: [tensorInfo('R', DOUBLE, ['m', 'k'])],
}), NO_SPINNING);

async function runInto(
  session: () => Promise<ort.InferenceSession>,
  feeds: Record<string, ort.Tensor>,
  outputs: Record<string, ort.Tensor>,
): Promise<void> {
  await (await session()).run(feeds, outputs);
}

/** out ← S[nb:, nb:] − X·Yᵀ for S s×s, X and Y (s−nb)×nb2; out holds (s−nb)² values. */
export async function trailingUpdate(S: Float64Array, s: number, nb: number, X: Float64Array, Y: Float64Array, nb2: number, out: Float64Array): Promise<void> {
  const m = s - nb;
  await runInto(
    trailingSession,
    { S: f64(S, [s, s]), starts: i64([nb, nb]), ends: i64([s, s]), X: f64(X, [m, nb2]), Y: f64(Y, [m, nb2]) },
    { R: f64(out, [m, m]) },
  );
}

/** out ← Z − V·T·Vᵀ·Z for Z m×k, V m×nb, T nb×nb (out may not alias Z). */
export async function applyBlockReflector(Z: Float64Array, m: number, k: number, V: Float64Array, T: Float64Array, nb: number, out: Float64Array): Promise<void> {
  await runInto(reflectorSession, { Z: f64(Z, [m, k]), V: f64(V, [m, nb]), T: f64(T, [nb, nb]) }, { R: f64(out, [m, k]) });
}
