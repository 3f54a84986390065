// The classifier's matrix products (logits X·Wᵀ, gradients Gᵀ·X, cosine similarities Q·Tᵀ) in
// float32 through tiny ONNX Runtime graphs: MLAS is multi-threaded and SIMD, ~20–50× plain JS
// loops here, which keeps training on 4,760 × 1,280 × 119 to seconds. The graphs are built once
// per process and reused with dynamic shapes.
import { FLOAT, f32, lazySession, op, outF32, tensorInfo } from './ort-graph.js';

const abtSession = lazySession(() => ({
  nodes: [op('Gemm', ['A', 'B'], ['Y'], { transB: { int: 1 } })],
  inputs: [tensorInfo('A', FLOAT, ['m', 'k']), tensorInfo('B', FLOAT, ['n', 'k'])],
  outputs: [tensorInfo('Y', FLOAT, ['m', 'n'])],
}));

const atbSession = lazySession(() => ({
  nodes: [op('Gemm', ['A', 'B'], ['Y'], { transA: { int: 1 } })],
  inputs: [tensorInfo('A', FLOAT, ['m', 'n']), tensorInfo('B', FLOAT, ['m', 'k'])],
  outputs: [tensorInfo('Y', FLOAT, ['n', 'k'])],
}));

function checkSize(name: string, data: Float32Array, rows: number, cols: number): void {
  if (data.length !== rows * cols) throw new RangeError(`${name}: expected ${rows}×${cols} = ${rows * cols} values, got ${data.length}`);
}

/** A (m×k) · Bᵀ (B is n×k) → m×n, all row-major. */
export async function multiplyABt(a: Float32Array, m: number, b: Float32Array, n: number, k: number): Promise<Float32Array> {
  checkSize('A', a, m, k);
  checkSize('B', b, n, k);
  if (m === 0 || n === 0 || k === 0) return new Float32Array(m * n);
  const out = await (await abtSession()).run({ A: f32(a, [m, k]), B: f32(b, [n, k]) });
  return outF32(out, 'Y');
}

/** Aᵀ (A is m×n) · B (m×k) → n×k, all row-major. */
export async function multiplyAtB(a: Float32Array, m: number, n: number, b: Float32Array, k: number): Promise<Float32Array> {
  checkSize('A', a, m, n);
  checkSize('B', b, m, k);
  if (m === 0) return new Float32Array(n * k);
  const out = await (await atbSession()).run({ A: f32(a, [m, n]), B: f32(b, [m, k]) });
  return outF32(out, 'Y');
}
