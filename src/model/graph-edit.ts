// Small edits of ONNX graphs, so users never have to edit a model by hand:
// - keep only the feature tensor as the graph's output (exposing it if it is internal), and
// - the preprocessing (uint8 HWC image → resized, normalised model input), spliced in front of
//   the network when its opset allows (13+), else as its own tiny model run just before it.
import onnxProto from 'onnx-proto';
import type { ModelSpec } from './spec.js';
import { channelAffine } from './spec.js';

const { onnx } = onnxProto;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
type ModelProto = InstanceType<typeof onnx.ModelProto>;
const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

export const FEATURE_OUTPUT = 'fruits_features';
export const IMAGE_INPUT = 'image';
export const PREPROCESS_OUTPUT = 'model_input';
/** Resize with a `sizes` input and optional `roi`/`scales` arrived in opset 13. */
const PREPROCESS_OPSET = 13;

/** Returns the model with one output, FEATURE_OUTPUT = Flatten(feature tensor) of shape [N, dim]. */
export function withFeatureOutput(modelBytes: Uint8Array, tensor: string): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  exposeFeature(model, tensor);
  return onnx.ModelProto.encode(model).finish();
}

/**
 * What the featurizer runs: the network with its feature output exposed and, when its opset
 * allows, the preprocessing spliced in front. The model is decoded and encoded once (each costs
 * ~50 ms of a worker's start-up for MobileNetV2).
 */
export function featurizerModel(modelBytes: Uint8Array, spec: ModelSpec): { bytes: Uint8Array; spliced: boolean } {
  const { model, notSpliced } = featurizerGraph(modelBytes, spec);
  return { bytes: onnx.ModelProto.encode(model).finish(), spliced: !notSpliced };
}

/**
 * The same edits on the decoded model, for callers that add more (the export appends the
 * classifier): `notSpliced` says why the preprocessing could not go in front, when it could not.
 */
export function featurizerGraph(modelBytes: Uint8Array, spec: ModelSpec): { model: ModelProto; notSpliced?: string } {
  const model = onnx.ModelProto.decode(modelBytes);
  exposeFeature(model, spec.feature.tensor);
  return { model, notSpliced: splicePreprocessing(model, spec) };
}

function exposeFeature(model: ModelProto, tensor: string): void {
  const graph = model.graph;
  if (!graph) throw new Error('model has no graph');
  graph.node = graph.node ?? [];
  const produced = new Set<string>(graph.node.flatMap((n) => n.output ?? []));
  for (const i of graph.input ?? []) produced.add(i.name ?? '');
  if (!produced.has(tensor)) {
    const outs = (graph.output ?? []).map((o) => o.name).join(', ');
    throw new Error(`feature tensor '${tensor}' is not in the graph (graph outputs: ${outs})`);
  }
  // Flatten(axis=1) turns [N, C, 1, 1] pools into [N, C] and leaves [N, C] as it is.
  graph.node.push(
    onnx.NodeProto.create({
      opType: 'Flatten',
      name: 'fruits_flatten_features',
      input: [tensor],
      output: [FEATURE_OUTPUT],
      attribute: [onnx.AttributeProto.create({ name: 'axis', type: AT.INT, i: 1 })],
    }),
  );
  graph.output = [
    onnx.ValueInfoProto.create({
      name: FEATURE_OUTPUT,
      type: { tensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimParam: 'D' }] } } },
    }),
  ];
}

function int64s(name: string, values: number[]): TensorProto {
  return onnx.TensorProto.create({ name, dims: [values.length], dataType: DT.INT64, int64Data: values });
}
function floats(name: string, values: number[], dims: number[]): TensorProto {
  return onnx.TensorProto.create({ name, dims, dataType: DT.FLOAT, floatData: values });
}
function node(opType: string, input: string[], output: string[], attrs: InstanceType<typeof onnx.AttributeProto>[] = []) {
  return onnx.NodeProto.create({ opType, name: `pp_${output[0]}`, input, output, attribute: attrs });
}

