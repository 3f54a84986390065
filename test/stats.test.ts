// Merge-able feature statistics: exactness against a naive float64 computation, merge laws,
// batching, and the NaN/Inf error that names the offending row.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  accumulate,
  covariance,
  createStats,
  mergeAll,
  mergeStats,
  NonFiniteFeatureError,
  statsOfRows,
  type FeatureStats,
} from '../src/stats/index.js';
import { assertClose, maxAbs, seeded } from './fixtures/pca/fixtures.js';

function randomRows(n: number, d: number, seed: number, offset = 3): Float32Array {
  const rnd = seeded(seed);
  // Non-negative with a large common mean, like ReLU6 features; correlated through a shared term.
  const rows = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const shared = rnd();
    for (let j = 0; j < d; j++) rows[i * d + j] = offset + 2 * rnd() + (j % 3) * shared;
  }
  return rows;
}

/** Two-pass float64 reference. */
function naive(rows: Float32Array, n: number, d: number) {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += rows[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const m2 = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const xa = rows[i * d + a] - mean[a];
      for (let b = 0; b < d; b++) m2[a * d + b] += xa * (rows[i * d + b] - mean[b]);
    }
  }
  const min = new Float64Array(d).fill(Infinity);
  const max = new Float64Array(d).fill(-Infinity);
  for (let i = 0; i < n * d; i++) {
    min[i % d] = Math.min(min[i % d], rows[i]);
    max[i % d] = Math.max(max[i % d], rows[i]);
  }
  return { mean, m2, min, max };
}

function assertStatsClose(a: FeatureStats, b: FeatureStats, rtol: number, what: string): void {
  assert.equal(a.count, b.count, `${what}: count`);
  assertClose(a.mean, b.mean, rtol, 0, `${what}: mean`);
  assertClose(a.m2, b.m2, 0, rtol * maxAbs(b.m2), `${what}: m2`);
  assert.deepEqual(Array.from(a.min), Array.from(b.min), `${what}: min`);
  assert.deepEqual(Array.from(a.max), Array.from(b.max), `${what}: max`);
}

describe('statsOfRows', () => {
  test('matches a two-pass float64 computation', async () => {
    const n = 257;
    const d = 33;
    const rows = randomRows(n, d, 1);
    const s = await statsOfRows(rows, n, d);
    const ref = naive(rows, n, d);
    assert.equal(s.count, n);
    assertClose(s.mean, ref.mean, 1e-14, 0, 'mean');
    assertClose(s.m2, ref.m2, 0, 1e-13 * maxAbs(ref.m2), 'm2');
    assert.deepEqual(Array.from(s.min), Array.from(ref.min));
    assert.deepEqual(Array.from(s.max), Array.from(ref.max));
    // symmetric
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) assert.equal(s.m2[a * d + b], s.m2[b * d + a]);
  });

  test('feature bands of the cross-product (d > 240) are assembled in the right places', async () => {
    const n = 40;
    for (const [d, seed] of [[700, 2], [499, 5]]) {
      // 700: four bands of 175; 499: three of uneven sizes (167, 166, 166)
      const rows = randomRows(n, d, seed);
      const s = await statsOfRows(rows, n, d);
      const ref = naive(rows, n, d);
      assertClose(s.m2, ref.m2, 0, 1e-13 * maxAbs(ref.m2), `m2, d = ${d}`);
    }
  });

  test('small batches give the same statistics as one batch', async () => {
    const n = 103;
    const d = 17;
    const rows = randomRows(n, d, 3);
    const one = await statsOfRows(rows, n, d);
    const many = await statsOfRows(rows, n, d, { batchRows: 10 });
    assertStatsClose(many, one, 1e-13, 'batched');
  });

  test('stays accurate when the mean dwarfs the spread (centred, not raw sums)', async () => {
    const n = 500;
    const d = 4;
    const rnd = seeded(4);
    const rows = new Float32Array(n * d);
    for (let i = 0; i < rows.length; i++) rows[i] = 4096 + Math.round(rnd() * 1000) / 256; // exact in float32
    const ref = naive(rows, n, d);
    const s = await statsOfRows(rows, n, d, { batchRows: 37 });
    // Raw sums (Σx² − n·mean²) would be off by ~1e-6 here; the centred update is ~1e-13.
    assertClose(s.m2, ref.m2, 0, 1e-12 * maxAbs(ref.m2), 'm2 with mean 4096');
  });

  test('stays accurate when the first rows, which the products are shifted by, are far-off outliers', async () => {
    const n = 40000;
    const d = 2;
    const rnd = seeded(6);
    const rows = new Float32Array(n * d);
    // 16 rows near 1e4 first, then 39,984 rows spread ~1 around 0: the shift (the first rows' mean)
    // lands ~2,500 standard deviations from the overall mean, and the products are taken again.
    for (let i = 0; i < rows.length; i++) rows[i] = (i < 16 * d ? 1e4 : 0) + Math.round((rnd() - 0.5) * 1024) / 512;
    const ref = naive(rows, n, d);
    for (const batchRows of [n, 3001]) {
      const s = await statsOfRows(rows, n, d, { batchRows });
      assertClose(s.m2, ref.m2, 0, 1e-13 * maxAbs(ref.m2), `m2, batches of ${batchRows}`);
      assertClose(s.mean, ref.mean, 1e-14, 0, 'mean');
      assert.deepEqual([s.min[0], s.max[0]], [ref.min[0], ref.max[0]], 'min/max once, not twice');
    }
  });

  test('zero rows give empty statistics', async () => {
    const s = await statsOfRows(new Float32Array(0), 0, 5);
    assert.equal(s.count, 0);
    assert.equal(s.min[0], Infinity);
  });

  test('rejects a rows array of the wrong length', async () => {
    await assert.rejects(statsOfRows(new Float32Array(10), 3, 4), /expected 3 rows × 4 features = 12 values, got 10/);
  });
});

