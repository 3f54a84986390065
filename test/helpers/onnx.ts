// Reading what an ONNX file says about itself: its metadata_props.
import { decodeModel } from '../../src/onnx/proto.js';

export function onnxMetadata(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(decodeModel(bytes).metadataProps.map((p) => [p.key, p.value]));
}
