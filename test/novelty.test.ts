// Novelty, unit level (no model, no photos): the per-class distance against a direct computation,
// why per class (a point off a class's own directions), the threshold's calibration, and the
// bundle format: version 2 round-trips, version 1 data (pooled covariance only) still load and
// score with the pooled distance.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readBundle, writeBundle } from '../src/classify/bundle.js';
import { classDistances, fitClassGaussians, fitNovelty, noveltyFromBundle, noveltyManifest, noveltyManifestSchema, noveltyArrays, noveltyOf, packedSize, type NoveltyModel } from '../src/classify/novelty.js';
import { gaussian, mulberry32 } from './helpers/random.js';
import { tinyContents } from './classify-fixtures.js';

/** Two classes in 2-D, each long along its own axis: class 0 along x at (0, 0), class 1 along y at (20, 0). */
function crossedClasses(n: number, seed = 3): { z: Float32Array; y: Int32Array } {
  const rand = mulberry32(seed);
  const z = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    const long = gaussian(rand) * 3;
    const short = gaussian(rand) * 0.2;
    if (y[i] === 0) z.set([long, short], i * 2);
    else z.set([20 + short, long], i * 2);
  }
  return { z, y };
}

/** (z − μ)ᵀ Σ⁻¹ (z − μ) for a 2 × 2 Σ. */
function mahalanobis2(z: number[], mu: number[], s: number[]): number {
  const det = s[0] * s[3] - s[1] * s[2];
  const a = z[0] - mu[0];
  const b = z[1] - mu[1];
  return (s[3] * a * a - (s[1] + s[2]) * a * b + s[0] * b * b) / det;
}

