// `--input-size`: the network runs at n×n (its spatial input dims made symbolic by the graph
// edit), the features differ from 224's and are deterministic, and datasets of different sizes
// never mix: featurize/run updates, fit, transform, train and evaluate each refuse in one line.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { featurizerModel, withFeatureOutput } from '../src/model/graph-edit.js';
import { MOBILENET_V2_SHARED } from '../src/model/registry.js';
import { withInputSize, type ModelSpec } from '../src/model/spec.js';
import { decodeModel } from '../src/onnx/proto.js';
import { errorLines, featurize, runCli, show, type CliResult } from './helpers/cli.js';
import { readRows, type PartRow } from './helpers/datasets.js';
import { linkSubset, miniTestClasses, sharedModelPath, tempDir } from './helpers/paths.js';

const floats = (r: PartRow) => new Float32Array(r.features.buffer, r.features.byteOffset, r.features.byteLength / 4);

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** Exit 1 and exactly one error line matching `pattern`. */
function assertRefused(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, show(r));
  const lines = errorLines(r.stderr);
  assert.equal(lines.length, 1, show(r));
  assert.match(lines[0], pattern);
}

describe('the graph edit at another input size', () => {
  it('makes the network input dims symbolic only when the size differs from the declared one', async () => {
    const bytes = await fs.readFile(sharedModelPath);
    const inputDims = (spec: ModelSpec) => {
      const input = decodeModel(withFeatureOutput(bytes, 'features', spec)).graph!.input.find((i) => i.name === spec.input.name)!;
      const type = input.type!.value;
      assert.equal(type.case, 'tensorType');
      return type.value!.shape!.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.value));
    };
    assert.deepEqual(inputDims(MOBILENET_V2_SHARED), ['batch', 3, 224, 224]);
    assert.deepEqual(inputDims(withInputSize(MOBILENET_V2_SHARED, 128)), ['batch', 3, 'height', 'width']);
    const tail = (spec: ModelSpec) => decodeModel(featurizerModel(bytes, spec).bytes).graph!.initializer.find((t) => t.name === 'fruits_pp_tail')!.int64Data.map(Number);
    assert.deepEqual(tail(MOBILENET_V2_SHARED), [3, 224, 224], 'the spliced resize targets the declared size…');
    assert.deepEqual(tail(withInputSize(MOBILENET_V2_SHARED, 128)), [3, 128, 128], '…or n×n');
    assert.equal(withInputSize(MOBILENET_V2_SHARED, 224), MOBILENET_V2_SHARED, 'the declared size keeps the spec (and its id)');
    assert.equal(withInputSize(MOBILENET_V2_SHARED, 128).id, 'mobilenet_v2_1.0_224@128');
  });
});

