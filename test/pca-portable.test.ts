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
import { portableKeyOf, portablePcaModel, readPortableProjection } from '../src/pca/portable.js';
import { project, projectionParams } from '../src/pca/project.js';
import { createTaskContext } from '../src/tasks/context.js';
import { transformPart } from '../src/tasks/transform.js';
import { encodeFeatures } from '../src/sink/parquet.js';
import { readPart } from '../src/sink/read-dataset.js';
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

/** The PCA of the fixture rows, as the pipeline fits it. */
async function fitted(scale: ScaleMode, k: number): Promise<PcaModel> {
  return fitPca(await statsOfRows(data, n, d), { scale, components: { k }, featurizer });
}

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
    const m: PcaModel = await fitted('minmax', 7);
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
    const m = await fitted('standard', 3);
    await assert.rejects(runPortable(portablePcaModel(m, 'b'.repeat(64)), data.subarray(0, 2 * (d - 1)), 2, d - 1));
  });

  test('writePcaModel writes model.onnx beside model.json, naming the json it came with', async () => {
    const tmp = await tempDir('pca-portable');
    try {
      const m = await fitted('standard', 5);
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

  test('read back from model.onnx: the very float32 arrays, and nothing from a file it did not write', async () => {
    const m = await fitted('standard', 6);
    const back = readPortableProjection(portablePcaModel(m, 'e'.repeat(64)));
    assert.ok(back);
    assert.deepEqual({ dim: back.dim, k: back.k, featurizer: back.featurizer, jsonSha256: back.jsonSha256 }, { dim: d, k: 6, featurizer, jsonSha256: 'e'.repeat(64) });
    assert.deepEqual(back.params, projectionParams(m));
    assert.deepEqual(await project(back, data, n), await project(m, data, n));
    assert.equal(readPortableProjection(new Uint8Array([1, 2, 3, 4])), undefined);
    assert.equal(readPortableProjection(Buffer.from(serializePcaModel(m))), undefined);
  });

  test('transform tasks: the same scores from model.onnx and, when it names another model.json, from model.json', async () => {
    const tmp = await tempDir('pca-portable-transform');
    try {
      const m = await fitted('standard', 5);
      const store = openStore(tmp.dir);
      const written = await writePcaModel(store, 'pca/model.json', m);
      const meta = { 'fruits.model_id': featurizer.modelId, 'fruits.model_sha256': featurizer.sha256 };
      const rows = Array.from({ length: n }, (_, i) => `l/${i}.jpg`);
      await store.write('features/part-00000.parquet', encodeFeatures({ path: rows, label: rows.map(() => 'l'), dim: d, features: data }, meta));
      const task = (output: string) => ({
        kind: 'transform' as const,
        features: path.join(tmp.dir, 'features'),
        part: 'part-00000.parquet',
        pcaStore: path.join(tmp.dir, 'pca'),
        pcaFile: 'model.json',
        pcaSha256: written.sha256,
        output: path.join(tmp.dir, output),
        metadata: {},
        fingerprint: 'f',
        samplePoints: 0,
      });
      await transformPart(task('a'), createTaskContext({ threads: 1, device: 'cpu' }));
      // A model.onnx of another fit (its recorded model.json sha256 differs): not used.
      const other = await fitted('none', 5);
      await store.write('pca/model.onnx', portablePcaModel(other, 'f'.repeat(64)));
      await transformPart(task('b'), createTaskContext({ threads: 1, device: 'cpu' }));
      const a = await readPart(store, 'a/part-00000.parquet');
      const b = await readPart(store, 'b/part-00000.parquet');
      assert.deepEqual(a.features, b.features);
      assert.deepEqual(a.features, await project(m, data, n));
      // model.json changed under the run (and model.onnx names the old one): refused.
      await store.write('pca/model.json', serializePcaModel(other));
      await assert.rejects(transformPart(task('c'), createTaskContext({ threads: 1, device: 'cpu' })), /changed during the run/);
    } finally {
      await tmp.cleanup();
    }
  });
});
