// Reading what an ONNX file says about itself: its metadata_props.
import onnxProto from 'onnx-proto';

export function onnxMetadata(bytes: Uint8Array): Record<string, string> {
  const m = onnxProto.onnx.ModelProto.decode(bytes);
  return Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}
