// The portable PCA: model.onnx beside model.json, the same scaling + projection as `transform`
// as an ONNX graph, so that Python (onnxruntime), pandas or a Spark UDF apply the fitted PCA
// without this CLI or hand-written NumPy. It runs the very nodes `project` runs, with the same
// float32 arrays (centre, then one GEMM), so its scores equal transform's.
import { SOFTWARE } from '../version.js';
import { buildModel, decodeModel, floatInitializer, FLOAT, tensorInfo, type TensorProto } from '../onnx/proto.js';
import type { PcaModel } from './model.js';
import { PROJECTION_PARAMS, projectionNodes, projectionParams, type Projection } from './project.js';

export { portableKeyOf } from './model.js';

export const PORTABLE_INPUT = 'features';
export const PORTABLE_OUTPUT = 'components';

/**
 * The ONNX model: input `features` float32 [N, dim] → output `components` float32 [N, k].
 * metadata_props name the featurizer (as the features' Parquet footer does), k, the scaling and
 * the sha256 of the model.json it was written with (as reduced datasets' footers do).
 */
export function portablePcaModel(model: PcaModel, jsonSha256: string): Uint8Array {
  const { dim, k } = model;
  const p = PROJECTION_PARAMS;
  const params = projectionParams(model);
  return buildModel(
    {
      nodes: projectionNodes(PORTABLE_INPUT, PORTABLE_OUTPUT),
      inputs: [tensorInfo(PORTABLE_INPUT, FLOAT, ['N', dim])],
      outputs: [tensorInfo(PORTABLE_OUTPUT, FLOAT, ['N', k])],
      initializers: [floatInitializer(p.mean, params.mean, [1, dim]), floatInitializer(p.weights, params.weights, [k, dim])],
    },
    {
      name: 'fruits_pca',
      metadata: {
        'fruits.model_id': model.featurizer.modelId,
        'fruits.model_sha256': model.featurizer.sha256,
        'fruits.feature_dim': String(dim),
        'fruits.pca.k': String(k),
        'fruits.pca.scale': model.scale,
        'fruits.pca_sha256': jsonSha256,
        'fruits.software': `${SOFTWARE.name} ${SOFTWARE.version}`,
      },
    },
  );
}

/** A projection read back from model.onnx, with the model.json it names. */
export interface PortableProjection extends Projection {
  /** sha256 of the model.json written with it. */
  jsonSha256: string;
}

/**
 * The projection of a model.onnx this module wrote (~3 MB of float32 to decode, where model.json
 * is ~16 MB of JSON to parse: ~0.2 s of every worker that transforms after a refit). Undefined for
 * anything else — another graph, missing metadata, arrays of the wrong size — so the caller falls
 * back to model.json.
 */
export function readPortableProjection(bytes: Uint8Array): PortableProjection | undefined {
  let model;
  try {
    model = decodeModel(bytes);
  } catch {
    return undefined;
  }
  const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
  const dim = Number(meta['fruits.feature_dim']);
  const k = Number(meta['fruits.pca.k']);
  const jsonSha256 = meta['fruits.pca_sha256'];
  if (!(dim > 0 && k > 0 && Number.isInteger(dim) && Number.isInteger(k)) || !jsonSha256 || !meta['fruits.model_id'] || !meta['fruits.model_sha256']) return undefined;
  const byName = new Map((model.graph?.initializer ?? []).map((t) => [t.name, t]));
  const mean = floats(byName.get(PROJECTION_PARAMS.mean), [1, dim]);
  const weights = floats(byName.get(PROJECTION_PARAMS.weights), [k, dim]);
  if (!mean || !weights) return undefined;
  return { dim, k, params: { mean, weights }, featurizer: { modelId: meta['fruits.model_id'], sha256: meta['fruits.model_sha256'] }, jsonSha256 };
}

/** A float32 initializer of exactly these dims, copied out of the decoded buffer (aligned). */
function floats(t: TensorProto | undefined, dims: number[]): Float32Array | undefined {
  if (!t || t.dataType !== FLOAT || t.dims.length !== dims.length || t.dims.some((d, i) => Number(d) !== dims[i])) return undefined;
  const count = dims.reduce((a, b) => a * b, 1);
  if (t.rawData.length !== count * 4) return undefined;
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(t.rawData);
  return out;
}
