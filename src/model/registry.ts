// Models the project knows by name. The first is the default when it is found locally; on a
// machine with internet and no local copy, the Model Zoo's MobileNetV2 is downloaded instead.
import type { ModelSpec } from './spec.js';

export const MOBILENET_V2_SHARED: ModelSpec = {
  id: 'mobilenet_v2_1.0_224',
  description: 'MobileNetV2 1.0/224, ImageNet; float32 rebuild of the TFLite build (the reference pipelines\' network)',
  file: 'mobilenet_v2_1.0_224.onnx',
  sha256: 'a8961673f3c0da90d24e05f6bb2470188e85057081406f194cf827cad33c0fa3',
  input: { name: 'input', layout: 'NCHW', width: 224, height: 224 },
  normalize: { kind: 'scale_offset', scale: 1 / 127.5, offset: -1 },
  feature: { tensor: 'features', dim: 1280 },
};

// ONNX Model Zoo MobileNetV2-7 (GluonCV). Its graph outputs 1000 logits; the 1280-d global
// average pool is an internal tensor, exposed by the featurizer (see graph-edit.ts).
export const MOBILENET_V2_ZOO: ModelSpec = {
  id: 'mobilenetv2-7',
  description: 'ONNX Model Zoo MobileNetV2-7, ImageNet (downloadable)',
  file: 'mobilenetv2-7.onnx',
  sha256: 'c1c513582d56afceff8516c73804e484c81c6a830712ab6d682253f4a3cd042f',
  url: 'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-7.onnx',
  input: { name: 'data', layout: 'NCHW', width: 224, height: 224 },
  normalize: { kind: 'mean_std', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  feature: { tensor: 'mobilenetv20_features_pool0_fwd', dim: 1280 },
};

export const REGISTRY: readonly ModelSpec[] = [MOBILENET_V2_SHARED, MOBILENET_V2_ZOO];

export function registryEntry(idOrSha: string): ModelSpec | undefined {
  return REGISTRY.find((m) => m.id === idOrSha || m.sha256 === idOrSha);
}
