// The graph edits keep every field of a model: those of ONNX releases newer than the IR 8 the old
// schema package knew (node and graph metadata_props, node overload, IR 10), and fields no schema
// we have knows at all (written back byte for byte).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { describe, it } from 'node:test';
import { featurizerModel, withFeatureOutput } from '../src/model/graph-edit.js';
import { MOBILENET_V2_SHARED } from '../src/model/registry.js';
import { decodeModel, encodeModel } from '../src/onnx/proto.js';
import { sharedModelPath } from './helpers/paths.js';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A length-delimited field with a number no ONNX schema uses, appended to a message's bytes. */
function unknownField(field: number, payload: string): Uint8Array {
  const data = new TextEncoder().encode(payload);
  return Uint8Array.from([...varint((field << 3) | 2), ...varint(data.length), ...data]);
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle)) >= 0;
}

describe('ONNX protobuf edits', () => {
  it('keep IR 10 fields and fields of no known schema through both graph edits', async () => {
    const model = decodeModel(await fs.readFile(sharedModelPath));
    model.irVersion = 10n;
    const graph = model.graph!;
    graph.metadataProps.push({ $typeName: 'onnx.StringStringEntryProto', key: 'graph.note', value: 'kept' });
    const first = graph.node[0]!;
    first.overload = 'fruits_overload';
    first.metadataProps.push({ $typeName: 'onnx.StringStringEntryProto', key: 'node.note', value: 'kept too' });
    const mystery = unknownField(4242, 'a field from the future');
    const bytes = Uint8Array.from([...encodeModel(model), ...mystery]);

    for (const edited of [withFeatureOutput(bytes, 'features'), featurizerModel(bytes, MOBILENET_V2_SHARED).bytes]) {
      assert.ok(contains(edited, mystery), 'the unknown field is written back byte for byte');
      const back = decodeModel(edited);
      assert.equal(back.irVersion, 10n);
      assert.deepEqual(back.graph!.metadataProps.map((p) => [p.key, p.value]), [['graph.note', 'kept']]);
      const node = back.graph!.node.find((n) => n.name === first.name)!;
      assert.equal(node.overload, 'fruits_overload');
      assert.deepEqual(node.metadataProps.map((p) => [p.key, p.value]), [['node.note', 'kept too']]);
      // Nothing of the network is lost: every original node and initializer is still there.
      assert.ok(back.graph!.node.length > graph.node.length);
      assert.equal(back.graph!.initializer.filter((t) => graph.initializer.some((o) => o.name === t.name)).length, graph.initializer.length);
    }
  });
});
