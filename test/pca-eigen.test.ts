// The symmetric eigensolver behind PCA: known spectra and vectors, repeated eigenvalues,
// rank deficiency, sizes that cross the 64-column panels, and the sign convention.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { symmetricEigen } from '../src/pca/symmetric-eigen.js';
import { assertClose, assertCloseUpToSign, seeded } from './fixtures/pca/fixtures.js';

/** A random orthogonal d×d matrix (columns), from Gram–Schmidt on random vectors. */
function randomOrthogonal(d: number, seed: number): Float64Array {
  const rnd = seeded(seed);
  const q = new Float64Array(d * d); // row-major, column c is q[i*d + c]
  for (let c = 0; c < d; c++) {
    const v = Float64Array.from({ length: d }, () => rnd() - 0.5);
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += v[i] * q[i * d + p];
        for (let i = 0; i < d; i++) v[i] -= dot * q[i * d + p];
      }
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < d; i++) q[i * d + c] = v[i] / norm;
  }
  return q;
}

/** A = Q·diag(λ)·Qᵀ. */
function withSpectrum(q: Float64Array, lambda: number[]): Float64Array {
  const d = lambda.length;
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let acc = 0;
      for (let c = 0; c < d; c++) acc += q[i * d + c] * lambda[c] * q[j * d + c];
      a[i * d + j] = acc;
      a[j * d + i] = acc;
    }
  }
  return a;
}

function checkDecomposition(a: Float64Array, d: number, values: Float64Array, vectors: Float64Array, k: number, tol: number) {
  const scale = Math.max(...Array.from(values, Math.abs));
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < d; i++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc += a[i * d + j] * vectors[c * d + j];
      const r = Math.abs(acc - values[c] * vectors[c * d + i]);
      assert.ok(r <= tol * scale, `residual of vector ${c} at ${i}: ${r}`);
    }
    for (let c2 = 0; c2 <= c; c2++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += vectors[c * d + i] * vectors[c2 * d + i];
      assert.ok(Math.abs(dot - (c === c2 ? 1 : 0)) <= tol, `vectors ${c}·${c2} = ${dot}`);
    }
  }
}

