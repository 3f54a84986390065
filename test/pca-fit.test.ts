// PCA fit from merged statistics: golden values from scikit-learn for each scale mode, the
// component-count rules and their edge cases, constant and duplicate features.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fitPca, type FitOptions } from '../src/pca/fit.js';
import type { PcaModel } from '../src/pca/model.js';
import { project } from '../src/pca/project.js';
import { warmUpPca } from '../src/pca/warm-up.js';
import type { ScaleMode } from '../src/pca/scaling.js';
import { mergeStats, statsOfRows } from '../src/stats/index.js';
import { assertClose, assertCloseUpToSign, loadData, loadGolden } from './fixtures/pca/fixtures.js';

const featurizer = { modelId: 'mobilenet_v2_1.0_224', sha256: 'a'.repeat(64) };
const golden = loadGolden();
const data = loadData();
const { n, d } = golden;

async function fitRows(rows: Float32Array, rowCount: number, dim: number, opts: Omit<FitOptions, 'featurizer'>): Promise<PcaModel> {
  return fitPca(await statsOfRows(rows, rowCount, dim), { featurizer, ...opts });
}

function rowOf(m: PcaModel, c: number): Float64Array {
  return m.components.subarray(c * m.dim, (c + 1) * m.dim);
}

describe('fitPca against scikit-learn (svd_solver="full")', () => {
  for (const scale of ['none', 'standard', 'minmax'] as ScaleMode[]) {
    test(`scale=${scale}: eigenvalues, ratios, components, projections, k for thresholds`, async () => {
      const g = golden.scales[scale];
      // Fit from two partitions merged, as the pipeline does.
      const split = 123;
      const stats = mergeStats(await statsOfRows(data.subarray(0, split * d), split, d), await statsOfRows(data.subarray(split * d), n - split, d));
      const m = await fitPca(stats, { scale, components: { k: golden.k }, featurizer });
      const lambda1 = g.eigenvalues[0];
      assertClose(m.spectrumRatio, g.ratios, 1e-9, 1e-13, 'all explained-variance ratios');
      assertClose(m.eigenvalues, g.eigenvalues.slice(0, golden.k), 1e-9, 1e-13 * lambda1, 'eigenvalues');
      assertClose(m.explainedVarianceRatio, g.ratios.slice(0, golden.k), 1e-9, 0, 'ratios');
      assertClose([m.totalVariance], [g.totalVariance], 1e-12, 0, 'total variance');
      for (let c = 0; c < golden.k; c++) assertCloseUpToSign(rowOf(m, c), g.components[c], 0, 1e-8, `component ${c}`);

      const scores = await project(m, data.subarray(0, golden.projectedRows * d), golden.projectedRows);
      for (let c = 0; c < golden.k; c++) {
        const sign = Math.sign(rowOf(m, c).reduce((acc, x, i) => acc + x * g.components[c][i], 0));
        const ours = Array.from({ length: golden.projectedRows }, (_, r) => sign * scores[r * golden.k + c]);
        const theirs = g.projection.map((row) => row[c]);
        const scale0 = Math.max(...g.projection.map((row) => Math.abs(row[0])));
        assertClose(ours, theirs, 2e-6, 1e-6 * scale0, `projection on component ${c}`);
      }

      for (const [threshold, k] of Object.entries(g.kForVariance)) {
        const mv = await fitPca(stats, { scale, components: { variance: Number(threshold) }, featurizer });
        assert.equal(mv.k, k, `k for variance ${threshold}`);
      }
    });
  }

  test("a worker's warm-up running beside a fit (it shares the ORT sessions) changes nothing", async () => {
    const stats = await statsOfRows(data, n, d);
    const opts: FitOptions = { scale: 'standard', components: { k: golden.k }, featurizer };
    const alone = await fitPca(stats, opts);
    const [beside] = await Promise.all([fitPca(stats, opts), warmUpPca(d), warmUpPca(d)]);
    assert.deepEqual(beside.components, alone.components);
    assert.deepEqual(beside.eigenvalues, alone.eigenvalues);
  });

  test('constant features get scale 1 and zero loadings; duplicated features equal loadings', async () => {
    for (const scale of ['none', 'standard', 'minmax'] as ScaleMode[]) {
      const m = await fitRows(data, n, d, { scale, components: { k: 8 } });
      assert.deepEqual(m.constantFeatures, [golden.constantFeature]);
      assert.equal(m.scaleFactors[golden.constantFeature], 1);
      const [a, b] = golden.duplicateFeatures;
      for (let c = 0; c < 8; c++) {
        const row = rowOf(m, c);
        assert.ok(Math.abs(row[golden.constantFeature]) < 1e-12, `${scale}: constant feature loading ${row[golden.constantFeature]}`);
        assert.ok(Math.abs(row[a] - row[b]) < 1e-10, `${scale}: duplicate loadings ${row[a]} vs ${row[b]}`);
      }
      // Two identical features: the data has rank ≤ d − 2 (one constant, one duplicate).
      assert.ok(m.rank <= d - 2, `${scale}: rank ${m.rank}`);
    }
  });

  test('standard scale uses the n − 1 sample std; minmax the range', async () => {
    const rows = Float32Array.from([0, 10, 2, 10, 4, 30]); // 3 rows × 2 features
    const std = await fitRows(rows, 3, 2, { scale: 'standard', components: { k: 1 } });
    assertClose(std.scaleFactors, [2, Math.sqrt(400 / 3)], 1e-15, 0, 'sample std');
    const mm = await fitRows(rows, 3, 2, { scale: 'minmax', components: { k: 1 } });
    assertClose(mm.scaleFactors, [4, 20], 0, 0, 'ranges');
  });
});

