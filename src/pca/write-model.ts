// Writes a fitted PCA: model.json and, beside it, the portable model.onnx. Every path that
// writes a PCA model goes through here, so the two files always come together.
import type { Store } from '../storage/store.js';
import { sha256Hex } from '../util/hash.js';
import { serializePcaModel, type PcaModel } from './model.js';
import { portableKeyOf, portablePcaModel } from './portable.js';

/** model.onnx first, model.json last: a crash in between leaves no model.json, so the fit is redone. */
export async function writePcaModel(store: Store, jsonKey: string, model: PcaModel): Promise<{ json: string; onnx: string; sha256: string }> {
  const text = serializePcaModel(model);
  const onnx = portableKeyOf(jsonKey);
  const sha256 = sha256Hex(text);
  await store.write(onnx, portablePcaModel(model, sha256));
  await store.write(jsonKey, text);
  return { json: jsonKey, onnx, sha256 };
}
