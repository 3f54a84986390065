// `fruits fit` and `fruits transform` end to end on a small features dataset made with the real
// model (160 images of the mini Test set, 4 parts): the reduced parts and CSV as DuckDB reads
// them, checked against a projection computed here from model.json; models from another
// featurizer or dimension refused; bad flags and incomplete inputs as one error line with
// nothing written.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorLines, featurize, runCli, show, type CliResult } from './helpers/cli.js';
import * as ort from 'onnxruntime-node';
import { footerMetadata, lit, query, readCsv } from './helpers/duckdb.js';
import { onnxMetadata } from './helpers/onnx.js';
import { miniTestDir, SHARED_MODEL_SHA256, tempDir } from './helpers/paths.js';
import { sha256Hex } from '../src/util/hash.js';

const IMAGES = 160;
const PARTS = 4;
/** Parts this small are quicker in one worker process than in two starting up on a busy machine. */
const ONE_WORKER = ['--workers', '1'];

interface ModelJson {
  featurizer: { modelId: string; sha256: string };
  dim: number;
  k: number;
  scale: string;
  mean: number[];
  scaleFactors: number[];
  constantFeatures: number[];
  components: number[][];
  spectrumRatio: number[];
  [key: string]: unknown;
}

interface Row {
  path: string;
  label: string;
  features: number[];
}

function lastJson<T>(r: CliResult, what: string): T {
  assert.equal(r.code, 0, `${what} failed:\n${show(r)}`);
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;
  } catch {
    throw new Error(`${what} printed no JSON summary:\n${show(r)}`);
  }
}

/** A failed command: the exit code, and exactly one `fruits: error:` line matching `message`. */
function assertOneLineError(r: CliResult, code: number, message: RegExp): void {
  assert.equal(r.code, code, show(r));
  const lines = errorLines(r.stderr);
  assert.equal(lines.length, 1, `one error line:\n${show(r)}`);
  assert.match(lines[0], /^fruits: error: /);
  assert.match(lines[0], message);
  assert.equal(r.stdout, '');
}

async function rowsOf(file: string): Promise<Row[]> {
  return query<Row>(`SELECT path, label, features FROM read_parquet(${lit(file)})`);
}

async function parts(dir: string, ext = 'parquet'): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => n.startsWith('part-') && n.endsWith(`.${ext}`)).sort();
}

