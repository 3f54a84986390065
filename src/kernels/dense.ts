// The eigenvectors' back-transformation of the symmetric eigensolver, as an ONNX Runtime graph
// (MLAS: multi-threaded, SIMD); its panel updates are in band-gemm.ts, its matrix–vector products
// in simd-gemv.ts. Matrices are row-major Float64Arrays handed to ORT without copies, and results
// are written into caller-owned buffers (pre-allocated outputs), so the O(d²) passes stay few and
// nothing large is re-allocated per call.
import type * as ort from 'onnxruntime-node';
import { DOUBLE, NO_SPINNING, f64, lazySession, op, tensorInfo } from './ort-graph.js';

const gemm = (a: string, b: string, c: string, out: string, transA = 0, transB = 0) =>
  op('Gemm', [a, b, c], [out], { alpha: { float: -1 }, beta: { float: 1 }, transA: { int: transA }, transB: { int: transB } });

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

/** out ← Z − V·T·Vᵀ·Z for Z m×k, V m×nb, T nb×nb (out may not alias Z). */
export async function applyBlockReflector(Z: Float64Array, m: number, k: number, V: Float64Array, T: Float64Array, nb: number, out: Float64Array): Promise<void> {
  await runInto(reflectorSession, { Z: f64(Z, [m, k]), V: f64(V, [m, nb]), T: f64(T, [nb, nb]) }, { R: f64(out, [m, k]) });
}
