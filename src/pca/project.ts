// Projection of feature rows onto the principal components: ((x − mean) / scale) · componentsᵀ,
// computed in float64 by an ONNX Runtime graph (one GEMM per call, ~100× a JS triple loop for
// 1000 × 1280 × 200) and returned as float32. The same nodes, with the model's arrays as
// initializers, are the portable model.onnx (portable.ts).
import { NonFiniteFeatureError, type RowNamer } from '../stats/accumulate.js';
import { DOUBLE, FLOAT, f32, f64, lazySession, op, tensorInfo } from '../kernels/ort-graph.js';
import type { PcaModel } from './model.js';

/** Names of the projection's constants in the graph (inputs here, initializers in model.onnx). */
export const PROJECTION_PARAMS = { mean: 'pca_mean', scale: 'pca_scale', components: 'pca_components' } as const;

/** The projection's nodes: float32 `input` [n, d] → float32 `output` [n, k], computed in float64. */
export function projectionNodes(input: string, output: string) {
  const p = PROJECTION_PARAMS;
  return [
    op('Cast', [input], ['pca_xd'], { to: { int: DOUBLE } }),
    op('Sub', ['pca_xd', p.mean], ['pca_xc']),
    op('Div', ['pca_xc', p.scale], ['pca_xs']),
    op('Gemm', ['pca_xs', p.components], ['pca_yd'], { transB: { int: 1 } }),
    op('Cast', ['pca_yd'], [output], { to: { int: FLOAT } }),
  ];
}

const projectSession = lazySession(() => ({
  nodes: projectionNodes('X', 'Y'),
  inputs: [
    tensorInfo('X', FLOAT, ['n', 'd']),
    tensorInfo(PROJECTION_PARAMS.mean, DOUBLE, [1, 'd']),
    tensorInfo(PROJECTION_PARAMS.scale, DOUBLE, [1, 'd']),
    tensorInfo(PROJECTION_PARAMS.components, DOUBLE, ['k', 'd']),
  ],
  outputs: [tensorInfo('Y', FLOAT, ['n', 'k'])],
}), {}, true);

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
      [PROJECTION_PARAMS.mean]: f64(model.mean, [1, d]),
      [PROJECTION_PARAMS.scale]: f64(model.scaleFactors, [1, d]),
      [PROJECTION_PARAMS.components]: f64(model.components, [model.k, d]),
    },
    { Y: f32(out, [n, model.k]) },
  );
  return out;
}
