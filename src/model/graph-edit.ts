// Small edits of ONNX graphs, so users never have to edit a model by hand:
// - keep only the feature tensor as the graph's output (exposing it if it is internal), and
// - the preprocessing (uint8 HWC image → resized, normalised model input), spliced in front of
//   the network when its opset allows (13+), else as its own tiny model run just before it.
import { buildModel, decodeModel, defaultOpset, encodeModel, FLOAT, floatInitializer, int64Initializer, op, tensorInfo, UINT8, type Attr, type ModelProto } from '../onnx/proto.js';
import type { ModelSpec } from './spec.js';
import { channelAffine } from './spec.js';

export const FEATURE_OUTPUT = 'fruits_features';
export const IMAGE_INPUT = 'image';
export const PREPROCESS_OUTPUT = 'model_input';
/** Resize with a `sizes` input and optional `roi`/`scales` arrived in opset 13. */
const PREPROCESS_OPSET = 13;

/**
 * The network alone with one output, FEATURE_OUTPUT = Flatten(feature tensor) of shape [N, dim];
 * given a spec, taking inputs of its size (see fitInputSize).
 */
export function withFeatureOutput(modelBytes: Uint8Array, tensor: string, sized?: ModelSpec): Uint8Array {
  const model = decodeModel(modelBytes);
  exposeFeature(model, tensor);
  if (sized) fitInputSize(model, sized);
  return encodeModel(model);
}

/**
 * What the featurizer runs: the network with its feature output exposed and, when its opset
 * allows, the preprocessing spliced in front. The model is decoded and encoded once (each costs
 * ~50 ms of a worker's start-up for MobileNetV2).
 */
export function featurizerModel(modelBytes: Uint8Array, spec: ModelSpec): { bytes: Uint8Array; spliced: boolean } {
  const { model, notSpliced } = featurizerGraph(modelBytes, spec);
  return { bytes: encodeModel(model), spliced: !notSpliced };
}

/**
 * The same edits on the decoded model, for callers that add more (the export appends the
 * classifier): `notSpliced` says why the preprocessing could not go in front, when it could not.
 */
export function featurizerGraph(modelBytes: Uint8Array, spec: ModelSpec): { model: ModelProto; notSpliced?: string } {
  const model = decodeModel(modelBytes);
  exposeFeature(model, spec.feature.tensor);
  fitInputSize(model, spec);
  return { model, notSpliced: splicePreprocessing(model, spec) };
}

function exposeFeature(model: ModelProto, tensor: string): void {
  const graph = model.graph;
  if (!graph) throw new Error('model has no graph');
  const produced = new Set<string>(graph.node.flatMap((n) => n.output));
  for (const i of graph.input) produced.add(i.name);
  if (!produced.has(tensor)) {
    const outs = graph.output.map((o) => o.name).join(', ');
    throw new Error(`feature tensor '${tensor}' is not in the graph (graph outputs: ${outs})`);
  }
  // Flatten(axis=1) turns [N, C, 1, 1] pools into [N, C] and leaves [N, C] as it is.
  graph.node.push(op('Flatten', [tensor], [FEATURE_OUTPUT], { axis: { int: 1 } }, 'fruits_flatten_features'));
  graph.output = [tensorInfo(FEATURE_OUTPUT, FLOAT, ['N', 'D'])];
}

/**
 * Makes the network's spatial input dimensions symbolic when the graph declares another size
 * than the spec's (`--input-size`): fully convolutional networks with a global pool (MobileNetV2)
 * accept any size, and ONNX Runtime then infers every shape from the input. Intermediate shapes
 * recorded for the declared size (value_info) would contradict that, so they go too.
 */
function fitInputSize(model: ModelProto, spec: ModelSpec): void {
  const input = model.graph?.input.find((i) => i.name === spec.input.name);
  const type = input?.type?.value;
  const dims = type?.case === 'tensorType' ? type.value.shape?.dim : undefined;
  if (!dims || dims.length !== 4) return;
  const [h, w] = spec.input.layout === 'NCHW' ? [2, 3] : [1, 2];
  const fixed = (i: number, size: number) => dims[i].value.case === 'dimValue' && Number(dims[i].value.value) !== size;
  if (!fixed(h, spec.input.height) && !fixed(w, spec.input.width)) return;
  dims[h].value = { case: 'dimParam', value: 'height' };
  dims[w].value = { case: 'dimParam', value: 'width' };
  model.graph!.valueInfo = [];
}

function node(opType: string, input: string[], output: string[], attrs: Record<string, Attr> = {}) {
  return op(opType, input, output, attrs, `pp_${output[0]}`);
}

