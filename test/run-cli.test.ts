// `fruits run` end to end, as a user runs it (the compiled CLI in a child process, the real model
// and photos from ../shared):
//   - on the whole mini Training set (4,760 images, once, in a `before` hook): the layout, the
//     PCA against scikit-learn's on the same features (checked-in reference values made by
//     scripts/make-sklearn-reference.py), the other scale modes, and report.html in a real
//     browser;
//   - on a subset: stage-by-stage resume after a SIGKILL, a rerun that redoes nothing, and a
//     rerun with another --k that refits and rewrites reduced/.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { collect, errorLines, runCli, show, spawnCli, type CliResult } from './helpers/cli.js';
import { lit, query, readCsv } from './helpers/duckdb.js';
import { launchBrowser, openOfflinePage } from './helpers/browser.js';
import { miniTestDir, repoRoot, SHARED_MODEL_SHA256, sharedDir, tempDir } from './helpers/paths.js';

const TRAINING = path.join(sharedDir, 'data', 'fruits360-mini', 'Training');
const REFERENCE_FILE = path.join(repoRoot, 'test', 'fixtures', 'sklearn-mini-training', 'reference.json');
const ARTIFACTS = path.join(repoRoot, 'test-artifacts');
/**
 * Explained-variance ratios must agree with scikit-learn to 1e-6 (absolute). On this machine they
 * agree to ~1e-15 (both solve the same float64 problem); the slack is for another CPU, where
 * ONNX Runtime's float32 kernels may round the features differently in their last bits.
 */
const RATIO_TOLERANCE = 1e-6;

interface ScaleReference {
  k: number;
  sklearnK: number;
  ratios: number[];
}
interface Reference {
  rows: number;
  dim: number;
  rowsPerLabel: Record<string, number>;
  model: { id: string; sha256: string };
  variance: number;
  meanSignificantDigits: number;
  mean: number[];
  constantFeatures: number[];
  scales: Record<'standard' | 'minmax' | 'none', ScaleReference>;
}

/** The summary `fruits run … --json` prints (the fields these tests read). */
interface RunJson {
  runId: string;
  featurize: { listed: number; rows: number; rejects: number; labels: number; partitions: number; resumedPartitions: number };
  statistics: { rows: number; dim: number; resumed: boolean };
  fit: { k: number; dim: number; rows: number; explainedVariance: number; resumed: boolean; modelSha256: string };
  transform: { rows: number; parts: number; resumedParts: number; k: number };
  report: string;
}

interface ModelJson {
  featurizer: { modelId: string; sha256: string };
  dim: number;
  k: number;
  scale: string;
  rowsFitted: number;
  mean: number[];
  spectrumRatio: number[];
  explainedVarianceRatio: number[];
}

function lastJson<T>(r: CliResult, what: string): T {
  assert.equal(r.code, 0, `${what} failed:\n${show(r)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${what} printed no JSON summary:\n${show(r)}`);
  }
}

async function run(args: string[]): Promise<RunJson> {
  return lastJson<RunJson>(await runCli(['run', ...args, '--json', '--quiet']), `fruits run ${args.join(' ')}`);
}

async function readModel(file: string): Promise<ModelJson> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as ModelJson;
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Largest |a[i] − b[i]| over b's length, and where. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; at: number } {
  let diff = 0;
  let at = -1;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) [diff, at] = [d, i]; // NaN counts as the worst
  }
  return { diff, at };
}

interface ReducedRow {
  path: string;
  label: string;
  features: number[];
}

/** Every row of a reduced (or features) dataset, by path. */
async function readRows(dir: string): Promise<Map<string, ReducedRow>> {
  const rows = await query<ReducedRow>(`SELECT path, label, features FROM read_parquet(${lit(path.join(dir, 'part-*.parquet'))}) ORDER BY path`);
  return new Map(rows.map((r) => [r.path, r]));
}

