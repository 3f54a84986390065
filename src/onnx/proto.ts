// The one home for reading, writing and building ONNX protobufs.
//
// Why onnx-buf: it is ONNX 1.20's own onnx.proto compiled with protoc-gen-es, on
// @bufbuild/protobuf, which keeps fields it does not know when a model is decoded and encoded
// again. The graph edits (feature output, spliced preprocessing, export) therefore never drop a
// field of a model made by a newer exporter than the schema (onnx-proto, ONNX 1.10, silently did).
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AT,
  AttributeProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProto_DataType as DT,
  TensorProtoSchema,
  ValueInfoProtoSchema,
  GraphProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';

export { DT, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto };

export const FLOAT = DT.FLOAT;
export const DOUBLE = DT.DOUBLE;
export const INT64 = DT.INT64;
export const UINT8 = DT.UINT8;

/** Decodes a model, keeping unknown fields (they are written back by encodeModel). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return fromBinary(ModelProtoSchema, bytes);
}

export function encodeModel(model: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, model);
}

/** A dimension: a fixed size or a symbolic (dynamic) name. */
export type Dim = number | string;
export type Attr = { int: number } | { ints: number[] } | { float: number } | { floats: number[] } | { string: string };

export function tensorInfo(name: string, elemType: DT, dims: Dim[]): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: 'tensorType',
        value: {
          elemType,
          shape: { dim: dims.map((d) => ({ value: typeof d === 'string' ? { case: 'dimParam' as const, value: d } : { case: 'dimValue' as const, value: BigInt(d) } })) },
        },
      },
    },
  });
}

function attribute(name: string, a: Attr): AttributeProto {
  if ('int' in a) return create(AttributeProtoSchema, { name, type: AT.INT, i: BigInt(a.int) });
  if ('ints' in a) return create(AttributeProtoSchema, { name, type: AT.INTS, ints: a.ints.map(BigInt) });
  if ('float' in a) return create(AttributeProtoSchema, { name, type: AT.FLOAT, f: a.float });
  if ('floats' in a) return create(AttributeProtoSchema, { name, type: AT.FLOATS, floats: a.floats });
  return create(AttributeProtoSchema, { name, type: AT.STRING, s: new TextEncoder().encode(a.string) });
}

/** A node; `name` defaults to the first output's (unique in a graph, as ONNX wants). */
export function op(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, name?: string): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    name: name ?? outputs[0] ?? opType,
    input: inputs,
    output: outputs,
    attribute: Object.entries(attrs).map(([n, a]) => attribute(n, a)),
  });
}

export function int64Initializer(name: string, values: number[], dims: number[] = [values.length]): TensorProto {
  return create(TensorProtoSchema, { name, dataType: INT64, dims: dims.map(BigInt), int64Data: values.map(BigInt) });
}

/** float32 weights, stored as raw little-endian bytes (compact, and exact for float32 values). */
export function floatInitializer(name: string, values: ArrayLike<number>, dims: number[]): TensorProto {
  const data = Float32Array.from(values as ArrayLike<number>);
  return create(TensorProtoSchema, { name, dataType: FLOAT, dims: dims.map(BigInt), rawData: new Uint8Array(data.buffer) });
}

export interface GraphSpec {
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  initializers?: TensorProto[];
}

export interface ModelOptions {
  name?: string;
  opset?: number;
  irVersion?: number;
  /** metadata_props of the model (string values). */
  metadata?: Record<string, string>;
}

/** A whole model from a graph spec, encoded. */
export function buildModel(spec: GraphSpec, options: ModelOptions = {}): Uint8Array {
  const graph: MessageInitShape<typeof GraphProtoSchema> = {
    name: options.name ?? 'fruits',
    node: spec.nodes,
    input: spec.inputs,
    output: spec.outputs,
    initializer: spec.initializers ?? [],
  };
  const model = create(ModelProtoSchema, {
    irVersion: BigInt(options.irVersion ?? 8),
    producerName: 'fruits',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(options.opset ?? 13) })],
    graph,
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return encodeModel(model);
}

/** The default-domain opset a model imports (0 when it imports none). */
export function defaultOpset(model: ModelProto): number {
  const o = model.opsetImport.find((x) => !x.domain);
  return o ? Number(o.version) : 0;
}

export function setDefaultOpset(model: ModelProto, version: number): void {
  model.opsetImport = [...model.opsetImport.filter((x) => x.domain), create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(version) })];
}
