// Small edits of ONNX graphs, so users never have to edit a model by hand:
// - keep only the feature tensor as the graph's output (exposing it if it is internal), and
// - build the preprocessing graph (uint8 HWC image → resized, normalised model input).
// Preprocessing is its own tiny model at opset 13 rather than spliced into the user's graph,
// whose opset may be too old for Resize-13.
import onnxProto from 'onnx-proto';
import type { ModelSpec } from './spec.js';
import { channelAffine } from './spec.js';

const { onnx } = onnxProto;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

export const FEATURE_OUTPUT = 'fruits_features';
export const IMAGE_INPUT = 'image';
export const PREPROCESS_OUTPUT = 'model_input';

/** Returns the model with one output, FEATURE_OUTPUT = Flatten(feature tensor) of shape [N, dim]. */
export function withFeatureOutput(modelBytes: Uint8Array, tensor: string): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
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
  return onnx.ModelProto.encode(model).finish();
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

/**
 * The preprocessing model: input IMAGE_INPUT uint8 [N, H, W, 3] (RGB, any H, W) → output
 * PREPROCESS_OUTPUT float32 in the model's layout and size, bilinearly resized (half-pixel
 * centres, as OpenCV/PIL/sharp sample) and normalised as the spec says.
 */
export function buildPreprocessModel(spec: ModelSpec): Uint8Array {
  const { width, height, layout } = spec.input;
  const { scale, offset } = channelAffine(spec.normalize);
  const nchw = layout === 'NCHW';
  const chanShape = nchw ? [1, 3, 1, 1] : [1, 1, 1, 3];
  const nodes = [
    node('Cast', [IMAGE_INPUT], ['f'], [onnx.AttributeProto.create({ name: 'to', type: AT.INT, i: DT.FLOAT })]),
    ...(nchw ? [node('Transpose', ['f'], ['t'], [onnx.AttributeProto.create({ name: 'perm', type: AT.INTS, ints: [0, 3, 1, 2] })])] : []),
    node('Shape', [nchw ? 't' : 'f'], ['shape']),
    node('Slice', ['shape', 'zero', 'one'], ['batch']),
    node('Concat', ['batch', 'tail'], ['sizes'], [onnx.AttributeProto.create({ name: 'axis', type: AT.INT, i: 0 })]),
    node('Resize', [nchw ? 't' : 'f', '', '', 'sizes'], ['resized'], [
      onnx.AttributeProto.create({ name: 'mode', type: AT.STRING, s: Buffer.from('linear') }),
      onnx.AttributeProto.create({ name: 'coordinate_transformation_mode', type: AT.STRING, s: Buffer.from('half_pixel') }),
    ]),
    node('Mul', ['resized', 'scale'], ['scaled']),
    node('Add', ['scaled', 'offset'], [PREPROCESS_OUTPUT]),
  ];
  const graph = onnx.GraphProto.create({
    name: 'fruits_preprocess',
    node: nodes,
    initializer: [
      int64s('zero', [0]),
      int64s('one', [1]),
      int64s('tail', nchw ? [3, height, width] : [height, width, 3]),
      floats('scale', scale, chanShape),
      floats('offset', offset, chanShape),
    ],
    input: [
      onnx.ValueInfoProto.create({
        name: IMAGE_INPUT,
        type: { tensorType: { elemType: DT.UINT8, shape: { dim: [{ dimParam: 'N' }, { dimParam: 'H' }, { dimParam: 'W' }, { dimValue: 3 }] } } },
      }),
    ],
    output: [
      onnx.ValueInfoProto.create({
        name: PREPROCESS_OUTPUT,
        type: { tensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimParam: 'N' }, ...(nchw ? [3, height, width] : [height, width, 3]).map((d) => ({ dimValue: d }))] } } },
      }),
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'fruits',
    opsetImport: [{ domain: '', version: 13 }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
