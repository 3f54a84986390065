// Recognition, unit level (no model, no photos): the optimiser, the classifiers' math, the
// metrics, the bundle format and its checks, the feature-space guard, the evaluation report and
// the server's micro-batcher.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BundleError, readBundle, writeBundle } from '../src/classify/bundle.js';
import { classifierScores, rankOf, topClasses } from '../src/classify/classifier.js';
import type { FeatureSpace, LabelledRows } from '../src/classify/dataset.js';
import { evaluateBundle } from '../src/classify/evaluate.js';
import { BundleMismatchError, checkFeatureSpace, scoreRows } from '../src/classify/inputs.js';
import { fitKnn, knnScores } from '../src/classify/knn.js';
import { minimizeLbfgs } from '../src/classify/lbfgs.js';
import { fitLogReg, logRegProbabilities } from '../src/classify/logreg.js';
import { accuracyOf, confusionOf } from '../src/classify/metrics.js';
import { evaluationChartSpecs, renderEvaluationHtml } from '../src/classify/report.js';
import { fitStandardizer, standardize } from '../src/classify/standardize.js';
import { holdoutSplit } from '../src/classify/train.js';
import { MOBILENET_V2_SHARED, MOBILENET_V2_ZOO } from '../src/model/registry.js';
import { MicroBatcher, QueueFullError } from '../src/serve/batcher.js';
import { gaussian, mulberry32 } from './helpers/random.js';
import { tinyContents } from './classify-fixtures.js';


/** n rows in `classes` Gaussian blobs of dimension dim (centres 3σ apart on random axes). */
function blobs(n: number, dim: number, classes: number, seed = 1): { x: Float32Array; y: Int32Array } {
  const rand = mulberry32(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, () => gaussian(rand) * 3));
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < dim; j++) x[i * dim + j] = centres[y[i]][j] + gaussian(rand);
  }
  return { x, y };
}

describe('L-BFGS', () => {
  test('minimises an ill-conditioned quadratic to its exact minimum', async () => {
    const scales = [1, 10, 100, 1000];
    const target = [3, -1, 0.5, 2];
    const r = await minimizeLbfgs(
      async (x) => {
        let value = 0;
        const gradient = new Float64Array(x.length);
        for (let i = 0; i < x.length; i++) {
          const d = x[i] - target[i];
          value += 0.5 * scales[i] * d * d;
          gradient[i] = scales[i] * d;
        }
        return { value, gradient };
      },
      new Float64Array(4),
      { maxIterations: 200, gradientTolerance: 1e-9, valueTolerance: 0 },
    );
    assert.equal(r.reason, 'gradient');
    r.x.forEach((v, i) => assert.ok(Math.abs(v - target[i]) < 1e-8, `x[${i}] = ${v}`));
  });

  test('finds the Rosenbrock minimum (non-convex, curved valley)', async () => {
    const r = await minimizeLbfgs(
      async ([a, b]) => ({
        value: (1 - a) ** 2 + 100 * (b - a * a) ** 2,
        gradient: Float64Array.from([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)]),
      }),
      Float64Array.from([-1.2, 1]),
      { maxIterations: 500, gradientTolerance: 1e-8, valueTolerance: 0 },
    );
    assert.ok(Math.abs(r.x[0] - 1) < 1e-5 && Math.abs(r.x[1] - 1) < 1e-5, `stopped at ${r.x} (${r.reason})`);
  });
});

