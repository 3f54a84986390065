// One ONNX model from photo to probabilities, for running a bundle where there is no server (a
// phone, a browser): the network with its preprocessing spliced in front (uint8 RGB photos of any
// size → resize → normalise), then the bundle's own steps on its features — PCA projection,
// standardisation, classifier — then softmax.
//
// PCA, standardisation and the logistic regression are affine maps in a row, so for logreg they
// are folded (in float64, here) into one: logits = (features − shift) · A + bias, a D × C matrix.
// That is one MatMul on the device instead of three, and a smaller file than the PCA alone
// (1280 × C floats against 1280 × k + k × C). k-NN keeps its training rows and votes in the graph.
import { promises as fs } from 'node:fs';
import { featurizerGraph, FEATURE_OUTPUT, IMAGE_INPUT } from '../model/graph-edit.js';
import { defaultOpset, encodeModel, FLOAT, floatInitializer, int64Initializer, op, setMetadata, tensorInfo, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { UserError } from '../util/errors.js';
import { SOFTWARE } from '../version.js';
import type { Bundle, BundleContents, BundleManifest } from './bundle.js';
import type { KnnModel } from './knn.js';
import type { LogRegModel } from './logreg.js';
import { packedSize, type NoveltyModel } from './novelty.js';
import { resolveBundleModel } from './model-file.js';
import { quantizeWeightsInt8 } from './quantize.js';

type INodeProto = NodeProto;
type ITensorProto = TensorProto;

export const EXPORT_INPUT = IMAGE_INPUT;
export const EXPORT_OUTPUT = 'probabilities';
export const NOVELTY_OUTPUT = 'novelty';

/** What the exported model needs from a bundle. */
export type ExportBundle = Pick<BundleContents, 'featurizer' | 'pca' | 'standardizer' | 'classifier' | 'labels' | 'training' | 'novelty'> & {
  manifest: Pick<BundleManifest, 'createdAt'>;
  dir: string;
};

export class ExportError extends UserError {}

/**
 * The classifier's inputs as an affine map of the raw features: s = (f − shift)·M + offset, with M
 * a D × k matrix (PCA, then standardisation) or a diagonal (standardisation alone).
 */
interface Affine {
  dim: number;
  k: number;
  shift: Float64Array;
  matrix?: Float64Array;
  diagonal?: Float64Array;
  offset: Float64Array;
}

function inputsAffine(b: ExportBundle): Affine {
  const s = b.standardizer;
  const k = s.mean.length;
  if (!b.pca) {
    return { dim: k, k, shift: s.mean, diagonal: s.scale.map((v) => 1 / v), offset: new Float64Array(k) };
  }
  const p = b.pca.model;
  const D = p.dim;
  // M[d][j] = components[j][d] / pcaScale[d] / standardizerScale[j]
  const matrix = new Float64Array(D * k);
  for (let j = 0; j < k; j++) {
    const inv = 1 / s.scale[j];
    for (let d = 0; d < D; d++) matrix[d * k + j] = (p.components[j * D + d] / p.scaleFactors[d]) * inv;
  }
  return { dim: D, k, shift: p.mean, matrix, offset: s.mean.map((m, j) => -m / s.scale[j]) };
}

/** M · Wᵀ (D × C) and offset · Wᵀ + b (C), in float64, stored as float32. */
function foldLogReg(a: Affine, m: LogRegModel): { weights: Float32Array; bias: Float32Array } {
  const { dim: D, k } = a;
  const C = m.classes;
  const weights = new Float32Array(D * C);
  const row = new Float64Array(C);
  for (let d = 0; d < D; d++) {
    row.fill(0);
    if (a.matrix) {
      for (let j = 0; j < k; j++) {
        const mdj = a.matrix[d * k + j];
        if (mdj === 0) continue;
        for (let c = 0; c < C; c++) row[c] += mdj * m.weights[c * k + j];
      }
    } else {
      for (let c = 0; c < C; c++) row[c] = a.diagonal![d] * m.weights[c * k + d];
    }
    for (let c = 0; c < C; c++) weights[d * C + c] = row[c];
  }
  const bias = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    let v = m.bias[c];
    for (let j = 0; j < k; j++) v += a.offset[j] * m.weights[c * k + j];
    bias[c] = v;
  }
  return { weights, bias };
}