/** The preprocessing nodes: IMAGE_INPUT → `output`, their intermediate names prefixed (no clash with a network's). */
function preprocessNodes(spec: ModelSpec, output: string) {
  const { width, height, layout } = spec.input;
  const { scale, offset } = channelAffine(spec.normalize);
  const nchw = layout === 'NCHW';
  const chanShape = nchw ? [1, 3, 1, 1] : [1, 1, 1, 3];
  const n = (name: string) => `fruits_pp_${name}`;
  const resizeInput = nchw ? n('t') : n('f');
  const nodes = [
    node('Cast', [IMAGE_INPUT], [n('f')], [onnx.AttributeProto.create({ name: 'to', type: AT.INT, i: DT.FLOAT })]),
    ...(nchw ? [node('Transpose', [n('f')], [n('t')], [onnx.AttributeProto.create({ name: 'perm', type: AT.INTS, ints: [0, 3, 1, 2] })])] : []),
    node('Shape', [resizeInput], [n('shape')]),
    node('Slice', [n('shape'), n('zero'), n('one')], [n('batch')]),
    node('Concat', [n('batch'), n('tail')], [n('sizes')], [onnx.AttributeProto.create({ name: 'axis', type: AT.INT, i: 0 })]),
    node('Resize', [resizeInput, '', '', n('sizes')], [n('resized')], [
      onnx.AttributeProto.create({ name: 'mode', type: AT.STRING, s: Buffer.from('linear') }),
      onnx.AttributeProto.create({ name: 'coordinate_transformation_mode', type: AT.STRING, s: Buffer.from('half_pixel') }),
    ]),
    node('Mul', [n('resized'), n('scale')], [n('scaled')]),
    node('Add', [n('scaled'), n('offset')], [output]),
  ];
  const initializer = [
    int64s(n('zero'), [0]),
    int64s(n('one'), [1]),
    int64s(n('tail'), nchw ? [3, height, width] : [height, width, 3]),
    floats(n('scale'), scale, chanShape),
    floats(n('offset'), offset, chanShape),
  ];
  const input = onnx.ValueInfoProto.create({
    name: IMAGE_INPUT,
    type: { tensorType: { elemType: DT.UINT8, shape: { dim: [{ dimParam: 'N' }, { dimParam: 'H' }, { dimParam: 'W' }, { dimValue: 3 }] } } },
  });
  return { nodes, initializer, input, outputDims: nchw ? [3, height, width] : [height, width, 3] };
}

/**
 * The preprocessing model: input IMAGE_INPUT uint8 [N, H, W, 3] (RGB, any H, W) → output
 * PREPROCESS_OUTPUT float32 in the model's layout and size, bilinearly resized (half-pixel
 * centres, as OpenCV/PIL/sharp sample) and normalised as the spec says.
 */
export function buildPreprocessModel(spec: ModelSpec): Uint8Array {
  const pp = preprocessNodes(spec, PREPROCESS_OUTPUT);
  const graph = onnx.GraphProto.create({
    name: 'fruits_preprocess',
    node: pp.nodes,
    initializer: pp.initializer,
    input: [pp.input],
    output: [
      onnx.ValueInfoProto.create({
        name: PREPROCESS_OUTPUT,
        type: { tensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimParam: 'N' }, ...pp.outputDims.map((d) => ({ dimValue: d }))] } } },
      }),
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'fruits',
    opsetImport: [{ domain: '', version: PREPROCESS_OPSET }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
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
  const opset = (model.opsetImport ?? []).find((o) => !o.domain);
  if (!graph || !opset) return 'it imports no default ONNX opset';
  if (Number(opset.version) < PREPROCESS_OPSET) return `its opset is ${Number(opset.version)}, the spliced preprocessing needs ${PREPROCESS_OPSET} or later`;
  const inputs = graph.input ?? [];
  if (!inputs.some((i) => i.name === spec.input.name)) return `it has no input '${spec.input.name}'`;
  const pp = preprocessNodes(spec, spec.input.name);
  const names = new Set<string>([...(graph.node ?? []).flatMap((x) => [...(x.input ?? []), ...(x.output ?? [])]), ...(graph.initializer ?? []).map((t) => t.name ?? '')]);
  const added = [IMAGE_INPUT, ...pp.nodes.flatMap((x) => x.output ?? []).filter((o) => o !== spec.input.name), ...pp.initializer.map((t) => t.name ?? '')];
  const clash = added.find((name) => names.has(name));
  if (clash) return `its graph already has a tensor named '${clash}'`;
  graph.node = [...pp.nodes, ...(graph.node ?? [])];
  graph.initializer = [...(graph.initializer ?? []), ...pp.initializer];
  graph.input = [pp.input, ...inputs.filter((i) => i.name !== spec.input.name)];
  return undefined;
}