describe('logistic regression', () => {
  test('the fit satisfies the optimality condition: (1/n)·Xᵀ(P − Y) + λW = 0, Σ(P − Y) = 0', async () => {
    const n = 300;
    const dim = 6;
    const classes = 4;
    const { x, y } = blobs(n, dim, classes, 7);
    const l2 = 0.05;
    const fit = await fitLogReg(x, y, n, dim, classes, { l2, maxIterations: 500, tolerance: 0 });
    const p = await logRegProbabilities(fit.model, x, n);
    let worst = 0;
    for (let c = 0; c < classes; c++) {
      let gb = 0;
      for (let i = 0; i < n; i++) gb += p[i * classes + c] - (y[i] === c ? 1 : 0);
      worst = Math.max(worst, Math.abs(gb / n));
      for (let j = 0; j < dim; j++) {
        let g = 0;
        for (let i = 0; i < n; i++) g += (p[i * classes + c] - (y[i] === c ? 1 : 0)) * x[i * dim + j];
        worst = Math.max(worst, Math.abs(g / n + l2 * fit.model.weights[c * dim + j]));
      }
    }
    assert.ok(worst < 1e-4, `largest gradient component ${worst}`);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < classes; c++) s += p[i * classes + c];
      assert.ok(Math.abs(s - 1) < 1e-5);
    }
  });

  test('separates well-separated classes, and a stronger penalty gives smaller weights', async () => {
    const { x, y } = blobs(200, 5, 3, 3);
    const weak = await fitLogReg(x, y, 200, 5, 3, { l2: 1e-4, maxIterations: 300, tolerance: 1e-9 });
    const strong = await fitLogReg(x, y, 200, 5, 3, { l2: 1, maxIterations: 300, tolerance: 1e-9 });
    assert.equal(accuracyOf(await logRegProbabilities(weak.model, x, 200), y, 3).top1, 1);
    const norm = (w: Float32Array) => Math.sqrt(w.reduce((a, v) => a + v * v, 0));
    assert.ok(norm(strong.model.weights) < norm(weak.model.weights) / 5);
  });

  test('is deterministic', async () => {
    const { x, y } = blobs(150, 4, 3, 11);
    const a = await fitLogReg(x, y, 150, 4, 3, { l2: 1e-3, maxIterations: 100, tolerance: 1e-9 });
    const b = await fitLogReg(x, y, 150, 4, 3, { l2: 1e-3, maxIterations: 100, tolerance: 1e-9 });
    assert.deepEqual(a.model.weights, b.model.weights);
  });
});

describe('k-NN (cosine)', () => {
  test('votes of the k most similar rows, weighted by similarity', async () => {
    // Training rows on the unit circle at 0°, 10°, 90°, 100°, 180°; classes 0, 0, 1, 1, 2.
    const deg = [0, 10, 90, 100, 180];
    const x = Float32Array.from(deg.flatMap((d) => [Math.cos((d * Math.PI) / 180) * 5, Math.sin((d * Math.PI) / 180) * 5]));
    const model = fitKnn(x, Int32Array.from([0, 0, 1, 1, 2]), 5, 2, 3, 2);
    const q = Float32Array.from([Math.cos(Math.PI / 36), Math.sin(Math.PI / 36), 0, 2]); // 5°, 90°
    const s = await knnScores(model, q, 2);
    assert.deepEqual(Array.from(s.subarray(0, 3)), [1, 0, 0]);
    assert.equal(topClasses(s, 1, 3, 1)[0].index, 1);
    assert.ok(Math.abs(s[3] + s[4] + s[5] - 1) < 1e-6);
  });
});

describe('ranking and metrics', () => {
  test('topClasses and rankOf agree, ties go to the lower index', () => {
    const s = Float32Array.from([0.1, 0.4, 0.4, 0.05, 0.05]);
    assert.deepEqual(
      topClasses(s, 0, 5, 3).map((r) => r.index),
      [1, 2, 0],
    );
    assert.equal(rankOf(s, 0, 5, 2), 1);
    assert.equal(rankOf(s, 0, 5, 4), 4);
  });

  test('confusion, per-class precision/recall and confused pairs on a hand-made case', () => {
    const labels = ['apple', 'banana', 'cherry'];
    // actual:    a a a b b c ;  predicted: a a b b b a
    const y = Int32Array.from([0, 0, 0, 1, 1, 2]);
    const pred = [0, 0, 1, 1, 1, 0];
    const scores = new Float32Array(18);
    pred.forEach((p, i) => (scores[i * 3 + p] = 0.9));
    const c = confusionOf(scores, y, labels);
    const byLabel = Object.fromEntries(c.perClass.map((m) => [m.label, m]));
    assert.deepEqual([byLabel.apple.precision, byLabel.apple.recall], [2 / 3, 2 / 3]);
    assert.deepEqual([byLabel.banana.precision, byLabel.banana.recall], [2 / 3, 1]);
    assert.deepEqual([byLabel.cherry.precision, byLabel.cherry.recall], [null, 0]);
    assert.deepEqual(
      c.pairs.map((p) => [p.actual, p.predicted, p.count]),
      [
        ['cherry', 'apple', 1],
        ['apple', 'banana', 1],
      ],
    );
    const a = accuracyOf(scores, y, 3);
    assert.equal(a.top1, 4 / 6);
    assert.equal(a.top5, 1);
  });
});