describe('known principal axes', () => {
  // Rows ±σᵢ·aᵢ for three orthonormal axes in R⁴: mean 0, covariance Σ 2σᵢ²·aᵢaᵢᵀ / (n − 1).
  const axes = [
    [0.5, 0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5, -0.5],
    [0.5, 0.5, -0.5, -0.5],
  ];
  const sigmas = [4, 2, 1];
  const rows = new Float32Array(6 * 4);
  axes.forEach((a, i) => {
    for (let j = 0; j < 4; j++) {
      rows[2 * i * 4 + j] = sigmas[i] * a[j];
      rows[(2 * i + 1) * 4 + j] = -sigmas[i] * a[j];
    }
  });

  test('eigenvalues, axes, ratios and rank', async () => {
    const m = await fitRows(rows, 6, 4, { scale: 'none', components: { variance: 1 } });
    assert.equal(m.rank, 3);
    assert.equal(m.k, 3);
    assertClose(m.eigenvalues, [32 / 5, 8 / 5, 2 / 5], 1e-14, 0, 'eigenvalues');
    assertClose(m.explainedVarianceRatio, [32 / 42, 8 / 42, 2 / 42], 1e-14, 0, 'ratios');
    assertClose([m.spectrumRatio[3]], [0], 0, 1e-15, 'null direction');
    axes.forEach((a, c) => assertCloseUpToSign(rowOf(m, c), a, 0, 1e-14, `axis ${c}`));
    const scores = await project(m, rows, 6);
    // Row 0 is 4·a0: score (±4, 0, 0).
    assertClose([Math.abs(scores[0]), scores[1], scores[2]], [4, 0, 0], 0, 1e-6, 'scores of row 0');
  });
});