/** The preprocessing nodes: IMAGE_INPUT → `output`, their intermediate names prefixed (no clash with a network's). */
function preprocessNodes(spec: ModelSpec, output: string) {
  const { width, height, layout } = spec.input;
  const { scale, offset } = channelAffine(spec.normalize);
  const nchw = layout === 'NCHW';
  const chanShape = nchw ? [1, 3, 1, 1] : [1, 1, 1, 3];
  const n = (name: string) => `fruits_pp_${name}`;
  const laidOut = nchw ? n('t') : n('f');
  // The affine map goes before the resize, on the photo's own pixels: both are linear and a
  // bilinear resize's weights sum to 1, so the result is the same up to rounding (≤ 1e-6 here),
  // and a 100×100 photo has a fifth of the values of the 224×224 input (preprocessing alone:
  // 0.61 → 0.47 ms of CPU per photo, against ~8 ms for the network).
  const nodes = [
    node('Cast', [IMAGE_INPUT], [n('f')], { to: { int: FLOAT } }),
    ...(nchw ? [node('Transpose', [n('f')], [n('t')], { perm: { ints: [0, 3, 1, 2] } })] : []),
    node('Mul', [laidOut, n('scale')], [n('scaled')]),
    node('Add', [n('scaled'), n('offset')], [n('normalised')]),
    node('Shape', [n('normalised')], [n('shape')]),
    node('Slice', [n('shape'), n('zero'), n('one')], [n('batch')]),
    node('Concat', [n('batch'), n('tail')], [n('sizes')], { axis: { int: 0 } }),
    node('Resize', [n('normalised'), '', '', n('sizes')], [output], { mode: { string: 'linear' }, coordinate_transformation_mode: { string: 'half_pixel' } }),
  ];
  const initializer = [
    int64Initializer(n('zero'), [0]),
    int64Initializer(n('one'), [1]),
    int64Initializer(n('tail'), nchw ? [3, height, width] : [height, width, 3]),
    floatInitializer(n('scale'), scale, chanShape),
    floatInitializer(n('offset'), offset, chanShape),
  ];
  const input = tensorInfo(IMAGE_INPUT, UINT8, ['N', 'H', 'W', 3]);
  return { nodes, initializer, input, outputDims: nchw ? [3, height, width] : [height, width, 3] };
}

/**
 * The preprocessing model: input IMAGE_INPUT uint8 [N, H, W, 3] (RGB, any H, W) → output
 * PREPROCESS_OUTPUT float32 in the model's layout and size, bilinearly resized (half-pixel
 * centres, as OpenCV/PIL/sharp sample) and normalised as the spec says.
 */
export function buildPreprocessModel(spec: ModelSpec): Uint8Array {
  const pp = preprocessNodes(spec, PREPROCESS_OUTPUT);
  return buildModel(
    { nodes: pp.nodes, initializers: pp.initializer, inputs: [pp.input], outputs: [tensorInfo(PREPROCESS_OUTPUT, FLOAT, ['N', ...pp.outputDims])] },
    { name: 'fruits_preprocess', irVersion: 7, opset: PREPROCESS_OPSET },
  );
}

/**
 * Splices the preprocessing nodes in front of the network (input IMAGE_INPUT, uint8 images), so
 * that a batch goes through one session: the float input tensor, 5× the size of the photos, then
 * never travels through JavaScript (measured: that round trip cost more CPU than the resize
 * itself). Returns why not, and leaves the model untouched, when the network's opset is older
 * than the nodes' (Resize-13) or a name clashes; the featurizer then runs the two models one
 * after the other.
 */
function splicePreprocessing(model: ModelProto, spec: ModelSpec): string | undefined {
  const graph = model.graph;
  if (!graph) return 'it has no graph';
  const opset = defaultOpset(model);
  if (opset < PREPROCESS_OPSET) return `its opset is ${opset}, the spliced preprocessing needs ${PREPROCESS_OPSET} or later`;
  const inputs = graph.input;
  if (!inputs.some((i) => i.name === spec.input.name)) return `it has no input '${spec.input.name}'`;
  const pp = preprocessNodes(spec, spec.input.name);
  const names = new Set<string>([...graph.node.flatMap((x) => [...x.input, ...x.output]), ...graph.initializer.map((t) => t.name)]);
  const added = [IMAGE_INPUT, ...pp.nodes.flatMap((x) => x.output).filter((o) => o !== spec.input.name), ...pp.initializer.map((t) => t.name)];
  const clash = added.find((name) => names.has(name));
  if (clash) return `its graph already has a tensor named '${clash}'`;
  graph.node = [...pp.nodes, ...graph.node];
  graph.initializer = [...graph.initializer, ...pp.initializer];
  graph.input = [pp.input, ...inputs.filter((i) => i.name !== spec.input.name)];
  return undefined;
}