describe('training helpers', () => {
  test('the held-out slice is the tail of each class in path order, never a whole class', () => {
    const paths = ['b/3.jpg', 'a/1.jpg', 'a/3.jpg', 'a/2.jpg', 'b/1.jpg', 'c/only.jpg', 'b/2.jpg', 'a/4.jpg'];
    const labels = paths.map((p) => p.split('/')[0]);
    const data = { paths, labels } as unknown as LabelledRows;
    const { fit, held } = holdoutSplit(data, 0.25);
    assert.deepEqual(held.map((i) => paths[i]).sort(), ['a/4.jpg', 'b/3.jpg']);
    assert.equal(fit.length + held.length, paths.length);
    assert.ok(fit.map((i) => paths[i]).includes('c/only.jpg'));
  });

  test('standardisation modes', () => {
    const x = Float32Array.from([1, 10, 3, 30, 5, 50]); // 3 rows × 2
    const per = fitStandardizer(x, 3, 2, 'per-feature');
    const z = standardize(per, x, 3);
    assert.ok(Math.abs(z[0] + z[2] + z[4]) < 1e-6 && Math.abs(z[0] * z[0] + z[2] * z[2] + z[4] * z[4] - 3) < 1e-5);
    const uni = fitStandardizer(x, 3, 2, 'uniform');
    assert.equal(uni.scale[0], uni.scale[1]);
    const none = fitStandardizer(x, 3, 2, 'none');
    assert.deepEqual(standardize(none, x, 3), x);
  });
});

// --------------------------------------------------------------- bundles

const SHA_A = MOBILENET_V2_SHARED.sha256!;

function rowsOf(n: number, dim: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n * dim }, () => Math.max(0, gaussian(rand)));
}