describe('symmetricEigen', () => {
  test('a diagonal matrix: sorted values and unit basis vectors with positive sign', async () => {
    const diag = [2, -1, 7, 0, 7, 3];
    const d = diag.length;
    const a = new Float64Array(d * d);
    diag.forEach((v, i) => (a[i * d + i] = v));
    const eig = await symmetricEigen(a, d);
    assert.deepEqual(Array.from(eig.values), [7, 7, 3, 2, 0, -1]);
    const v = await eig.vectors(3);
    const hot = (c: number) => Array.from(v.subarray(c * d, (c + 1) * d)).findIndex((x) => x === 1);
    assert.deepEqual([hot(0), hot(1)].sort(), [2, 4]);
    assert.equal(hot(2), 5);
    checkDecomposition(a, d, eig.values, v, 3, 1e-15);
  });

  test('recovers a known spectrum and eigenvectors across several panels (d = 150)', async () => {
    const d = 150;
    const lambda = Array.from({ length: d }, (_, i) => 100 / (1 + i) ** 1.5);
    const q = randomOrthogonal(d, 21);
    const a = withSpectrum(q, lambda);
    const eig = await symmetricEigen(a, d);
    assertClose(eig.values, lambda, 1e-11, 1e-13 * lambda[0], 'eigenvalues');
    const k = 40;
    const v = await eig.vectors(k);
    for (let c = 0; c < k; c++) {
      const expected = Array.from({ length: d }, (_, i) => q[i * d + c]);
      // Eigenvector error ~ ε·‖A‖ / gap.
      const gap = Math.min(lambda[c] - lambda[c + 1], c > 0 ? lambda[c - 1] - lambda[c] : Infinity);
      assertCloseUpToSign(v.subarray(c * d, (c + 1) * d), expected, 0, (1e-13 * lambda[0]) / gap, `vector ${c}`);
    }
    checkDecomposition(a, d, eig.values, v, k, 1e-13);
  });

  test('repeated eigenvalues get orthonormal vectors spanning the right subspace', async () => {
    const d = 90;
    const lambda = Array.from({ length: d }, (_, i) => (i < 5 ? 9 : i < 8 ? 4 : i < 40 ? 1 : 0));
    const q = randomOrthogonal(d, 22);
    const a = withSpectrum(q, lambda);
    const eig = await symmetricEigen(a, d);
    assertClose(eig.values, lambda, 0, 1e-13 * 9, 'eigenvalues');
    const v = await eig.vectors(45); // crosses into the zero eigenvalues (null space)
    checkDecomposition(a, d, eig.values, v, 45, 1e-12);
    // The first 5 vectors span the same space as Q's first 5 columns: ‖Q5ᵀ·v‖ = 1 for each.
    for (let c = 0; c < 5; c++) {
      let sq = 0;
      for (let p = 0; p < 5; p++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[i * d + p] * v[c * d + i];
        sq += dot * dot;
      }
      assert.ok(Math.abs(sq - 1) < 1e-12, `vector ${c} leaves the 9-eigenspace: ${sq}`);
    }
  });

  test('a rank-2 covariance of 3 rows × 80 features: a large cluster of round-off-sized eigenvalues', async () => {
    // The null space makes the tridiagonal matrix end in a block of ~1e-17 entries, where a purely
    // relative QL deflation test never converges.
    const d = 80;
    const rnd = seeded(25);
    const x = Array.from({ length: 3 }, () => Array.from({ length: d }, () => rnd() * 6));
    const mean = Array.from({ length: d }, (_, j) => (x[0][j] + x[1][j] + x[2][j]) / 3);
    const a = new Float64Array(d * d);
    for (const row of x) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a[i * d + j] += ((row[i] - mean[i]) * (row[j] - mean[j])) / 2;
    const eig = await symmetricEigen(a, d);
    assert.ok(eig.values[1] > 1e-3 * eig.values[0]);
    for (let i = 2; i < d; i++) assert.ok(Math.abs(eig.values[i]) < 1e-13 * eig.values[0], `eigenvalue ${i} = ${eig.values[i]}`);
    checkDecomposition(a, d, eig.values, await eig.vectors(d), d, 1e-12);
  });

  test('random dense matrix: residuals, orthonormality, trace', async () => {
    const d = 130;
    const rnd = seeded(23);
    const a = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) a[i * d + j] = a[j * d + i] = rnd() - 0.5;
    const eig = await symmetricEigen(a, d);
    const v = await eig.vectors(d);
    checkDecomposition(a, d, eig.values, v, d, 1e-12);
    let trace = 0;
    let sum = 0;
    for (let i = 0; i < d; i++) trace += a[i * d + i];
    for (const x of eig.values) sum += x;
    assert.ok(Math.abs(trace - sum) < 1e-12, `trace ${trace} vs Σλ ${sum}`);
    for (let i = 1; i < d; i++) assert.ok(eig.values[i] <= eig.values[i - 1]);
  });

  test('each vector has its largest-magnitude entry positive', async () => {
    const d = 12;
    const q = randomOrthogonal(d, 24);
    const eig = await symmetricEigen(withSpectrum(q, Array.from({ length: d }, (_, i) => d - i)), d);
    const v = await eig.vectors(d);
    for (let c = 0; c < d; c++) {
      const row = Array.from(v.subarray(c * d, (c + 1) * d));
      const big = row.reduce((b, x, i) => (Math.abs(x) > Math.abs(row[b]) ? i : b), 0);
      assert.ok(row[big] > 0, `vector ${c}`);
    }
  });

  test('tiny orders: 1×1 and 2×2', async () => {
    const one = await symmetricEigen(Float64Array.of(3.5), 1);
    assert.deepEqual(Array.from(one.values), [3.5]);
    assert.deepEqual(Array.from(await one.vectors(1)), [1]);
    const two = await symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
    assertClose(two.values, [3, 1], 1e-15, 0, '2×2 values');
    assertClose(await two.vectors(2), [Math.SQRT1_2, Math.SQRT1_2, Math.SQRT1_2, -Math.SQRT1_2], 0, 1e-15, '2×2 vectors');
  });

  test('rejects non-finite entries and impossible k', async () => {
    await assert.rejects(symmetricEigen(Float64Array.of(1, NaN, NaN, 1), 2), /entry \(0, 1\) is NaN/);
    const eig = await symmetricEigen(Float64Array.of(1, 0, 0, 1), 2);
    await assert.rejects(eig.vectors(3), /must be in 1…2/);
  });
});
