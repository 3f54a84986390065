// The portable PCA (model.onnx): run by onnxruntime-node as any user would run it, its scores
// equal `project`'s (what `transform` writes) for every scale mode; its metadata names the
// featurizer, k, the scaling and model.json's sha256; writePcaModel writes both files.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { fitPca } from '../src/pca/fit.js';
import { serializePcaModel, type PcaModel } from '../src/pca/model.js';
import { portableKeyOf, portablePcaModel } from '../src/pca/portable.js';
import { project } from '../src/pca/project.js';
import type { ScaleMode } from '../src/pca/scaling.js';
import { writePcaModel } from '../src/pca/write-model.js';
import { statsOfRows } from '../src/stats/index.js';
import { openStore } from '../src/storage/open.js';
import { sha256Hex } from '../src/util/hash.js';
import { loadData, loadGolden } from './fixtures/pca/fixtures.js';
import { onnxMetadata } from './helpers/onnx.js';
import { tempDir } from './helpers/paths.js';

const featurizer = { modelId: 'mobilenet_v2_1.0_224', sha256: '5a'.repeat(32) };
const golden = loadGolden();
const data = loadData();
const { n, d } = golden;

/** Largest |a − b| / (1 + |b|). */
function worstDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return worst;
}

async function runPortable(bytes: Uint8Array, rows: Float32Array, count: number, dim: number): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    assert.deepEqual(session.inputNames, ['features']);
    assert.deepEqual(session.outputNames, ['components']);
    return (await session.run({ features: new ort.Tensor('float32', rows, [count, dim]) })).components as ort.Tensor;
  } finally {
    await session.release();
  }
}

describe('portable PCA model (model.onnx)', () => {
  for (const scale of ['none', 'standard', 'minmax'] as ScaleMode[]) {
    test(`scale=${scale}: onnxruntime gives transform's scores`, async () => {
      const m = await fitPca(await statsOfRows(data, n, d), { scale, components: { variance: 0.9 }, featurizer });
      const out = await runPortable(portablePcaModel(m, 'b'.repeat(64)), data, n, d);
      assert.equal(out.type, 'float32');
      assert.deepEqual(out.dims, [n, m.k]);
      const want = await project(m, data, n);
      // The same nodes in float64: equal to 1e-4 is the promise, and in practice they are identical.
      const worst = worstDiff(out.data as Float32Array, want);
      assert.ok(worst <= 1e-4, `largest difference ${worst}`);
      // A transform output row-for-row: also for a single row and for a batch that is not the fitted one.
      const one = await runPortable(portablePcaModel(m, 'b'.repeat(64)), data.subarray(5 * d, 6 * d), 1, d);
      assert.ok(worstDiff(one.data as Float32Array, want.subarray(5 * m.k, 6 * m.k)) <= 1e-4);
    });
  }

  test('metadata: featurizer id and sha256, dimension, k, scale, model.json sha256', async () => {
    const m: PcaModel = await fitPca(await statsOfRows(data, n, d), { scale: 'minmax', components: { k: 7 }, featurizer });
    const meta = onnxMetadata(portablePcaModel(m, 'c'.repeat(64)));
    assert.equal(meta['fruits.model_id'], 'mobilenet_v2_1.0_224');
    assert.equal(meta['fruits.model_sha256'], featurizer.sha256);
    assert.equal(meta['fruits.feature_dim'], String(d));
    assert.equal(meta['fruits.pca.k'], '7');
    assert.equal(meta['fruits.pca.scale'], 'minmax');
    assert.equal(meta['fruits.pca_sha256'], 'c'.repeat(64));
    assert.match(meta['fruits.software'], /^fruits \d/);
  });

  test('a wrong input width is refused by the runtime, not silently projected', async () => {
    const m = await fitPca(await statsOfRows(data, n, d), { scale: 'standard', components: { k: 3 }, featurizer });
    await assert.rejects(runPortable(portablePcaModel(m, 'b'.repeat(64)), data.subarray(0, 2 * (d - 1)), 2, d - 1));
  });

  test('writePcaModel writes model.onnx beside model.json, naming the json it came with', async () => {
    const tmp = await tempDir('pca-portable');
    try {
      const m = await fitPca(await statsOfRows(data, n, d), { scale: 'standard', components: { k: 5 }, featurizer });
      const store = openStore(tmp.dir);
      const written = await writePcaModel(store, 'model.json', m);
      const json = await fs.readFile(path.join(tmp.dir, 'model.json'), 'utf8');
      assert.deepEqual(written, { json: 'model.json', onnx: 'model.onnx', sha256: sha256Hex(json) });
      assert.equal(json, serializePcaModel(m));
      const onnx = await fs.readFile(path.join(tmp.dir, 'model.onnx'));
      assert.equal(onnxMetadata(onnx)['fruits.pca_sha256'], sha256Hex(json));
      assert.equal(portableKeyOf('pca-200.json'), 'pca-200.onnx');
      assert.equal(portableKeyOf('sub/model.JSON'), 'sub/model.onnx');
      assert.ok(!existsSync(path.join(tmp.dir, 'model.json.onnx')));
    } finally {
      await tmp.cleanup();
    }
  });
});