async function mtimes(dir: string, names: string[]): Promise<Map<string, number>> {
  return new Map(await Promise.all(names.map(async (n) => [n, (await fs.stat(path.join(dir, n))).mtimeMs] as [string, number])));
}

async function partFiles(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => /^part-\d+\.parquet$/.test(n)).sort();
}

describe('fruits run on the mini Training set, against scikit-learn', { timeout: 40 * 60_000 }, () => {
  const reference = JSON.parse(readFileSync(REFERENCE_FILE, 'utf8')) as Reference;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let out: string;
  let summary: RunJson;
  let model: ModelJson;

  before(async () => {
    tmp = await tempDir('run-training');
    out = path.join(tmp.dir, 'out');
    summary = await run([TRAINING, out, '--variance', String(reference.variance)]);
    model = await readModel(path.join(out, 'pca', 'model.json'));
  });
  after(async () => {
    await tmp?.cleanup();
  });

  it('writes features/, pca/, reduced/ and report.html, and records a complete run', async () => {
    for (const f of ['features/_SUCCESS', 'features/_manifest.json', 'pca/stats.bin', 'pca/model.json', 'reduced/_SUCCESS', 'reduced/_manifest.json', 'report.html', '_run.json']) {
      assert.ok(existsSync(path.join(out, f)), `${f} exists`);
    }
    assert.equal(existsSync(path.join(out, 'reduced-csv')), false, 'no CSV without --csv');
    const runManifest = JSON.parse(await fs.readFile(path.join(out, '_run.json'), 'utf8'));
    assert.equal(runManifest.status, 'complete');
    assert.deepEqual(runManifest.pca, { scale: 'standard', components: { variance: reference.variance } });

    assert.equal(summary.featurize.listed, reference.rows);
    assert.equal(summary.featurize.rows, reference.rows);
    assert.equal(summary.featurize.rejects, 0);
    assert.equal(summary.featurize.labels, Object.keys(reference.rowsPerLabel).length);
    assert.equal(summary.statistics.rows, reference.rows);
    assert.equal(summary.statistics.dim, reference.dim);
    assert.equal(summary.fit.rows, reference.rows);
    assert.equal(summary.transform.rows, reference.rows);
    assert.equal(summary.transform.k, summary.fit.k);
    assert.equal(summary.fit.modelSha256, sha256File(path.join(out, 'pca', 'model.json')));

    // DuckDB reads the reduced dataset: the features' rows, k values each.
    const [features, reduced] = await Promise.all(['features', 'reduced'].map((d) =>
      query<{ path: string; label: string; n: number }>(
        `SELECT path, label, len(features) AS n FROM read_parquet(${lit(path.join(out, d, 'part-*.parquet'))}) ORDER BY path`,
      ),
    ));
    assert.equal(reduced.length, reference.rows);
    assert.deepEqual(reduced.map((r) => `${r.path}|${r.label}`), features.map((r) => `${r.path}|${r.label}`));
    assert.ok(reduced.every((r) => Number(r.n) === summary.fit.k), `every reduced row has k = ${summary.fit.k} values`);
    const perLabel: Record<string, number> = {};
    for (const r of features) perLabel[r.label] = (perLabel[r.label] ?? 0) + 1;
    assert.deepEqual(perLabel, reference.rowsPerLabel, 'rows per label as in the reference (119 × 40)');
  });

  it('finds the k and explained-variance ratios of scikit-learn (StandardScaler + PCA full)', (t) => {
    // The reference applies only to features of the very same network.
    assert.equal(reference.model.sha256, SHARED_MODEL_SHA256, 'reference.json was made with ../shared/models/mobilenet_v2_1.0_224.onnx');
    assert.deepEqual(model.featurizer, { modelId: reference.model.id, sha256: reference.model.sha256 });
    assert.equal(model.dim, reference.dim);
    assert.equal(model.rowsFitted, reference.rows);
    assert.equal(model.scale, 'standard');

    const ref = reference.scales.standard;
    assert.equal(ref.k, ref.sklearnK, 'the reference agrees with sklearn’s own n_components=0.95');
    assert.equal(model.k, ref.k, `k for ${reference.variance} of the variance`);
    assert.equal(summary.fit.k, ref.k);
    const { diff, at } = maxAbsDiff(model.spectrumRatio, ref.ratios);
    t.diagnostic(`standard: k = ${model.k} (sklearn ${ref.k}); max |ratio − sklearn| over ${ref.ratios.length} components = ${diff.toExponential(2)} (component ${at + 1})`);
    assert.ok(diff <= RATIO_TOLERANCE, `ratio ${at + 1}: ${model.spectrumRatio[at]} vs sklearn ${ref.ratios[at]}`);
    // The kept components are the first k of the spectrum, and reach the target.
    assert.deepEqual(model.explainedVarianceRatio, model.spectrumRatio.slice(0, model.k));
    const kept = model.explainedVarianceRatio.reduce((s, x) => s + x, 0);
    assert.ok(kept >= reference.variance && kept - model.explainedVarianceRatio[model.k - 1] < reference.variance, `k is the smallest reaching ${reference.variance}: ${kept}`);
    assert.ok(Math.abs(summary.fit.explainedVariance - kept) < 1e-12);

    // Per-feature means, rounded to 7 significant digits in the reference.
    assert.equal(model.mean.length, reference.mean.length);
    const roundOff = 0.5 * 10 ** (1 - reference.meanSignificantDigits);
    model.mean.forEach((m, j) => {
      const r = reference.mean[j];
      assert.ok(Math.abs(m - r) <= roundOff * Math.abs(r) + 1e-6, `mean of feature ${j}: ${m} vs sklearn ${r}`);
    });
  });

  for (const scale of ['none', 'minmax'] as const) {
    it(`fits --scale ${scale} on the same features: sklearn's k and ratios, a k other than standard's`, async (t) => {
      // Start from the run's statistics: fit only, no second pass over the rows.
      const pca = path.join(tmp.dir, `pca-${scale}`);
      await fs.mkdir(pca);
      for (const f of ['stats.bin', '_stats.json']) await fs.copyFile(path.join(out, 'pca', f), path.join(pca, f));
      const statsBefore = (await fs.stat(path.join(pca, 'stats.bin'))).mtimeMs;
      const r = await runCli(['fit', path.join(out, 'features'), pca, '--scale', scale, '--variance', String(reference.variance), '--workers', '1', '--json', '--quiet']);
      const s = lastJson<{ k: number; rows: number; scale: string }>(r, `fruits fit --scale ${scale}`);
      assert.equal((await fs.stat(path.join(pca, 'stats.bin'))).mtimeMs, statsBefore, 'statistics were resumed, not recomputed');
      const m = await readModel(path.join(pca, 'model.json'));
      const ref = reference.scales[scale];
      const { diff, at } = maxAbsDiff(m.spectrumRatio, ref.ratios);
      t.diagnostic(`${scale}: k = ${m.k} (sklearn ${ref.k}); max |ratio − sklearn| = ${diff.toExponential(2)}`);
      assert.equal(s.scale, scale);
      assert.equal(m.scale, scale);
      assert.equal(s.rows, reference.rows);
      assert.equal(m.k, ref.k);
      assert.equal(s.k, ref.k);
      assert.notEqual(m.k, model.k, `--scale ${scale} keeps another number of components than standard`);
      assert.ok(diff <= RATIO_TOLERANCE, `ratio ${at + 1}: ${m.spectrumRatio[at]} vs sklearn ${ref.ratios[at]}`);
    });
  }

  it('report.html draws its charts offline and shows k and the rows per label', { timeout: 180_000 }, async (t) => {
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const { page, blockedRequests, errors, close } = await openOfflinePage(browser);
      try {
        await page.goto(pathToFileURL(path.join(out, 'report.html')).href);
        await page.waitForSelector('body[data-charts-ready="true"], body[data-charts-error]', { timeout: 90_000 });
        await fs.mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, 'run-report.png'), fullPage: true });
        assert.equal(await page.getAttribute('body', 'data-charts-error'), null);
        assert.equal(await page.getAttribute('body', 'data-charts-ready'), 'true');

        // Real marks: every row is a point (4,760 is under the 5,000-point cap), the scree line
        // follows 1,280 components, the cumulative curve is filled.
        const marks = (chart: string, selector: string) => page.locator(`[data-chart="${chart}"] svg ${selector}`).count();
        assert.equal(await marks('scatter', '.mark-symbol path'), reference.rows);
        assert.ok((await marks('scree', '.mark-line path')) >= 1, 'scree line');
        assert.ok((await marks('cumulative', '.mark-area path')) >= 1, 'cumulative area');
        const scree = (await page.locator('[data-chart="scree"] svg .mark-line path').first().getAttribute('d')) ?? '';
        assert.ok(scree.length > 1000, `the scree line follows the spectrum (${scree.length} characters of path)`);

        const figures = await page.locator('.figures').innerText();
        assert.match(figures, new RegExp(`k = ${model.k}\\b`));
        assert.match(figures, /4,760/);
        for (const chart of ['scree', 'cumulative']) {
          const texts = await page.locator(`[data-chart="${chart}"] svg text`).allTextContents();
          // The cumulative chart's label also says the variance kept: "k = 562 · 95.0% kept".
          assert.ok(texts.some((t) => t === `k = ${model.k}` || t.startsWith(`k = ${model.k} · `)), `${chart} marks k: ${texts.join(' | ')}`);
        }

        // 119 labels × 40 rows.
        const labels = await page.locator('ol.label-bars li').evaluateAll((lis) =>
          lis.map((li) => [li.querySelector('.lname')?.textContent ?? '', li.querySelector('.lcount')?.textContent ?? '']),
        );
        assert.deepEqual(
          Object.fromEntries(labels.map(([l, c]) => [l, Number(c.replace(/,/g, ''))])),
          reference.rowsPerLabel,
        );
        assert.match(await page.locator('body').innerText(), /No rejects/);
        assert.doesNotMatch(await page.locator('.sub').innerText(), /fruits fruits/);

        assert.deepEqual(blockedRequests, [], 'the report needs no network');
        assert.deepEqual(errors, [], 'no console errors');
        t.diagnostic(`screenshot: ${path.join(ARTIFACTS, 'run-report.png')}`);
      } finally {
        await close();
      }
    } finally {
      await browser?.close();
    }
  });
});