interface Head {
  nodes: INodeProto[];
  initializers: ITensorProto[];
}

const h = (name: string) => `fruits_head_${name}`;

function logRegHead(a: Affine, m: LogRegModel): Head {
  const { weights, bias } = foldLogReg(a, m);
  return {
    nodes: [
      op('Sub', [FEATURE_OUTPUT, h('shift')], [h('centred')]),
      op('MatMul', [h('centred'), h('weights')], [h('matmul')]),
      op('Add', [h('matmul'), h('bias')], [h('logits')]),
      op('Softmax', [h('logits')], [EXPORT_OUTPUT], { axis: { int: -1 } }),
    ],
    initializers: [
      floatInitializer(h('shift'), Float32Array.from(a.shift), [a.dim]),
      floatInitializer(h('weights'), weights, [a.dim, m.classes]),
      floatInitializer(h('bias'), bias, [m.classes]),
    ],
  };
}

/**
 * k-NN as knn.ts scores it: unit-length inputs, cosine similarity to every training row, the k
 * best, each voting for its class with weight similarity + 1 + 1e-6, shares of the votes out.
 */
function knnHead(a: Affine, m: KnnModel): Head {
  const rows = m.labels.length;
  const k = Math.min(m.k, rows);
  const linear: INodeProto[] = [op('Sub', [FEATURE_OUTPUT, h('shift')], [h('centred')])];
  const init: ITensorProto[] = [floatInitializer(h('shift'), Float32Array.from(a.shift), [a.dim])];
  if (a.matrix) {
    linear.push(op('MatMul', [h('centred'), h('matrix')], [h('projected')]), op('Add', [h('projected'), h('offset')], [h('inputs')]));
    init.push(floatInitializer(h('matrix'), Float32Array.from(a.matrix), [a.dim, a.k]), floatInitializer(h('offset'), Float32Array.from(a.offset), [a.k]));
  } else {
    linear.push(op('Mul', [h('centred'), h('diagonal')], [h('inputs')]));
    init.push(floatInitializer(h('diagonal'), Float32Array.from(a.diagonal!), [a.dim]));
  }
  // Training rows transposed (k × rows) so that the similarities are one MatMul.
  const t = new Float32Array(a.k * rows);
  for (let r = 0; r < rows; r++) for (let j = 0; j < a.k; j++) t[j * rows + r] = m.rows[r * a.k + j];
  return {
    nodes: [
      ...linear,
      // A zero row stays zero (as unitRows does): divide by max(norm, tiny).
      op('ReduceL2', [h('inputs')], [h('norm')], { axes: { ints: [1] }, keepdims: { int: 1 } }),
      op('Max', [h('norm'), h('tiny')], [h('safe_norm')]),
      op('Div', [h('inputs'), h('safe_norm')], [h('unit')]),
      op('MatMul', [h('unit'), h('train_t')], [h('similarity')]),
      op('TopK', [h('similarity'), h('k')], [h('best'), h('best_rows')], { axis: { int: 1 } }),
      op('Gather', [h('row_labels'), h('best_rows')], [h('best_labels')]),
      op('Add', [h('best'), h('vote_offset')], [h('votes')]),
      op('OneHot', [h('best_labels'), h('classes'), h('one_hot_values')], [h('one_hot')], { axis: { int: -1 } }),
      op('Unsqueeze', [h('votes'), h('axis2')], [h('votes3')]),
      op('Mul', [h('one_hot'), h('votes3')], [h('weighted')]),
      op('ReduceSum', [h('weighted'), h('axis1')], [h('per_class')], { keepdims: { int: 0 } }),
      op('ReduceSum', [h('votes'), h('axis1')], [h('total')], { keepdims: { int: 1 } }),
      op('Div', [h('per_class'), h('total')], [EXPORT_OUTPUT]),
    ],
    initializers: [
      ...init,
      floatInitializer(h('tiny'), Float32Array.of(1e-30), []),
      floatInitializer(h('train_t'), t, [a.k, rows]),
      int64Initializer(h('k'), [k]),
      int64Initializer(h('row_labels'), Array.from(m.labels)),
      floatInitializer(h('vote_offset'), Float32Array.of(1 + 1e-6), []),
      int64Initializer(h('classes'), [m.classes]),
      floatInitializer(h('one_hot_values'), Float32Array.of(0, 1), [2]),
      int64Initializer(h('axis1'), [1]),
      int64Initializer(h('axis2'), [2]),
    ],
  };
}

