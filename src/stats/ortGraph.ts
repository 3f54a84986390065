// Tiny in-memory ONNX graphs run by onnxruntime-node's CPU provider.
//
// Why: the heavy float64 linear algebra of statistics and PCA (XᵀX, GEMV, block updates) runs in
// MLAS, which is multi-threaded and SIMD — 30–80 GFLOP/s here against ~2 GFLOP/s for plain JS
// loops — while staying in IEEE double. Each graph is built once per process and reused with
// dynamic shapes; input typed arrays are handed to ORT without copies.
import pkg from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const { onnx } = pkg;
type INodeProto = pkg.onnx.INodeProto;
type IValueInfoProto = pkg.onnx.IValueInfoProto;
type ITensorProto = pkg.onnx.ITensorProto;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const DOUBLE = onnx.TensorProto.DataType.DOUBLE;
export const INT64 = onnx.TensorProto.DataType.INT64;

/** A dimension: a fixed size or a symbolic (dynamic) name. */
export type Dim = number | string;
export type Attr = { int: number } | { ints: number[] } | { float: number };

export function tensorInfo(name: string, elemType: number, dims: Dim[]): IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

export function op(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): INodeProto {
  const A = onnx.AttributeProto.AttributeType;
  const attribute = Object.entries(attrs).map(([name, a]) => {
    if ('int' in a) return onnx.AttributeProto.create({ name, type: A.INT, i: a.int });
    if ('ints' in a) return onnx.AttributeProto.create({ name, type: A.INTS, ints: a.ints });
    return onnx.AttributeProto.create({ name, type: A.FLOAT, f: a.float });
  });
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, attribute });
}

export function int64Initializer(name: string, values: number[]): ITensorProto {
  return onnx.TensorProto.create({ name, dataType: INT64, dims: [values.length], int64Data: values });
}

export interface GraphSpec {
  nodes: INodeProto[];
  inputs: IValueInfoProto[];
  outputs: IValueInfoProto[];
  initializers?: ITensorProto[];
  /** For models written to files: the graph's name and the model's metadata_props. */
  name?: string;
  metadata?: Record<string, string>;
}

export function encodeModel(spec: GraphSpec): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: spec.name ?? 'fruits_linalg',
    node: spec.nodes,
    input: spec.inputs,
    output: spec.outputs,
    initializer: spec.initializers ?? [],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'fruits',
    opsetImport: [{ domain: '', version: 13 }],
    graph,
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A float64 or float32 initializer (shape `dims`), e.g. a model's fitted constants; raw little-endian bytes as ONNX stores them. */
export function doubleInitializer(name: string, values: Float64Array, dims: number[]): ITensorProto {
  const copy = new Float64Array(values); // its own aligned buffer
  return onnx.TensorProto.create({ name, dataType: DOUBLE, dims, rawData: new Uint8Array(copy.buffer) });
}
export function floatInitializer(name: string, values: Float32Array, dims: number[]): ITensorProto {
  const copy = new Float32Array(values);
  return onnx.TensorProto.create({ name, dataType: FLOAT, dims, rawData: new Uint8Array(copy.buffer) });
}

/** Returns a getter that builds the session on first use and shares it afterwards. */
export function lazySession(build: () => GraphSpec): () => Promise<ort.InferenceSession> {
  let session: Promise<ort.InferenceSession> | undefined;
  return () => {
    session ??= ort.InferenceSession.create(encodeModel(build()), { graphOptimizationLevel: 'all' }).catch((e: unknown) => {
      session = undefined; // let a later call retry instead of caching the failure
      throw e;
    });
    return session;
  };
}

export function f64(data: Float64Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float64', data, dims);
}

export function f32(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function i64(values: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
}

/** The float64 payload of an output tensor (throws if the graph produced another type). */
export function outF64(result: ort.InferenceSession.OnnxValueMapType, name: string): Float64Array {
  const t = result[name] as ort.Tensor | undefined;
  if (!t || !(t.data instanceof Float64Array)) throw new Error(`internal: graph output ${name} is not float64`);
  return t.data;
}

export function outF32(result: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const t = result[name] as ort.Tensor | undefined;
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`internal: graph output ${name} is not float32`);
  return t.data;
}
