// Recognition on PCA-reduced features: a PCA fitted by `fruits fit`, datasets reduced by
// `fruits transform`, bundles trained on the reduced rows or with `--pca model.json`, and the
// guard that refuses rows reduced by another PCA model (or raw rows for a raw bundle).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import { errorLines, runCli, show } from './helpers/cli.js';
import { miniFeatures, trainBundle, type MiniFeatures } from './classify-fixtures.js';

const K = 64;
const FLOOR_TOP1 = 0.86; // measured ~90.5 % with 1,190 training images

async function cli(args: string[]): Promise<void> {
  // One worker: these datasets are small, and each extra worker process costs a model-free but
  // still sizeable start-up.
  const r = await runCli([...args, '--quiet', '--workers', '1']);
  assert.equal(r.code, 0, show(r));
}

async function top1(args: string[]): Promise<number> {
  const r = await runCli(['evaluate', ...args, '--json', '--no-report']);
  assert.equal(r.code, 0, show(r));
  return (JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { accuracy: { top1: number } }).accuracy.top1;
}

describe('bundles with a PCA from fruits fit / transform', () => {
  let data: MiniFeatures;
  let dir: string;
  const at = (name: string) => path.join(dir, name);

  before(async () => {
    data = await miniFeatures();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-classify-pca-'));
    await cli(['fit', data.train, at('pca'), '--k', String(K)]);
    await cli(['transform', data.train, at('reduced-train'), '--pca', at('pca/model.json')]);
    await cli(['transform', data.test, at('reduced-test'), '--pca', at('pca/model.json')]);
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('trained on a reduced dataset: the bundle carries that exact PCA model', async () => {
    const s = await trainBundle(at('reduced-train'), at('bundle-reduced'), ['--holdout', '0']);
    assert.deepEqual([s.datasetKind, s.inputDim, (s.pca as { source: string }).source], ['reduced', K, 'dataset']);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    assert.equal(sha(await fs.readFile(at('bundle-reduced/pca.json'))), sha(await fs.readFile(at('pca/model.json'))));
    // Reduced Test rows and raw Test features (projected by the bundle) give the same answer.
    const onReduced = await top1([at('bundle-reduced'), at('reduced-test')]);
    const onFeatures = await top1([at('bundle-reduced'), data.test]);
    assert.ok(onReduced >= FLOOR_TOP1, `top-1 ${onReduced}`);
    assert.equal(onFeatures, onReduced);
  });

  test('--pca model.json on raw features is the same model as training on the reduced rows', async () => {
    const s = await trainBundle(data.train, at('bundle-pca-file'), ['--pca', at('pca/model.json'), '--holdout', '0']);
    assert.equal((s.pca as { source: string }).source, 'file');
    const sha = async (b: string) => (JSON.parse(await fs.readFile(path.join(b, 'bundle.json'), 'utf8')) as { weights: { sha256: string } }).weights.sha256;
    assert.equal(await sha(at('bundle-pca-file')), await sha(at('bundle-reduced')));
  });

  test('rows reduced by another PCA, or reduced rows for a raw bundle, are refused', async () => {
    await trainBundle(data.train, at('bundle-own-pca'), ['--pca-k', String(K), '--holdout', '0', '--max-iterations', '5']);
    const other = await runCli(['evaluate', at('bundle-own-pca'), at('reduced-test'), '--no-report']);
    assert.equal(other.code, 1, show(other));
    assert.deepEqual(errorLines(other.stderr).length, 1);
    assert.match(errorLines(other.stderr)[0], new RegExp(`includes its own PCA \\(k = ${K}, sha256 [0-9a-f]{12}…\\), but .*reduced-test was reduced with another PCA model`));

    await trainBundle(data.train, at('bundle-raw'), ['--holdout', '0', '--max-iterations', '5']);
    const raw = await runCli(['evaluate', at('bundle-raw'), at('reduced-test'), '--no-report']);
    assert.equal(raw.code, 1, show(raw));
    assert.match(errorLines(raw.stderr)[0], /takes raw features, but .*reduced-test holds PCA-reduced rows \(k = 64\); give it the features dataset instead$/);

    const both = await runCli(['train', data.train, at('x'), '--pca', at('pca/model.json'), '--pca-k', '10']);
    assert.equal(both.code, 1);
    assert.match(errorLines(both.stderr)[0], /--pca and --pca-k are alternatives/);
  });
});