describe('fruits run resumes stage by stage', { timeout: 20 * 60_000 }, () => {
  // 160 images of the Test set in 4 partitions; one worker process (2 threads) starts faster
  // on a busy machine, and finishes partitions one at a time, so the kill lands between them.
  const ARGS = ['--limit', '160', '--partition-size', '40', '--csv', '--workers', '1'];
  const VARIANCE = ['--variance', '0.9'];
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let reference: string;
  let refSummary: RunJson;
  let refRows: Map<string, ReducedRow>;
  let out: string;
  let resumed: RunJson;

  before(async () => {
    tmp = await tempDir('run-resume');
    reference = path.join(tmp.dir, 'reference');
    out = path.join(tmp.dir, 'out');
    refSummary = await run([miniTestDir, reference, ...ARGS, ...VARIANCE]);
    assert.equal(refSummary.featurize.partitions, 4);
    refRows = await readRows(path.join(reference, 'reduced'));
    assert.equal(refRows.size, 160);
  });
  after(async () => {
    await tmp?.cleanup();
  });

  it('finishes a run SIGKILLed during featurize, resuming its partitions, with the uninterrupted output', async () => {
    // The CLI leads its own process group: one kill reaches its worker processes too.
    const child = spawnCli(['run', miniTestDir, out, ...ARGS, ...VARIANCE, '--quiet'], { detached: true });
    const done = collect(child);
    const parts = path.join(out, 'features', '_parts');
    const deadline = Date.now() + 10 * 60_000;
    while (Date.now() < deadline && child.exitCode === null) {
      const finished = existsSync(parts) ? (await fs.readdir(parts)).filter((n) => n.endsWith('.json')) : [];
      if (finished.length > 0) {
        process.kill(-child.pid!, 'SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const killed = await done;
    assert.equal(killed.signal, 'SIGKILL', `the run was killed, not finished:\n${show(killed)}`);
    assert.ok(!existsSync(path.join(out, 'features', '_SUCCESS')), 'killed during featurize');
    assert.ok(!existsSync(path.join(out, 'pca', 'model.json')));
    const interrupted = JSON.parse(await fs.readFile(path.join(out, '_run.json'), 'utf8'));
    assert.equal(interrupted.status, 'running');
    const finished = (await fs.readdir(parts)).filter((n) => n.endsWith('.json')).length;
    assert.ok(finished >= 1 && finished < 4, `${finished} of 4 partitions finished before the kill`);

    resumed = await run([miniTestDir, out, ...ARGS, ...VARIANCE]);
    assert.ok(resumed.featurize.resumedPartitions > 0, `resumed ${resumed.featurize.resumedPartitions} partitions`);
    assert.equal(resumed.featurize.resumedPartitions, finished, 'every finished partition is resumed');
    assert.equal(resumed.featurize.rows, 160);
    assert.equal(resumed.statistics.resumed, false);
    assert.equal(resumed.fit.resumed, false);
    assert.equal(resumed.transform.resumedParts, 0);
    const completed = JSON.parse(await fs.readFile(path.join(out, '_run.json'), 'utf8'));
    assert.equal(completed.status, 'complete');
    assert.equal(completed.runId, interrupted.runId, 'the resumed run keeps its id');
    assert.equal(completed.createdAt, interrupted.createdAt, 'and the time it was created');

    // As if never interrupted: the same k, the very same model, the same reduced vectors.
    assert.equal(resumed.fit.k, refSummary.fit.k);
    assert.equal(resumed.fit.modelSha256, refSummary.fit.modelSha256, 'the same model.json, byte for byte');
    const rows = await readRows(path.join(out, 'reduced'));
    assert.deepEqual([...rows.keys()], [...refRows.keys()]);
    for (const [p, r] of rows) {
      assert.equal(r.label, refRows.get(p)!.label);
      assert.deepEqual(r.features, refRows.get(p)!.features, `reduced features of ${p}`);
    }
    assert.equal(rows.values().next().value!.features.length, refSummary.fit.k);
  });

  it('redoes nothing expensive when rerun on a finished run', async () => {
    assert.ok(resumed, 'needs the resumed run');
    const reduced = path.join(out, 'reduced');
    const watched = [...(await partFiles(reduced)).map((n) => `reduced/${n}`), 'pca/stats.bin', 'pca/model.json', ...(await partFiles(path.join(out, 'features'))).map((n) => `features/${n}`)];
    const before = await mtimes(out, watched);
    const previousRun = JSON.parse(await fs.readFile(path.join(out, '_run.json'), 'utf8'));
    const rerunAt = new Date().toISOString();
    const s = await run([miniTestDir, out, ...ARGS, ...VARIANCE]);
    const rerun = JSON.parse(await fs.readFile(path.join(out, '_run.json'), 'utf8'));
    assert.notEqual(rerun.runId, previousRun.runId, 'a rerun of a complete run is a new run');
    assert.ok(rerun.createdAt >= rerunAt, `its createdAt (${rerun.createdAt}) is its own, not ${previousRun.createdAt}`);
    assert.equal(s.featurize.resumedPartitions, s.featurize.partitions);
    assert.equal(s.statistics.resumed, true);
    assert.equal(s.fit.resumed, true);
    assert.equal(s.transform.resumedParts, s.transform.parts);
    assert.equal(s.transform.parts, 4);
    assert.equal(s.fit.modelSha256, resumed.fit.modelSha256);
    assert.deepEqual(await mtimes(out, watched), before, 'no part, statistics or model file was rewritten');
    assert.ok(existsSync(path.join(out, 'report.html')));
  });

  it('refits and rewrites reduced/ (Parquet and CSV) when rerun with another --k', async () => {
    assert.ok(resumed, 'needs the resumed run');
    const statsBefore = (await fs.stat(path.join(out, 'pca', 'stats.bin'))).mtimeMs;
    const K = 4;
    const s = await run([miniTestDir, out, ...ARGS, '--k', String(K)]);
    assert.equal(s.featurize.resumedPartitions, s.featurize.partitions, 'features are reused');
    assert.equal(s.statistics.resumed, true, 'statistics are reused');
    assert.equal((await fs.stat(path.join(out, 'pca', 'stats.bin'))).mtimeMs, statsBefore);
    assert.equal(s.fit.resumed, false, 'another --k is a new fit');
    assert.equal(s.fit.k, K);
    assert.notEqual(s.fit.modelSha256, resumed.fit.modelSha256);
    assert.equal(s.transform.resumedParts, 0, 'every part is transformed again');
    assert.equal(s.transform.k, K);

    const runManifest = JSON.parse(await fs.readFile(path.join(out, '_run.json'), 'utf8'));
    assert.deepEqual(runManifest.pca.components, { k: K });
    const reducedManifest = JSON.parse(await fs.readFile(path.join(out, 'reduced', '_manifest.json'), 'utf8'));
    assert.equal(reducedManifest.k, K);
    assert.equal(reducedManifest.status, 'complete');

    // The same statistics, so the first K components are those of the earlier fit.
    const rows = await readRows(path.join(out, 'reduced'));
    assert.equal(rows.size, 160);
    for (const [p, r] of rows) {
      assert.equal(r.features.length, K, p);
      const earlier = refRows.get(p)!.features.slice(0, K);
      r.features.forEach((v, j) => assert.ok(Math.abs(v - earlier[j]) <= 1e-4 * (1 + Math.abs(earlier[j])), `${p} pc_${j + 1}: ${v} vs ${earlier[j]}`));
    }
    const csv = (await fs.readdir(path.join(out, 'reduced-csv'))).filter((n) => n.endsWith('.csv'));
    assert.equal(csv.length, 4);
    const csvRows = await readCsv(path.join(out, 'reduced-csv', csv[0]));
    assert.deepEqual(Object.keys(csvRows[0]), ['path', 'label', ...Array.from({ length: K }, (_, j) => `pc_${j + 1}`)]);

    const html = await fs.readFile(path.join(out, 'report.html'), 'utf8');
    assert.match(html, new RegExp(`k = ${K}\\b`));
  });

  it('checks its PCA flags before writing anything', async () => {
    const bad = path.join(tmp.dir, 'bad');
    const cases: [string[], number, RegExp][] = [
      [['--k', '10', '--variance', '0.5'], 2, /^fruits: error: --k and --variance: give one or the other \(run 'fruits run --help' for usage\)$/],
      [['--k', '1281'], 1, /^fruits: error: --k 1281 is more than the feature dimension 1280$/],
    ];
    for (const [flags, code, message] of cases) {
      const r = await runCli(['run', miniTestDir, bad, ...flags]);
      assert.equal(r.code, code, show(r));
      const lines = errorLines(r.stderr);
      assert.equal(lines.length, 1, show(r));
      assert.match(lines[0], message);
      assert.equal(existsSync(bad), false, `${flags.join(' ')}: nothing written`);
    }
  });
});
