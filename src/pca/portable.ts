// The portable PCA: model.onnx beside model.json, the same scaling + projection as `transform`
// as an ONNX graph, so that Python (onnxruntime), pandas or a Spark UDF apply the fitted PCA
// without this CLI or hand-written NumPy. It runs the very nodes `project` runs, with the same
// float32 arrays (centre, then one GEMM), so its scores equal transform's.
import { SOFTWARE } from '../version.js';
import { buildModel, floatInitializer, FLOAT, tensorInfo } from '../onnx/proto.js';
import type { PcaModel } from './model.js';
import { PROJECTION_PARAMS, projectionNodes, projectionParams } from './project.js';

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