describe('fruits fit and fruits transform', { timeout: 15 * 60_000 }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let features: string;
  let pca: string;
  let model: ModelJson;
  let fitSummary: { pca: string; rows: number; dim: number; k: number; explainedVariance: number; scale: string };

  before(async () => {
    tmp = await tempDir('reduce');
    features = path.join(tmp.dir, 'features');
    pca = path.join(tmp.dir, 'pca');
    const s = await featurize([miniTestDir, features, '--limit', String(IMAGES), '--partition-size', String(IMAGES / PARTS)]);
    assert.equal(s.partitions, PARTS);
    fitSummary = lastJson(await runCli(['fit', features, pca, '--variance', '0.9', ...ONE_WORKER, '--json', '--quiet']), 'fruits fit');
    model = JSON.parse(await fs.readFile(path.join(pca, 'model.json'), 'utf8')) as ModelJson;
  });
  after(async () => {
    await tmp?.cleanup();
  });

  it('fit writes statistics and a model that keeps 90% of the variance', async () => {
    assert.ok(existsSync(path.join(pca, 'stats.bin')));
    assert.equal(fitSummary.rows, IMAGES);
    assert.equal(fitSummary.dim, 1280);
    assert.equal(fitSummary.scale, 'standard');
    assert.equal(fitSummary.pca, path.join(pca, 'model.json'));
    assert.equal(model.k, fitSummary.k);
    assert.deepEqual(model.featurizer, { modelId: 'mobilenet_v2_1.0_224', sha256: SHARED_MODEL_SHA256 });
    // 160 rows span at most 159 directions: k is below that, and the smallest reaching 0.9.
    assert.ok(model.k > 1 && model.k < IMAGES - 1, `k = ${model.k}`);
    const cum = (n: number) => model.spectrumRatio.slice(0, n).reduce((s, x) => s + x, 0);
    assert.ok(cum(model.k) >= 0.9 && cum(model.k - 1) < 0.9);
    assert.ok(Math.abs(fitSummary.explainedVariance - cum(model.k)) < 1e-12);
  });

  it('fit also writes model.onnx, which onnxruntime runs to transform\'s scores; a rerun restores a missing one', async () => {
    const onnxFile = path.join(pca, 'model.onnx');
    const bytes = await fs.readFile(onnxFile);
    const jsonBytes = await fs.readFile(path.join(pca, 'model.json'));
    const meta = onnxMetadata(bytes);
    assert.deepEqual(
      { id: meta['fruits.model_id'], sha: meta['fruits.model_sha256'], k: meta['fruits.pca.k'], scale: meta['fruits.pca.scale'], json: meta['fruits.pca_sha256'] },
      { id: 'mobilenet_v2_1.0_224', sha: SHARED_MODEL_SHA256, k: String(model.k), scale: 'standard', json: sha256Hex(jsonBytes) },
    );
    const reduced = path.join(tmp.dir, 'reduced-for-onnx');
    lastJson(await runCli(['transform', '--pca', pca, features, reduced, ...ONE_WORKER, '--json', '--quiet']), 'fruits transform');
    const session = await ort.InferenceSession.create(onnxFile);
    let worst = 0;
    for (const part of await parts(features)) {
      const [input, output] = await Promise.all([rowsOf(path.join(features, part)), rowsOf(path.join(reduced, part))]);
      const x = Float32Array.from(input.flatMap((r) => r.features));
      const got = (await session.run({ features: new ort.Tensor('float32', x, [input.length, model.dim]) })).components as ort.Tensor;
      assert.deepEqual(got.dims, [input.length, model.k]);
      const z = got.data as Float32Array;
      output.forEach((row, i) => row.features.forEach((want, c) => (worst = Math.max(worst, Math.abs(z[i * model.k + c] - want) / (1 + Math.abs(want))))));
    }
    await session.release();
    assert.ok(worst <= 1e-4, `model.onnx vs transform: largest difference ${worst}`);

    // An output from before model.onnx: the rerun refits (same bytes) and writes it.
    await fs.rm(onnxFile);
    lastJson(await runCli(['fit', features, pca, '--variance', '0.9', ...ONE_WORKER, '--json', '--quiet']), 'fruits fit rerun');
    assert.deepEqual(await fs.readFile(onnxFile), bytes, 'model.onnx written again, identical');
    assert.deepEqual(await fs.readFile(path.join(pca, 'model.json')), jsonBytes, 'model.json unchanged');
  });

  it('transform writes reduced parts and CSV: the features rows, projected as model.json says', async () => {
    const reduced = path.join(tmp.dir, 'reduced');
    const csv = path.join(tmp.dir, 'reduced-csv');
    const s = lastJson<{ rows: number; parts: number; resumedParts: number; k: number }>(
      await runCli(['transform', '--pca', pca, features, reduced, '--csv', csv, ...ONE_WORKER, '--json', '--quiet']),
      'fruits transform',
    );
    assert.deepEqual({ rows: s.rows, parts: s.parts, resumedParts: s.resumedParts, k: s.k }, { rows: IMAGES, parts: PARTS, resumedParts: 0, k: model.k });
    assert.ok(existsSync(path.join(reduced, '_SUCCESS')));
    assert.ok(existsSync(path.join(csv, '_SUCCESS')));
    assert.deepEqual(await parts(reduced), await parts(features), 'one reduced part per features part');
    assert.deepEqual(await parts(csv, 'csv'), (await parts(features)).map((n) => n.replace('.parquet', '.csv')));

    const k = model.k;
    const d = model.dim;
    let worst = 0;
    for (const part of await parts(features)) {
      const [input, output] = await Promise.all([rowsOf(path.join(features, part)), rowsOf(path.join(reduced, part))]);
      // Same rows, same order, k values each.
      assert.deepEqual(output.map((r) => [r.path, r.label]), input.map((r) => [r.path, r.label]), part);
      assert.ok(output.every((r) => r.features.length === k), `${part}: ${k} values per row`);

      // The projection, computed here in float64: ((x − mean) / scale) · component.
      input.forEach((row, i) => {
        const z = row.features.map((x, j) => (x - model.mean[j]) / model.scaleFactors[j]);
        for (let c = 0; c < k; c++) {
          let want = 0;
          for (let j = 0; j < d; j++) want += model.components[c][j] * z[j];
          const got = output[i].features[c];
          worst = Math.max(worst, Math.abs(got - want) / (1 + Math.abs(want)));
          assert.ok(Math.abs(got - want) <= 1e-4 * (1 + Math.abs(want)), `${row.path} pc_${c + 1}: ${got} vs ${want}`);
        }
      });

      // The footer says what the vectors are.
      const meta = await footerMetadata(path.join(reduced, part));
      assert.equal(meta['fruits.feature_dim'], String(k));
      assert.equal(meta['fruits.model_sha256'], SHARED_MODEL_SHA256);

      // The CSV: header path,label,pc_1..pc_k and the Parquet's numbers to float32 precision.
      const csvRows = await readCsv(path.join(csv, part.replace('.parquet', '.csv')));
      assert.deepEqual(Object.keys(csvRows[0]), ['path', 'label', ...Array.from({ length: k }, (_, c) => `pc_${c + 1}`)]);
      assert.equal(csvRows.length, output.length);
      csvRows.forEach((r, i) => {
        assert.equal(r.path, output[i].path);
        assert.equal(r.label, output[i].label);
        for (let c = 0; c < k; c++) {
          const printed = Number(r[`pc_${c + 1}`]);
          const stored = output[i].features[c];
          assert.ok(Math.abs(printed - stored) <= 2 ** -23 * Math.abs(stored), `${r.path} pc_${c + 1}: CSV ${printed} vs Parquet ${stored}`);
        }
      });
    }
    assert.ok(worst < 1e-4, `projection error ${worst}`);

    // Rerun: every part resumed.
    const again = lastJson<{ resumedParts: number; parts: number }>(
      await runCli(['transform', '--pca', path.join(pca, 'model.json'), features, reduced, '--csv', csv, ...ONE_WORKER, '--json', '--quiet']),
      'second transform',
    );
    assert.equal(again.resumedParts, PARTS);

    // A model file with other bytes is another model: refused over this output unless --overwrite.
    const other = path.join(tmp.dir, 'other-bytes.json');
    await fs.writeFile(other, `${await fs.readFile(path.join(pca, 'model.json'), 'utf8')}\n`);
    assertOneLineError(await runCli(['transform', '--pca', other, features, reduced, '--quiet']), 1, /another PCA model.*--overwrite/);
    const replaced = lastJson<{ resumedParts: number }>(
      await runCli(['transform', '--pca', other, features, reduced, '--overwrite', ...ONE_WORKER, '--json', '--quiet']),
      'transform --overwrite',
    );
    assert.equal(replaced.resumedParts, 0);
  });

  it('refuses a model from another featurizer or of another dimension, writing nothing', async () => {
    const base = JSON.parse(await fs.readFile(path.join(pca, 'model.json'), 'utf8')) as ModelJson;
    const otherWeights = { ...base, featurizer: { ...base.featurizer, sha256: 'f'.repeat(64) } };
    const D = 1000;
    const otherDim = {
      ...base,
      dim: D,
      mean: base.mean.slice(0, D),
      scaleFactors: base.scaleFactors.slice(0, D),
      constantFeatures: base.constantFeatures.filter((j) => j < D),
      components: base.components.map((row) => row.slice(0, D)),
      spectrumRatio: base.spectrumRatio.slice(0, D),
    };
    const cases: [string, ModelJson, RegExp][] = [
      ['other-weights.json', otherWeights, /incompatible with the PCA model.*weights sha256 a8961673f3c0… differ from the model's ffffffffffff…/],
      ['other-dim.json', otherDim, /incompatible with the PCA model.*feature dimension 1280 differs from the model's 1000/],
    ];
    for (const [name, json, message] of cases) {
      const file = path.join(tmp.dir, name);
      await fs.writeFile(file, JSON.stringify(json));
      const out = path.join(tmp.dir, `out-${name}`);
      const csv = path.join(tmp.dir, `csv-${name}`);
      assertOneLineError(await runCli(['transform', '--pca', file, features, out, '--csv', csv]), 1, message);
      assert.equal(existsSync(out), false, `${name}: nothing written to the output`);
      assert.equal(existsSync(csv), false, `${name}: nothing written to the CSV folder`);
    }
  });

  it('rejects bad PCA flags with one line and writes nothing', async () => {
    const out = path.join(tmp.dir, 'pca-bad');
    const cases: [string[], RegExp][] = [
      [['--k', '5', '--variance', '0.9'], /--k and --variance: give one or the other/],
      [['--variance', '1.5'], /--variance: invalid value '1\.5' \(expected a number in \(0, 1\]\)/],
      [['--k', '0'], /--k: invalid value '0' \(expected a whole number of at least 1\)/],
      [['--scale', 'foo'], /--scale: invalid value 'foo' \(expected standard, minmax or none\)/],
    ];
    for (const [flags, message] of cases) {
      assertOneLineError(await runCli(['fit', features, out, ...flags]), 2, message);
      assert.equal(existsSync(out), false, `${flags.join(' ')}: nothing written`);
    }
    // More components than features: known from the dataset before any statistics are made.
    assertOneLineError(await runCli(['fit', features, out, '--k', '2000']), 1, /--k 2000 is more than the feature dimension 1280/);
    assert.equal(existsSync(out), false);
  });

  it('fit and transform refuse an incomplete features dataset', async () => {
    const incomplete = path.join(tmp.dir, 'features-incomplete');
    await fs.cp(features, incomplete, { recursive: true });
    await fs.rm(path.join(incomplete, '_SUCCESS'));
    const out = path.join(tmp.dir, 'pca-incomplete');
    assertOneLineError(await runCli(['fit', incomplete, out]), 1, /the features dataset is not complete \(no _SUCCESS\)/);
    assert.equal(existsSync(out), false);
    // transform refuses it too, before writing anything.
    const reduced = path.join(tmp.dir, 'reduced-incomplete');
    assertOneLineError(await runCli(['transform', '--pca', pca, incomplete, reduced]), 1, /not complete/);
    assert.equal(existsSync(reduced), false);
  });
});