/**
 * The bundle's novelty score as novelty.ts computes it, from the same features and the top
 * probability: min over classes of ‖L_c⁻¹·(u − mean)·Pᵀ − m_c‖ / √k, scaled, plus the doubt
 * (version 1 data: one L⁻¹ for all classes).
 */
function noveltyHead(m: NoveltyModel): Head {
  const { k, inputDim: D } = m;
  const n = (name: string) => h(`novelty_${name}`);
  const componentsT = new Float32Array(D * k);
  for (let j = 0; j < k; j++) for (let d = 0; d < D; d++) componentsT[d * k + j] = m.components[j * D + d];
  const distance = m.classWhiten && m.classCentres ? ownClassDistanceNodes(m, n) : pooledDistanceNodes(m, n);
  return {
    nodes: [
      op('ReduceL2', [FEATURE_OUTPUT], [n('norm')], { axes: { ints: [1] }, keepdims: { int: 1 } }),
      op('Max', [n('norm'), n('tiny')], [n('safe_norm')]),
      op('Div', [FEATURE_OUTPUT, n('safe_norm')], [n('unit')]),
      op('Sub', [n('unit'), n('mean')], [n('centred')]),
      op('MatMul', [n('centred'), n('components_t')], [n('z')]),
      ...distance.nodes,
      op('ReduceMin', [n('d2')], [n('d2_min')], { axes: { ints: [1] }, keepdims: { int: 0 } }),
      op('Max', [n('d2_min'), n('zero')], [n('d2_safe')]),
      op('Sqrt', [n('d2_safe')], [n('root')]),
      op('Mul', [n('root'), n('distance_factor')], [n('scaled')]),
      op('ReduceMax', [EXPORT_OUTPUT], [n('top')], { axes: { ints: [1] }, keepdims: { int: 0 } }),
      op('Sub', [n('one'), n('top')], [n('doubt')]),
      op('Mul', [n('doubt'), n('weight')], [n('weighted_doubt')]),
      op('Add', [n('scaled'), n('weighted_doubt')], [NOVELTY_OUTPUT]),
    ],
    initializers: [
      floatInitializer(n('tiny'), Float32Array.of(1e-30), []),
      floatInitializer(n('mean'), m.mean, [D]),
      floatInitializer(n('components_t'), componentsT, [D, k]),
      ...distance.initializers,
      floatInitializer(n('zero'), Float32Array.of(0), []),
      floatInitializer(n('distance_factor'), Float32Array.of(1 / (Math.sqrt(k) * m.distanceScale)), []),
      floatInitializer(n('one'), Float32Array.of(1), []),
      floatInitializer(n('weight'), Float32Array.of(m.confidenceWeight), []),
    ],
  };
}

