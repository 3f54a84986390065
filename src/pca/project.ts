// Projection of feature rows onto the principal components: (x − mean) · Wᵀ with W = components /
// scale, by an ONNX Runtime graph (one float32 GEMM per call) — the same nodes, with the arrays as
// initializers, are the portable model.onnx (portable.ts).
//
// Why float32: the scores are stored as float32, and the GEMM is the whole cost of re-projecting
// every row after a refit (1,024 × 1,280 × 584 on one thread: 17 ms, 45 ms in float64 with the
// casts). The rows are centred before the product, so no large sums cancel: the scores agree with
// a float64 projection to ~1e-6 of their scale (tests hold them to 1e-4 of scikit-learn's).
import { NonFiniteFeatureError, type RowNamer } from '../stats/accumulate.js';
import { FLOAT, f32, lazySession, op, tensorInfo } from '../kernels/ort-graph.js';
import type { FeaturizerId, PcaModel } from './model.js';

/** Names of the projection's constants in the graph (inputs here, initializers in model.onnx). */
export const PROJECTION_PARAMS = { mean: 'pca_mean', weights: 'pca_weights' } as const;

/** The projection's nodes: float32 `input` [n, d] → float32 `output` [n, k]. */
export function projectionNodes(input: string, output: string) {
  const p = PROJECTION_PARAMS;
  return [op('Sub', [input, p.mean], ['pca_xc']), op('Gemm', ['pca_xc', p.weights], [output], { transB: { int: 1 } })];
}

export interface ProjectionParams {
  /** The mean, float32 [1, d]. */
  mean: Float32Array;
  /** components[i][j] / scale[j], computed in float64 and rounded once: float32 [k, d]. */
  weights: Float32Array;
}

/**
 * What projecting needs — the sizes and the float32 arrays — and the featurizer the rows must come
 * from: of a fitted model (projectionOf), or read back from the model.onnx written with it (the same
 * arrays: see portable.ts).
 */
export interface Projection {
  featurizer: FeaturizerId;
  dim: number;
  k: number;
  params: ProjectionParams;
}

const paramsOf = new WeakMap<PcaModel, ProjectionParams>();

/** The model's arrays as the projection graph takes them (computed once per model object). */
export function projectionParams(model: PcaModel): ProjectionParams {
  let params = paramsOf.get(model);
  if (!params) {
    const { dim: d, k } = model;
    const weights = new Float32Array(k * d);
    for (let i = 0; i < k; i++) for (let j = 0; j < d; j++) weights[i * d + j] = model.components[i * d + j] / model.scaleFactors[j];
    params = { mean: Float32Array.from(model.mean), weights };
    paramsOf.set(model, params);
  }
  return params;
}

export function projectionOf(model: PcaModel): Projection {
  return { featurizer: model.featurizer, dim: model.dim, k: model.k, params: projectionParams(model) };
}

const projectSession = lazySession(() => ({
  nodes: projectionNodes('X', 'Y'),
  inputs: [tensorInfo('X', FLOAT, ['n', 'd']), tensorInfo(PROJECTION_PARAMS.mean, FLOAT, [1, 'd']), tensorInfo(PROJECTION_PARAMS.weights, FLOAT, ['k', 'd'])],
  outputs: [tensorInfo('Y', FLOAT, ['n', 'k'])],
}), {}, true);

/**
 * Projects n rows (row-major float32, n·dim values) to n×k float32 scores. A NaN/Inf input throws
 * NonFiniteFeatureError naming the row (firstRowIndex + i, and rowName(i) when given).
 */
export async function project(model: PcaModel | Projection, rows: Float32Array, n: number, firstRowIndex = 0, rowName?: RowNamer): Promise<Float32Array> {
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
  const params = 'params' in model ? model.params : projectionParams(model);
  await session.run(
    { X: f32(rows, [n, d]), [PROJECTION_PARAMS.mean]: f32(params.mean, [1, d]), [PROJECTION_PARAMS.weights]: f32(params.weights, [model.k, d]) },
    { Y: f32(out, [n, model.k]) },
  );
  return out;
}