describe('novelty', () => {
  test('per-class distance equals (z − μ_c)ᵀ Σ_c⁻¹ (z − μ_c) with Σ_c shrunk toward the pooled covariance', () => {
    const { z, y } = crossedClasses(400);
    const opts = { shrinkage: 0.05, pooledWeight: 0.3 };
    const g = fitClassGaussians(z, y, 2, 2, opts);
    assert.ok(g.classWhiten && g.classCentres);
    assert.equal(g.classWhiten.length, 2 * packedSize(2));
    // Direct: class means, scatters, pooled covariance, blend, ridge.
    const rows = (c: number) => Array.from({ length: 400 }, (_, i) => i).filter((i) => y[i] === c);
    const mean = (c: number) => [0, 1].map((j) => rows(c).reduce((a, i) => a + z[i * 2 + j], 0) / rows(c).length);
    const scatter = (c: number) => {
      const m = mean(c);
      const s = [0, 0, 0, 0];
      for (const i of rows(c)) for (const a of [0, 1]) for (const b of [0, 1]) s[a * 2 + b] += (z[i * 2 + a] - m[a]) * (z[i * 2 + b] - m[b]);
      return s;
    };
    const pooled = [0, 1, 2, 3].map((e) => (scatter(0)[e] + scatter(1)[e]) / (400 - 2));
    const sigma = (c: number) => {
      const own = scatter(c).map((v, e) => (1 - opts.pooledWeight) * (v / (rows(c).length - 1)) + opts.pooledWeight * pooled[e]);
      const ridge = opts.shrinkage * ((own[0] + own[3]) / 2);
      return [own[0] + ridge, own[1], own[2], own[3] + ridge];
    };
    const probes = [
      [0, 0],
      [3, 1],
      [20, 4],
      [10, 1],
      [-2, -0.5],
    ];
    const { distance, nearest } = classDistances(g, Float32Array.from(probes.flat()), probes.length);
    probes.forEach((p, i) => {
      const d = [0, 1].map((c) => mahalanobis2(p, mean(c), sigma(c)));
      const best = d[0] <= d[1] ? 0 : 1;
      assert.equal(nearest[i], best, `nearest class of ${p}`);
      assert.ok(Math.abs(distance[i] - Math.sqrt(d[best] / 2)) < 1e-3 * Math.sqrt(d[best] / 2) + 1e-5, `distance of ${p}: ${distance[i]} vs ${Math.sqrt(d[best] / 2)}`);
    });
  });

  test('a point near a class mean but off its own directions is far per class, near with the pooled covariance', () => {
    const { z, y } = crossedClasses(400);
    const perClass = fitClassGaussians(z, y, 2, 2, { shrinkage: 0.05, pooledWeight: 0.1 });
    const pooled = fitClassGaussians(z, y, 2, 2, { shrinkage: 0.05, pooledWeight: 1 });
    assert.equal(pooled.classWhiten, undefined, 'pooled only: version 1 data');
    // (0, 2): 2 along class 0's narrow axis (σ 0.2).
    const off = Float32Array.of(0, 2);
    // (4, 0): along class 0's long axis (σ 3): typical of it.
    const along = Float32Array.of(4, 0);
    const d = (g: typeof pooled, p: Float32Array) => classDistances(g, p, 1).distance[0];
    // Per class the off-axis point is the stranger; the pooled covariance (round, the classes' long
    // axes averaged) ranks them the other way round.
    assert.ok(d(perClass, off) > 1.5 * d(perClass, along), `per class: off ${d(perClass, off)}, along ${d(perClass, along)}`);
    assert.ok(d(pooled, off) < d(pooled, along), `pooled: off ${d(pooled, off)}, along ${d(pooled, along)}`);
  });

  /** A synthetic training set in raw-feature form (non-negative, as ReLU features), with a held-out slice. */
  function trainingSet(seed = 5, classes = 4, dim = 24) {
    const rand = mulberry32(seed);
    const perClass = 60;
    const n = classes * perClass;
    const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, () => 1 + 2 * rand()));
    const features = new Float32Array(n * dim);
    const y = new Int32Array(n);
    const paths: string[] = [];
    for (let i = 0; i < n; i++) {
      const c = Math.floor(i / perClass);
      y[i] = c;
      paths.push(`c${c}/${String(i % perClass).padStart(3, '0')}.jpg`);
      for (let j = 0; j < dim; j++) features[i * dim + j] = Math.max(0, centres[c][j] + 0.3 * gaussian(rand));
    }
    const held = Array.from({ length: n }, (_, i) => i).filter((i) => i % perClass >= perClass - 6);
    return { features, n, dim, y, classes, paths, held, heldTopScores: new Float32Array(held.length).fill(0.99) };
  }

  test('the threshold flags about the target share of held-out rows; far rows are unknown', async () => {
    const input = trainingSet();
    const m = await fitNovelty(input, { k: 8, targetRate: 0.05 });
    assert.equal(m.method, 'class-mahalanobis+doubt');
    assert.ok(m.calibration.heldOutRate <= 0.1, `held-out rate ${m.calibration.heldOutRate}`);
    // Rows of no class: uniform noise at the same scale.
    const rand = mulberry32(9);
    const far = Float32Array.from({ length: 10 * input.dim }, () => 3 * rand());
    const s = await noveltyOf(m, far, new Float32Array(10).fill(0.99), 10);
    assert.ok(s.unknown.filter(Boolean).length >= 9, `unknown ${s.unknown.filter(Boolean).length} of 10 rows of no class`);
  });

  test('bundle format: version 2 round-trips; version 1 data load and score with the pooled distance', async () => {
    const input = trainingSet();
    const m = await fitNovelty(input, { k: 8 });
    const arrays = noveltyArrays(m);
    const reader = (a: Record<string, Float32Array | Float64Array | Int32Array>) =>
      (<T extends Float32Array | Float64Array | Int32Array>(name: string, _dtype: string, length: number): T => {
        const v = a[name];
        if (!v || v.length !== length) throw new Error(`${name}: missing or of another length`);
        return v as T;
      }) as Parameters<typeof noveltyFromBundle>[2];
    const entry = noveltyManifestSchema.parse(JSON.parse(JSON.stringify(noveltyManifest(m))));
    assert.equal(entry.version, 2);
    const back = noveltyFromBundle(entry, input.classes, reader(arrays));
    const probe = input.features.subarray(0, 5 * input.dim);
    const top = new Float32Array(5).fill(0.9);
    assert.deepEqual((await noveltyOf(back, probe, top, 5)).novelty, (await noveltyOf(m, probe, top, 5)).novelty);

    // Version 1 as bundles trained before per-class covariances held it: no class factors.
    const { classWhiten: _w, classCentres: _c, pooledWeight: _p, ...rest } = m;
    const v1: NoveltyModel = { ...rest, method: 'unit-mahalanobis+doubt' };
    const v1Entry = noveltyManifestSchema.parse(JSON.parse(JSON.stringify(noveltyManifest(v1))));
    assert.equal(v1Entry.version, 1);
    const v1Arrays = noveltyArrays(v1);
    assert.ok(!('novelty.classWhiten' in v1Arrays));
    const v1Back = noveltyFromBundle(v1Entry, input.classes, reader(v1Arrays));
    const pooled = classDistances({ k: m.k, classes: m.classes, whiten: m.whiten, classMeans: m.classMeans }, (await noveltyOf(v1Back, probe, top, 5)).projected, 5);
    assert.deepEqual((await noveltyOf(v1Back, probe, top, 5)).distance, pooled.distance);
    // A version 2 entry without its class factors is refused, not scored as version 1.
    assert.throws(() => noveltyFromBundle(entry, input.classes, reader(v1Arrays)), /classWhiten/);
    // An unknown version is refused by the schema.
    assert.equal(noveltyManifestSchema.safeParse({ ...entry, version: 3 }).success, false);
  });

  test('bundles on disk: version 2 and version 1 novelty data load and score; a version 2 entry without its class factors is one clear refusal', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-novelty-'));
    try {
      const base = tinyContents();
      const input = trainingSet(7, base.labels.length, base.classifier.dim);
      const m = await fitNovelty(input, { k: 8 });
      const { classWhiten: _w, classCentres: _c, pooledWeight: _p, ...rest } = m;
      const v1: NoveltyModel = { ...rest, method: 'unit-mahalanobis+doubt' };
      const probe = input.features.subarray(0, 4 * input.dim);
      const top = new Float32Array(4).fill(0.8);
      for (const [name, model] of [['v2', m], ['v1', v1]] as const) {
        await writeBundle(path.join(dir, name), { ...base, novelty: model });
        const b = await readBundle(path.join(dir, name));
        assert.equal(b.manifest.novelty?.version, name === 'v2' ? 2 : 1);
        assert.deepEqual((await noveltyOf(b.novelty!, probe, top, 4)).novelty, (await noveltyOf(model, probe, top, 4)).novelty, name);
      }
      // A version 1 bundle whose entry claims version 2: its class factors are missing.
      const manifestPath = path.join(dir, 'v1', 'bundle.json');
      const manifest = JSON.parse(await fs.readFile(manifestPath, 'utf8')) as { novelty: Record<string, unknown> };
      manifest.novelty = { ...manifest.novelty, version: 2, method: 'class-mahalanobis+doubt', pooledWeight: 0.1 };
      await fs.writeFile(manifestPath, JSON.stringify(manifest));
      await assert.rejects(readBundle(path.join(dir, 'v1')), (err: Error) => /novelty\.classWhiten/.test(err.message) && !err.message.includes('\n'));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