describe('choosing the number of components', () => {
  // Exactly tied variances: features 0 and 1 have variance 2/5, feature 2 has 0.5/5, and feature
  // 3 duplicates feature 0 (rank 3 of 4). Eigenvalues: 0.8, 0.4, 0.1, 0 — no tie yet; ties come
  // from a second data set below.
  const dup = Float32Array.from([1, 0, 0, 1, -1, 0, 0, -1, 0, 1, 0, 0, 0, -1, 0, 0, 0, 0, 0.5, 0, 0, 0, -0.5, 0]);
  // Tied: two features with equal variance, one smaller.
  const tied = Float32Array.from([1, 0, 0, -1, 0, 0, 0, 1, 0, 0, -1, 0, 0, 0, 0.5, 0, 0, -0.5]);

  test('variance 1.0 keeps exactly the components with non-zero variance', async () => {
    const m = await fitRows(dup, 6, 4, { scale: 'none', components: { variance: 1 } });
    assert.equal(m.rank, 3);
    assert.equal(m.k, 3);
    assertClose(m.eigenvalues, [0.8, 0.4, 0.1], 1e-14, 0, 'eigenvalues');
  });

  test('a threshold reached exactly is reached; one just above needs the next component', async () => {
    // Ratios 0.8/1.3, 0.4/1.3, 0.1/1.3: cumulative 0.615…, 0.923…, 1.
    const at = await fitRows(dup, 6, 4, { scale: 'none', components: { variance: 1.2 / 1.3 } });
    assert.equal(at.k, 2);
    const above = await fitRows(dup, 6, 4, { scale: 'none', components: { variance: 1.2 / 1.3 + 1e-9 } });
    assert.equal(above.k, 3);
  });

  test('a tiny threshold keeps one component — or the whole tie it belongs to', async () => {
    const one = await fitRows(dup, 6, 4, { scale: 'none', components: { variance: 1e-12 } });
    assert.equal(one.k, 1);
    const t = await fitRows(tied, 6, 3, { scale: 'none', components: { variance: 1e-12 } });
    assertClose(t.spectrumRatio, [0.4 / 0.9, 0.4 / 0.9, 0.1 / 0.9], 1e-14, 0, 'tied ratios');
    assert.equal(t.k, 2, 'the threshold falls inside a repeated eigenvalue: keep both');
  });

  test('explicit k may exceed the rank (zero-variance, orthonormal extras) but not d', async () => {
    const m = await fitRows(dup, 6, 4, { scale: 'none', components: { k: 4 } });
    assert.equal(m.k, 4);
    assertClose([m.eigenvalues[3], m.explainedVarianceRatio[3]], [0, 0], 0, 1e-15, 'extra component');
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b <= a; b++) {
        const dot = rowOf(m, a).reduce((acc, x, i) => acc + x * rowOf(m, b)[i], 0);
        assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-14, `components ${a}·${b} = ${dot}`);
      }
    }
    await assert.rejects(fitRows(dup, 6, 4, { scale: 'none', components: { k: 5 } }), /between 1 and the feature dimension 4, got 5/);
    await assert.rejects(fitRows(dup, 6, 4, { scale: 'none', components: { k: 0 } }), /got 0/);
    await assert.rejects(fitRows(dup, 6, 4, { scale: 'none', components: { k: 1.5 } }), /got 1.5/);
  });

  test('rejects thresholds outside (0, 1]', async () => {
    for (const v of [0, -0.1, 1.01, NaN]) {
      await assert.rejects(fitRows(dup, 6, 4, { scale: 'none', components: { variance: v } }), /must be in \(0, 1\]/);
    }
  });

  test('refuses an unknown scale mode or a featurizer identity the model file could not hold', async () => {
    const stats = await statsOfRows(dup, 6, 4);
    await assert.rejects(fitPca(stats, { scale: 'robust' as ScaleMode, components: { k: 1 }, featurizer }), /scale must be one of none, standard, minmax, got robust/);
    await assert.rejects(fitPca(stats, { scale: 'none', components: { k: 1 }, featurizer: { modelId: 'm', sha256: 'ABC' } }), /invalid featurizer identity: sha256/);
    await assert.rejects(fitPca(stats, { scale: 'none', components: { k: 1 }, featurizer: { modelId: '', sha256: 'a'.repeat(64) } }), /modelId/);
  });

  test('refuses data with no variance or fewer than two rows', async () => {
    const constant = new Float32Array(12).fill(3);
    await assert.rejects(fitRows(constant, 4, 3, { scale: 'standard', components: { k: 1 } }), /zero total variance: all 3 features are constant/);
    await assert.rejects(fitRows(dup.subarray(0, 4), 1, 4, { scale: 'none', components: { k: 1 } }), /at least 2 rows/);
  });
});
