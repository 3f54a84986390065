// `fruits export --quantize int8`: weight-only int8 quantization of an exported model. Every
// Conv, Gemm and MatMul weight becomes int8 with one float scale per output channel (symmetric,
// zero point 0) and a DequantizeLinear node in front of its consumer, so the file is ~4× smaller;
// activations stay float32, so the operators and their kernels are the float ones.
import { DT, op, rawInitializer, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';

/** Weight input index and output-channel axis of each quantized operator. */
const WEIGHT_OF: Record<string, { input: number; axis: (dims: number[], transB: boolean) => number }> = {
  Conv: { input: 1, axis: () => 0 },
  MatMul: { input: 1, axis: (dims) => dims.length - 1 },
  Gemm: { input: 1, axis: (_dims, transB) => (transB ? 0 : 1) },
};

function floatsOf(t: TensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData); // aligned
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData);
}

export interface QuantizeSummary {
  tensors: number;
  weightsBefore: number;
  weightsAfter: number;
}

/** Quantizes the model's weights in place. */
export function quantizeWeightsInt8(model: ModelProto): QuantizeSummary {
  const graph = model.graph!;
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const uses = new Map<string, number>();
  for (const n of graph.node) for (const i of n.input) uses.set(i, (uses.get(i) ?? 0) + 1);
  const summary: QuantizeSummary = { tensors: 0, weightsBefore: 0, weightsAfter: 0 };
  const dequantize: NodeProto[] = [];
  const replaced = new Set<string>();
  for (const n of graph.node) {
    const rule = WEIGHT_OF[n.opType];
    const name = rule ? n.input[rule.input] : undefined;
    const t = name ? inits.get(name) : undefined;
    // Only float weights used by this node alone (a shared one would need every consumer checked).
    if (!rule || !name || !t || t.dataType !== DT.FLOAT || uses.get(name) !== 1 || replaced.has(name)) continue;
    const dims = t.dims.map(Number);
    const transB = n.attribute.some((a) => a.name === 'transB' && Number(a.i) === 1);
    const axis = rule.axis(dims, transB);
    const w = floatsOf(t);
    const channels = dims[axis];
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const scale = new Float32Array(channels);
    for (let i = 0; i < w.length; i++) {
      const c = Math.floor(i / inner) % channels;
      scale[c] = Math.max(scale[c], Math.abs(w[i]));
    }
    for (let c = 0; c < channels; c++) scale[c] = scale[c] > 0 ? scale[c] / 127 : 1;
    const q = new Int8Array(w.length);
    for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / scale[Math.floor(i / inner) % channels])));
    const qName = `${name}_int8`;
    graph.initializer = graph.initializer.filter((x) => x !== t);
    graph.initializer.push(
      rawInitializer(qName, DT.INT8, new Uint8Array(q.buffer), dims),
      rawInitializer(`${name}_scale`, DT.FLOAT, new Uint8Array(scale.buffer), [channels]),
      rawInitializer(`${name}_zero`, DT.INT8, new Uint8Array(channels), [channels]),
    );
    dequantize.push(op('DequantizeLinear', [qName, `${name}_scale`, `${name}_zero`], [name], { axis: { int: axis } }, `${name}_dequantize`));
    replaced.add(name);
    summary.tensors++;
    summary.weightsBefore += w.length * 4;
    summary.weightsAfter += w.length + channels * 5;
  }
  graph.node = [...dequantize, ...graph.node];
  return summary;
}