describe('bundle', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-bundle-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const space = (over: Partial<FeatureSpace> = {}): FeatureSpace => ({ kind: 'features', featurizer: { id: MOBILENET_V2_SHARED.id, sha256: SHA_A }, dim: 1280, ...over });

  test('round trip: the same arrays, labels and scores', async () => {
    const contents = tinyContents();
    const out = path.join(dir, 'round-trip');
    await writeBundle(out, contents);
    assert.deepEqual((await fs.readdir(out)).sort(), ['bundle.json', 'weights.bin']);
    const b = await readBundle(out);
    assert.deepEqual(b.labels, contents.labels);
    assert.deepEqual(b.standardizer.mean, contents.standardizer.mean);
    const rows = rowsOf(4, 1280, 9);
    const expected = await classifierScores(contents.classifier, standardize(contents.standardizer, rows, 4), 4);
    assert.deepEqual(await scoreRows(b, space(), rows, 4, 'test rows'), expected);
  });

  test('a k-NN bundle round-trips too', async () => {
    const dim = 1280;
    const x = rowsOf(6, dim, 3);
    const knn = fitKnn(x, Int32Array.from([0, 1, 2, 0, 1, 2]), 6, dim, 3, 3);
    const contents = tinyContents({ classifier: knn, standardizer: { mode: 'none', mean: new Float64Array(dim), scale: new Float64Array(dim).fill(1) } });
    const out = path.join(dir, 'knn');
    await writeBundle(out, contents);
    const b = await readBundle(out);
    assert.equal(b.classifier.kind, 'knn');
    assert.deepEqual(await scoreRows(b, space(), x, 6, 'rows'), await knnScores(knn, x, 6));
  });

  test('an existing bundle is replaced only with overwrite; a foreign folder never', async () => {
    const out = path.join(dir, 'twice');
    await writeBundle(out, tinyContents());
    await assert.rejects(writeBundle(out, tinyContents()), /already holds a bundle; pass --overwrite/);
    await writeBundle(out, tinyContents({ labels: ['x', 'y', 'z'] }), { overwrite: true });
    assert.deepEqual((await readBundle(out)).labels, ['x', 'y', 'z']);
    const foreign = path.join(dir, 'foreign');
    await fs.mkdir(foreign);
    await fs.writeFile(path.join(foreign, 'notes.txt'), 'mine');
    await assert.rejects(writeBundle(foreign, tinyContents(), { overwrite: true }), /not empty and is not a fruits bundle/);
    assert.ok(existsSync(path.join(foreign, 'notes.txt')));
    assert.deepEqual(
      (await fs.readdir(dir)).filter((f) => f.includes('.tmp-')),
      [],
    );
  });

  test('damaged, unfinished, foreign or future bundles are refused with one clear message', async () => {
    const out = path.join(dir, 'damaged');
    await writeBundle(out, tinyContents());
    const weights = await fs.readFile(path.join(out, 'weights.bin'));
    weights[100] ^= 0xff;
    await fs.writeFile(path.join(out, 'weights.bin'), weights);
    await assert.rejects(readBundle(out), (e: Error) => e instanceof BundleError && /weights\.bin does not match its checksum/.test(e.message));

    const unfinished = path.join(dir, 'unfinished');
    await fs.mkdir(unfinished);
    await fs.writeFile(path.join(unfinished, 'weights.bin'), 'x');
    await assert.rejects(readBundle(unfinished), /not a fruits classifier bundle \(no bundle\.json/);
    await assert.rejects(readBundle(path.join(dir, 'missing')), /no such bundle/);

    const future = path.join(dir, 'future');
    await writeBundle(future, tinyContents());
    const manifest = JSON.parse(await fs.readFile(path.join(future, 'bundle.json'), 'utf8'));
    await fs.writeFile(path.join(future, 'bundle.json'), JSON.stringify({ ...manifest, formatVersion: 2 }));
    await assert.rejects(readBundle(future), /format version 2 is not supported/);
    await fs.writeFile(path.join(future, 'bundle.json'), JSON.stringify({ ...manifest, labels: ['only', 'two'] }));
    await assert.rejects(readBundle(future), /2 labels for 3 classes/);
  });

  test('the feature space is checked: other network, other weights, reduced rows', async () => {
    const out = path.join(dir, 'space');
    await writeBundle(out, tinyContents());
    const b = await readBundle(out);
    checkFeatureSpace(b, space(), 'ok rows');
    const zoo = space({ featurizer: { id: MOBILENET_V2_ZOO.id, sha256: MOBILENET_V2_ZOO.sha256! } });
    assert.throws(
      () => checkFeatureSpace(b, zoo, 'out/zoo-features'),
      (e: Error) => e instanceof BundleMismatchError && /trained on features of mobilenet_v2_1\.0_224 \(sha256 a8961673f3c0…\), but out\/zoo-features holds features of mobilenetv2-7 \(sha256 c1c513582d56…\)/.test(e.message),
    );
    const otherWeights = space({ featurizer: { id: MOBILENET_V2_SHARED.id, sha256: 'f'.repeat(64) } });
    assert.throws(() => checkFeatureSpace(b, otherWeights, 'x'), BundleMismatchError);
    const reduced = space({ kind: 'reduced', dim: 50, pcaSha256: 'e'.repeat(64) });
    assert.throws(() => checkFeatureSpace(b, reduced, 'out/reduced'), /takes raw features, but out\/reduced holds PCA-reduced rows/);
    assert.throws(() => checkFeatureSpace(b, space({ dim: 1000 }), 'x'), /expects 1280 features per row, x has 1000/);
  });
});

// --------------------------------------------------------------- evaluation report

