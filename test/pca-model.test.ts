// The PCA model file (JSON): exact round trip, readable from Python, clear errors for malformed
// or future files, the featurizer compatibility guard, and projection input checks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fitPca } from '../src/pca/fit.js';
import { checkCompatible, IncompatibleFeaturesError, parsePcaModel, PcaModelError, serializePcaModel, type PcaModel } from '../src/pca/model.js';
import { project } from '../src/pca/project.js';
import { NonFiniteFeatureError, statsOfRows } from '../src/stats/index.js';
import { loadData, loadGolden } from './fixtures/pca/fixtures.js';

const featurizer = { modelId: 'mobilenet_v2_1.0_224', sha256: '5a'.repeat(32) };
const golden = loadGolden();
const data = loadData();

let cached: PcaModel | undefined;
async function model(): Promise<PcaModel> {
  cached ??= await fitPca(await statsOfRows(data, golden.n, golden.d), { scale: 'standard', components: { variance: 0.95 }, featurizer });
  return cached;
}

function edited(m: PcaModel, edit: (json: Record<string, unknown>) => void): string {
  const json = JSON.parse(serializePcaModel(m)) as Record<string, unknown>;
  edit(json);
  return JSON.stringify(json);
}

describe('PCA model file', () => {
  test('round-trips exactly', async () => {
    const m = await model();
    const back = parsePcaModel(serializePcaModel(m));
    assert.deepEqual(back, m);
  });

  test('is plain JSON that Python reads (components as k rows of d numbers)', async (t) => {
    const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import json'], { stdio: 'ignore' }).status === 0);
    if (!python) return t.skip('no python3');
    const m = await model();
    const dir = mkdtempSync(join(tmpdir(), 'pca-model-'));
    try {
      const file = join(dir, 'pca.json');
      writeFileSync(file, serializePcaModel(m));
      const script = 'import json,sys; m=json.load(open(sys.argv[1])); c=m["components"]; print(m["k"], len(c), len(c[0]), m["scale"], m["featurizer"]["modelId"], repr(c[0][0]))';
      const r = spawnSync(python, ['-c', script, file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), `${m.k} ${m.k} ${m.dim} standard mobilenet_v2_1.0_224 ${m.components[0]}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('rejects malformed, foreign and future files with a clear message', async () => {
    const m = await model();
    const cases: [string, RegExp][] = [
      ['{"format": "fruits-pca", ', /pca\.json: not valid JSON/],
      ['[1, 2]', /not a JSON object/],
      [edited(m, (j) => (j.format = 'sklearn')), /not a fruits PCA model \(format is "sklearn"/],
      [edited(m, (j) => (j.version = 2)), /unsupported PCA model version 2 \(this build reads version 1\)/],
      [edited(m, (j) => delete j.mean), /mean/],
      [edited(m, (j) => (j.scale = 'robust')), /scale/],
      [edited(m, (j) => ((j.featurizer as { sha256: string }).sha256 = 'xyz')), /sha256/],
      [edited(m, (j) => (j.eigenvalues as number[])[0] = -1), /eigenvalues/],
      [edited(m, (j) => (j.components as number[][])[1].pop()), /components\[1\] has 39 values, expected 40/],
      [edited(m, (j) => (j.k = (j.k as number) + 1)), /components has \d+ values, expected \d+/],
      [edited(m, (j) => (j.mean as unknown[])[3] = 'x'), /mean/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parsePcaModel(text, 'pca.json'),
        (e: unknown) => e instanceof PcaModelError && e.message.startsWith('pca.json: ') && !e.message.includes('\n') && message.test(e.message),
        `expected ${message}`,
      );
    }
  });
});

describe('checkCompatible', () => {
  test('accepts features from the same featurizer and dimension', async () => {
    const m = await model();
    checkCompatible(m, { ...featurizer, dim: golden.d });
  });

  test('refuses another network, other weights or another dimension, saying which', async () => {
    const m = await model();
    const cases: [Parameters<typeof checkCompatible>[1], RegExp][] = [
      [{ ...featurizer, modelId: 'resnet50', dim: golden.d }, /featurizer "resnet50" differs from the model's "mobilenet_v2_1.0_224"/],
      [{ ...featurizer, sha256: 'b'.repeat(64), dim: golden.d }, /weights sha256 bbbbbbbbbbbb… differ from the model's 5a5a5a5a5a5a…/],
      [{ ...featurizer, dim: 1280 }, /feature dimension 1280 differs from the model's 40/],
    ];
    for (const [features, message] of cases) {
      assert.throws(() => checkCompatible(m, features), (e: unknown) => e instanceof IncompatibleFeaturesError && message.test(e.message));
    }
  });
});

describe('project', () => {
  test('agrees with the float64 formula ((x − mean) / scale) · componentsᵀ to float32 precision', async () => {
    const m = await model();
    const rows = 7;
    const scores = await project(m, data.subarray(0, rows * m.dim), rows);
    assert.equal(scores.length, rows * m.k);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < m.k; c++) {
        let acc = 0;
        for (let j = 0; j < m.dim; j++) acc += ((data[r * m.dim + j] - m.mean[j]) / m.scaleFactors[j]) * m.components[c * m.dim + j];
        // A float32 GEMM over the centred rows: ~1e-6 of the scores' scale (not bit-equal to the float64 sum).
        assert.ok(Math.abs(scores[r * m.k + c] - acc) <= 1e-5 * (1 + Math.abs(acc)), `row ${r} component ${c}: ${scores[r * m.k + c]} vs ${acc}`);
      }
    }
  });

  test('names a non-finite row, and checks the input length', async () => {
    const m = await model();
    const rows = data.slice(0, 3 * m.dim);
    rows[2 * m.dim + 4] = NaN;
    await assert.rejects(project(m, rows, 3, 500, (i) => `Kiwi/${i}.jpg`), (e: unknown) => {
      return e instanceof NonFiniteFeatureError && e.rowIndex === 502 && /row 502 \(Kiwi\/502\.jpg\) at feature 4/.test(e.message);
    });
    await assert.rejects(project(m, rows, 2), /expected 2 rows × 40 features = 80 values, got 120/);
    assert.equal((await project(m, new Float32Array(0), 0)).length, 0);
  });
});