describe('mergeStats', () => {
  const d = 9;
  const rows = randomRows(90, d, 5);
  const part = (from: number, to: number) => statsOfRows(rows.subarray(from * d, to * d), to - from, d);

  test('stats(A ∪ B) = merge(stats(A), stats(B))', async () => {
    const whole = await part(0, 90);
    const merged = mergeStats(await part(0, 31), await part(31, 90));
    assertStatsClose(merged, whole, 1e-13, 'merged');
  });

  test('is associative, and a tree merge equals a sequential one', async () => {
    const parts = await Promise.all([part(0, 7), part(7, 20), part(20, 21), part(21, 60), part(60, 90)]);
    const left = parts.reduce((acc, p) => mergeStats(acc, p));
    const right = parts.reduceRight((acc, p) => mergeStats(p, acc));
    const tree = mergeAll(parts);
    const whole = await part(0, 90);
    assertStatsClose(left, whole, 1e-13, 'left fold');
    assertStatsClose(right, whole, 1e-13, 'right fold');
    assertStatsClose(tree, whole, 1e-13, 'tree');
  });

  test('leaves its inputs untouched and treats empty statistics as identity', async () => {
    const a = await part(0, 30);
    const before = a.m2.slice();
    const merged = mergeStats(a, createStats(d));
    assertStatsClose(merged, a, 0, 'a + empty');
    assertStatsClose(mergeStats(createStats(d), a), a, 0, 'empty + a');
    mergeStats(a, await part(30, 90));
    assert.deepEqual(a.m2, before);
    assert.equal(a.count, 30);
  });

  test('refuses statistics of different dimensions', () => {
    assert.throws(() => mergeStats(createStats(3), createStats(4)), /dimension 4 into dimension 3/);
  });
});

describe('accumulate', () => {
  test('adds rows in place, equal to statistics of all rows', async () => {
    const d = 6;
    const rows = randomRows(50, d, 6);
    const s = createStats(d);
    await accumulate(s, rows.subarray(0, 20 * d), 20, 0);
    await accumulate(s, rows.subarray(20 * d), 30, 20);
    assertStatsClose(s, await statsOfRows(rows, 50, d), 1e-13, 'accumulated');
  });

  test('a NaN names the first offending row by global index and label, and changes nothing', async () => {
    const d = 4;
    const s = await statsOfRows(randomRows(10, d, 7), 10, d);
    const before = { count: s.count, m2: s.m2.slice(), mean: s.mean.slice() };
    const bad = randomRows(8, d, 8);
    bad[5 * d + 2] = NaN;
    bad[6 * d + 1] = Infinity;
    const names = (i: number) => `Apple/img_${i}.jpg`;
    await assert.rejects(accumulate(s, bad, 8, 1000, names), (e: unknown) => {
      assert.ok(e instanceof NonFiniteFeatureError);
      assert.equal(e.rowIndex, 1005);
      assert.equal(e.rowName, 'Apple/img_1005.jpg');
      assert.equal(e.feature, 2);
      assert.match(e.message, /non-finite feature value NaN in row 1005 \(Apple\/img_1005\.jpg\) at feature 2/);
      return true;
    });
    assert.equal(s.count, before.count);
    assert.deepEqual(s.m2, before.m2);
    assert.deepEqual(s.mean, before.mean);
  });

  test('±Infinity is rejected too, with the index when no names are given', async () => {
    const rows = new Float32Array(12).fill(1);
    rows[7] = -Infinity;
    await assert.rejects(statsOfRows(rows, 4, 3, { firstRowIndex: 40 }), /value -Infinity in row 42 at feature 1$/);
  });
});

test('covariance divides by n − 1 and needs two rows', async () => {
  const rows = Float32Array.from([1, 10, 3, 14, 5, 12]); // 3 rows × 2
  const s = await statsOfRows(rows, 3, 2);
  // var(1,3,5) = 4, var(10,14,12) = 4, cov = 2
  assertClose(covariance(s), [4, 2, 2, 4], 1e-15, 0, 'covariance');
  await assert.rejects(async () => covariance(await statsOfRows(rows.subarray(0, 2), 1, 2)), /at least 2 rows/);
});