/** z → d2 [N, classes] with one whitening: ‖w‖² − 2·w·m_c + ‖m_c‖², w = z·L⁻ᵀ. */
function pooledDistanceNodes(m: NoveltyModel, n: (name: string) => string): Head {
  const { k, classes } = m;
  const whitenT = new Float32Array(k * k);
  for (let r = 0; r < k; r++) for (let c = 0; c < k; c++) whitenT[c * k + r] = m.whiten[r * k + c];
  const meansT = new Float32Array(k * classes);
  const meanSq = new Float32Array(classes);
  for (let c = 0; c < classes; c++) {
    for (let j = 0; j < k; j++) {
      meansT[j * classes + c] = m.classMeans[c * k + j];
      meanSq[c] += m.classMeans[c * k + j] ** 2;
    }
  }
  return {
    nodes: [
      op('MatMul', [n('z'), n('whiten_t')], [n('w')]),
      op('ReduceSumSquare', [n('w')], [n('w_sq')], { axes: { ints: [1] }, keepdims: { int: 1 } }),
      op('MatMul', [n('w'), n('means_t')], [n('w_dot_m')]),
      op('Mul', [n('w_dot_m'), n('minus_two')], [n('cross')]),
      op('Add', [n('w_sq'), n('cross')], [n('partial')]),
      op('Add', [n('partial'), n('mean_sq')], [n('d2')]),
    ],
    initializers: [
      floatInitializer(n('whiten_t'), whitenT, [k, k]),
      floatInitializer(n('means_t'), meansT, [k, classes]),
      floatInitializer(n('mean_sq'), meanSq, [classes]),
      floatInitializer(n('minus_two'), Float32Array.of(-2), []),
    ],
  };
}

/** z → d2 [N, classes] with a whitening per class: one MatMul into classes × k columns, then ‖·‖² per class. */
function ownClassDistanceNodes(m: NoveltyModel, n: (name: string) => string): Head {
  const { k, classes } = m;
  const factors = m.classWhiten!;
  const size = packedSize(k);
  // Column c·k + r holds row r of L_c⁻¹.
  const whitenT = new Float32Array(k * classes * k);
  for (let c = 0; c < classes; c++) {
    for (let r = 0, p = c * size; r < k; r++) for (let q = 0; q <= r; q++) whitenT[q * classes * k + c * k + r] = factors[p++];
  }
  return {
    nodes: [
      op('MatMul', [n('z'), n('class_whiten_t')], [n('w_all')]),
      op('Sub', [n('w_all'), n('class_centres')], [n('diff')]),
      op('Reshape', [n('diff'), n('per_class_shape')], [n('diff_3d')]),
      op('ReduceSumSquare', [n('diff_3d')], [n('d2')], { axes: { ints: [2] }, keepdims: { int: 0 } }),
    ],
    initializers: [
      floatInitializer(n('class_whiten_t'), whitenT, [k, classes * k]),
      floatInitializer(n('class_centres'), m.classCentres!, [classes * k]),
      int64Initializer(n('per_class_shape'), [-1, classes, k]),
    ],
  };
}

/** Opset 18 moved the axes of ReduceL2/Min/Max/SumSquare from an attribute to an input. */
function axesAsInputs(head: Head): void {
  for (const node of head.nodes) {
    if (!['ReduceL2', 'ReduceMin', 'ReduceMax', 'ReduceSumSquare'].includes(node.opType)) continue;
    const axes = node.attribute.find((x) => x.name === 'axes');
    if (!axes) continue;
    const name = `${node.output[0]}_axes`;
    head.initializers.push(int64Initializer(name, axes.ints.map(Number)));
    node.attribute = node.attribute.filter((x) => x !== axes);
    node.input = [...node.input, name];
  }
}

export interface ExportedModel {
  bytes: Uint8Array;
  metadata: Record<string, string>;
}

/** What the model's users need to know about its input, in its metadata (and the docs). */
export const INPUT_NOTE =
  'uint8 [N, H, W, 3], RGB, any H × W (N photos of one size); decode with the EXIF orientation applied and alpha flattened on white; photos larger than twice the network input should first be shrunk to fit within it, keeping their aspect ratio';

/** The exported model's bytes, from the bundle and the bytes of its (verified) network file. */
export interface ExportOptions {
  /** int8: weight-only int8 (per output channel), activations float32 (quantize.ts). */
  quantize?: 'int8';
}