describe('fruits featurize --input-size on real photos', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  const at = (name: string) => path.join(tmp.dir, name);
  let rows224: PartRow[];
  let rows128: PartRow[];

  before(async () => {
    tmp = await tempDir('input-size');
    const classes = (await miniTestClasses()).slice(0, 4);
    await linkSubset(at('photos'), classes, 4);
    const common = ['--workers', '1', '--batch-size', '8'];
    await featurize([at('photos'), at('f224'), ...common]);
    await featurize([at('photos'), at('f128'), '--input-size', '128', ...common]);
    await featurize([at('photos'), at('f128-again'), '--input-size', '128', ...common]);
    rows224 = await readRows(at('f224'));
    rows128 = await readRows(at('f128'));
  });
  after(() => tmp.cleanup());

  it('records the size in the manifest: the spec runs at 128×128 under the id <model>@128', async () => {
    const m = JSON.parse(await fs.readFile(at('f128/_manifest.json'), 'utf8'));
    assert.equal(m.config.model.id, 'mobilenet_v2_1.0_224@128');
    assert.deepEqual([m.config.model.spec.input.width, m.config.model.spec.input.height], [128, 128]);
    assert.match(m.config.preprocessing.resize, /to 128×128/);
    const m224 = JSON.parse(await fs.readFile(at('f224/_manifest.json'), 'utf8'));
    assert.equal(m224.config.model.id, 'mobilenet_v2_1.0_224');
  });

  it('gives features that differ from 224\'s yet describe the same photos, and are deterministic', async () => {
    assert.equal(rows128.length, 16);
    assert.deepEqual(rows128.map((r) => r.path), rows224.map((r) => r.path));
    let maxDiff = 0;
    const cosines: number[] = [];
    rows128.forEach((r, i) => {
      const a = floats(r);
      const b = floats(rows224[i]);
      assert.equal(a.length, 1280);
      for (let j = 0; j < a.length; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j] - b[j]));
      cosines.push(cosine(a, b));
    });
    assert.ok(maxDiff > 0.1, `features at 128 differ from 224's (max difference ${maxDiff})`);
    assert.ok(Math.max(...cosines) < 0.999, `not the same features (cosines ${cosines.map((c) => c.toFixed(4)).join(' ')})`);
    // Same network, other scale: still clearly related (same photo) rather than noise.
    assert.ok(Math.min(...cosines) > 0.5, `the same photo at another size (cosines ${cosines.map((c) => c.toFixed(4)).join(' ')})`);
    const again = await readRows(at('f128-again'));
    assert.deepEqual(again.map((r) => r.features), rows128.map((r) => r.features), 'bit-identical on a second run');
  });

  it('refuses to update a dataset of another input size (and leaves it as it was)', async () => {
    const before = await fs.readFile(at('f128/_manifest.json'));
    const r = await runCli(['featurize', at('photos'), at('f128'), '--workers', '1', '--quiet']);
    assertRefused(r, /^fruits: error: output .*f128 holds a run with other settings \(input size 128×128 vs 224×224\); pass --overwrite/);
    assert.deepEqual(await fs.readFile(at('f128/_manifest.json')), before);
  });

  it('refuses to fit into a PCA folder fitted at another size, and to transform with it', async () => {
    const fit = await runCli(['fit', at('f224'), at('pca224'), '--k', '4', '--quiet', '--workers', '1']);
    assert.equal(fit.code, 0, show(fit));
    const model = await fs.readFile(at('pca224/model.json'));
    assertRefused(
      await runCli(['fit', at('f128'), at('pca224'), '--k', '4', '--quiet', '--workers', '1']),
      /^fruits: error: .*pca224 holds a PCA fitted on features of mobilenet_v2_1\.0_224 \(.*\), these are of mobilenet_v2_1\.0_224@128 .*; fit into another folder$/,
    );
    assert.deepEqual(await fs.readFile(at('pca224/model.json')), model, 'the fitted model is untouched');
    assertRefused(
      await runCli(['transform', '--pca', at('pca224'), at('f128'), at('reduced'), '--quiet', '--workers', '1']),
      /^fruits: error: .*features are incompatible with the PCA model .*featurizer "mobilenet_v2_1\.0_224@128" differs from the model's "mobilenet_v2_1\.0_224"/,
    );
  });

  it('refuses to train with a PCA of another size, and a bundle refuses features of another size', async () => {
    assertRefused(
      await runCli(['train', at('f128'), at('bundle-x'), '--pca', at('pca224/model.json'), '--holdout', '0', '--quiet']),
      /^fruits: error: .*model\.json: features are incompatible with the PCA model .*mobilenet_v2_1\.0_224@128/,
    );
    const train = await runCli(['train', at('f224'), at('bundle224'), '--holdout', '0', '--quiet']);
    assert.equal(train.code, 0, show(train));
    assertRefused(
      await runCli(['evaluate', at('bundle224'), at('f128'), '--no-report']),
      /^fruits: error: bundle .* was trained on features of mobilenet_v2_1\.0_224 .* holds features of mobilenet_v2_1\.0_224@128/,
    );
  });

  it('refuses a run update at another input size', async () => {
    const first = await runCli(['run', at('photos'), at('run'), '--k', '4', '--input-size', '96', '--workers', '1', '--quiet']);
    assert.equal(first.code, 0, show(first));
    assertRefused(
      await runCli(['run', at('photos'), at('run'), '--k', '4', '--workers', '1', '--quiet']),
      /holds a run with other settings \(input size 96×96 vs 224×224\)/,
    );
  });

  it('rejects sizes the network cannot pool (usage error, exit 2)', async () => {
    const r = await runCli(['featurize', at('photos'), at('never'), '--input-size', '16']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--input-size: invalid value '16' \(expected a whole number from 32 to 1024\)/);
    await assert.rejects(fs.stat(at('never')));
  });
});
