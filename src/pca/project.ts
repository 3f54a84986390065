// Projection of feature rows onto the principal components: ((x − mean) / scale) · componentsᵀ,
// computed in float64 by an ONNX Runtime graph (one GEMM per call, ~100× a JS triple loop for
// 1000 × 1280 × 200) and returned as float32.
import { NonFiniteFeatureError, type RowNamer } from '../stats/accumulate.js';
import { DOUBLE, FLOAT, f32, f64, lazySession, op, tensorInfo } from '../kernels/ort-graph.js';
import type { PcaModel } from './model.js';

const projectSession = lazySession(() => ({
  nodes: [
    op('Cast', ['X'], ['Xd'], { to: { int: DOUBLE } }),
    op('Sub', ['Xd', 'mean'], ['Xc']),
    op('Div', ['Xc', 'scale'], ['Xs']),
    op('Gemm', ['Xs', 'components'], ['Yd'], { transB: { int: 1 } }),
    op('Cast', ['Yd'], ['Y'], { to: { int: FLOAT } }),
  ],
  inputs: [
    tensorInfo('X', FLOAT, ['n', 'd']),
    tensorInfo('mean', DOUBLE, [1, 'd']),
    tensorInfo('scale', DOUBLE, [1, 'd']),
    tensorInfo('components', DOUBLE, ['k', 'd']),
  ],
  outputs: [tensorInfo('Y', FLOAT, ['n', 'k'])],
}));

/**
 * Projects n rows (row-major float32, n·dim values) to n×k float32 scores. A NaN/Inf input throws
 * NonFiniteFeatureError naming the row (firstRowIndex + i, and rowName(i) when given).
 */
export async function project(model: PcaModel, rows: Float32Array, n: number, firstRowIndex = 0, rowName?: RowNamer): Promise<Float32Array> {
  const d = model.dim;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`row count must be a non-negative integer, got ${n}`);
  if (rows.length !== n * d) throw new RangeError(`expected ${n} rows × ${d} features = ${n * d} values, got ${rows.length}`);
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i];
    if (v - v !== 0) {
      const rowIndex = firstRowIndex + Math.floor(i / d);
      throw new NonFiniteFeatureError(rowIndex, rowName?.(rowIndex), i % d, v);
    }
  }
  if (n === 0) return new Float32Array(0);
  const out = new Float32Array(n * model.k);
  const session = await projectSession();
  await session.run(
    {
      X: f32(rows, [n, d]),
      mean: f64(model.mean, [1, d]),
      scale: f64(model.scaleFactors, [1, d]),
      components: f64(model.components, [model.k, d]),
    },
    { Y: f32(out, [n, model.k]) },
  );
  return out;
}