export function buildExportModel(bundle: ExportBundle, networkBytes: Uint8Array, networkFile: string, opts: ExportOptions = {}): ExportedModel {
  const { model, notSpliced } = featurizerGraph(networkBytes, bundle.featurizer.spec);
  if (notSpliced) {
    throw new ExportError(
      `bundle ${bundle.dir}: its model ${networkFile} cannot take the preprocessing in front (${notSpliced}); convert it first (Python: onnx.version_converter.convert_version(model, 13))`,
    );
  }
  const graph = model.graph!;
  const affine = inputsAffine(bundle);
  const c = bundle.classifier;
  const head = c.kind === 'logreg' ? logRegHead(affine, c) : knnHead(affine, c);
  if (bundle.novelty) {
    const nh = noveltyHead(bundle.novelty);
    head.nodes.push(...nh.nodes);
    head.initializers.push(...nh.initializers);
  }
  // The head's ops are those of opset 13; a newer network keeps its own opset, where they mean
  // the same except the reductions' axes, which moved to an input in opset 18.
  if (defaultOpset(model) >= 18) axesAsInputs(head);
  const names = new Set<string>([...graph.node.flatMap((n) => n.output), ...graph.initializer.map((t) => t.name)]);
  const clash = head.initializers.map((t) => t.name).find((n) => names.has(n));
  if (clash) throw new ExportError(`bundle ${bundle.dir}: its model already has a tensor named '${clash}'`);
  graph.node = [...graph.node, ...head.nodes];
  graph.initializer = [...graph.initializer, ...head.initializers];
  graph.input = graph.input.filter((i) => i.name === EXPORT_INPUT);
  graph.output = [tensorInfo(EXPORT_OUTPUT, FLOAT, ['N', c.classes]), ...(bundle.novelty ? [tensorInfo(NOVELTY_OUTPUT, FLOAT, ['N'])] : [])];
  graph.name = 'fruits_recognition';
  const metadata: Record<string, string> = {
    'fruits.labels': JSON.stringify(bundle.labels),
    'fruits.model_id': bundle.featurizer.id,
    'fruits.model_sha256': bundle.featurizer.sha256,
    'fruits.bundle.created_at': bundle.manifest.createdAt,
    'fruits.bundle.training_dataset': bundle.training.dataset,
    'fruits.bundle.classifier': c.kind,
    'fruits.bundle.pca_k': bundle.pca ? String(bundle.pca.model.k) : 'none',
    'fruits.input': INPUT_NOTE,
    'fruits.output': c.kind === 'logreg' ? 'probabilities: softmax of the logistic regression, [N, classes], column i = fruits.labels[i]' : 'probabilities: k-NN vote shares, [N, classes], column i = fruits.labels[i]',
    'fruits.novelty': bundle.novelty
      ? `output novelty [N]: higher = less like the training photos; above fruits.novelty.threshold the bundle does not recognise the photo`
      : 'none: this bundle has no novelty score (trained before novelty scores, or without a held-out slice)',
    ...(bundle.novelty ? { 'fruits.novelty.threshold': String(bundle.novelty.threshold) } : {}),
    'fruits.quantization': opts.quantize === 'int8' ? 'int8 weights (symmetric, per output channel), float32 activations' : 'none (float32)',
    'fruits.software': `${SOFTWARE.name} ${SOFTWARE.version}`,
  };
  setMetadata(model, 'fruits.', metadata);
  if (opts.quantize === 'int8') quantizeWeightsInt8(model);
  model.producerName = 'fruits';
  model.producerVersion = SOFTWARE.version;
  return { bytes: encodeModel(model), metadata };
}

/** The exported model of a loaded bundle, its network found as `fruits predict` finds it (and verified). */
export async function exportBundle(bundle: Bundle, modelOverride?: string, log?: (m: string) => void, opts: ExportOptions = {}): Promise<ExportedModel> {
  const network = await resolveBundleModel(bundle, modelOverride, log);
  return buildExportModel(bundle, await fs.readFile(network.path), network.path, opts);
}