describe('evaluation report', () => {
  test('self-contained page: escaped names, all charts compile without warnings, thumbnails inline', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-eval-'));
    try {
      const contents = tinyContents();
      await writeBundle(path.join(dir, 'b'), contents);
      const bundle = await readBundle(path.join(dir, 'b'));
      const n = 12;
      const rows = rowsOf(n, 1280, 21);
      const labels = Array.from({ length: n }, (_, i) => (i === n - 1 ? 'Tomato <Yellow>' : contents.labels[i % 3]));
      const data: LabelledRows = {
        location: '/data/test',
        space: { kind: 'features', featurizer: { id: MOBILENET_V2_SHARED.id, sha256: SHA_A }, dim: 1280 },
        n,
        rows,
        paths: labels.map((l, i) => `${l}/img ${i}.jpg`),
        labels,
      };
      const e = await evaluateBundle(bundle, data);
      assert.equal(e.rows, n - 1);
      assert.deepEqual(e.excluded, [{ label: 'Tomato <Yellow>', rows: 1 }]);
      assert.equal(e.confusion.cells.reduce((a, c) => a + c[2], 0), n - 1);
      assert.equal(e.mistakes.length, Math.round((1 - e.accuracy.top1) * (n - 1)));
      const { warnings } = evaluationChartSpecs(e);
      assert.deepEqual(warnings, []);
      const thumbs = new Map(e.mistakes.slice(0, 1).map((m) => [m.path, 'data:image/jpeg;base64,AAAA']));
      const html = renderEvaluationHtml(e, thumbs);
      assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
      assert.doesNotMatch(html, /<b>Red<\/b>|<Yellow>/);
      assert.match(html, /Apple &lt;b&gt;Red&lt;\/b&gt;/);
      assert.match(html, /Tomato &lt;Yellow&gt;<\/strong> \(1\)/);
      if (e.mistakes.length) assert.match(html, /src="data:image\/jpeg;base64,AAAA"/);
      assert.doesNotMatch(html, /(src|href)="https?:/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

// --------------------------------------------------------------- micro-batcher

describe('micro-batcher', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('gathers concurrent items into one call, up to maxBatch, within maxWaitMs', async () => {
    const calls: number[][] = [];
    const b = new MicroBatcher<number, number>(
      async (items) => {
        calls.push(items);
        await sleep(20);
        return items.map((i) => i * 10);
      },
      { maxBatch: 4, maxWaitMs: 30, maxQueue: 100 },
    );
    const pending = [1, 2, 3, 4, 5, 6].map((i) => b.submit(i));
    // The first batch was full: it started at once, without waiting for the timer.
    assert.deepEqual(calls, [[1, 2, 3, 4]]);
    const results = await Promise.all(pending);
    assert.deepEqual(
      results.map((r) => r.value),
      [10, 20, 30, 40, 50, 60],
    );
    assert.deepEqual(calls, [
      [1, 2, 3, 4],
      [5, 6],
    ]);
    assert.equal(results[0].batchSize, 4);
    assert.equal(results[5].batchSize, 2);
  });

  test('a lone item waits maxWaitMs for company, then goes alone', async () => {
    const b = new MicroBatcher<number, number>(async (items) => items, { maxBatch: 8, maxWaitMs: 15, maxQueue: 10 });
    const t = performance.now();
    const r = await b.submit(1);
    const waited = performance.now() - t;
    assert.equal(r.batchSize, 1);
    assert.ok(waited >= 14, `waited only ${waited} ms`);
  });

  test('a full queue refuses at once; a failed batch fails each of its items', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new MicroBatcher<number, number>(
      async (items) => {
        await gate;
        if (items.includes(99)) throw new Error('boom');
        return items;
      },
      { maxBatch: 1, maxWaitMs: 0, maxQueue: 2 },
    );
    const running = b.submit(1); // runs (blocked on the gate)
    const queued = [b.submit(2), b.submit(99)]; // wait in the queue
    await assert.rejects(b.submit(3), (e: Error) => e instanceof QueueFullError);
    release();
    assert.equal((await running).value, 1);
    assert.equal((await queued[0]).value, 2);
    await assert.rejects(queued[1], /boom/);
    await b.drain();
    assert.equal(b.queued, 0);
  });
});
