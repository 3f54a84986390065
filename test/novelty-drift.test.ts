// Novelty and drift, with the real model on the mini dataset: a bundle trained with a held-out
// slice carries novelty data, predict --json / /v1/classify / evaluate report it, a bundle without
// it (trained with --holdout 0, as before this change) still answers without the fields; `fruits
// drift` says ok for Test photos, ok for a change of label mix only (apples alone), drift (exit 4)
// for the same classes shot in "another session" (darker, warmer, less saturated light), and one
// clear line for bad input.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { readBundle } from '../src/classify/bundle.js';
import { buildServer, SERVE_DEFAULTS } from '../src/serve/server.js';
import { errorLines, runCli, show } from './helpers/cli.js';
import { miniTestDir, sharedModelPath, tempDir } from './helpers/paths.js';
import { miniFeatures, trainBundle } from './classify-fixtures.js';

/** The classes (Test folders) used for the photo batches: a dozen, so featurizing stays short. */
async function someClasses(prefix?: string): Promise<string[]> {
  const all = (await fs.readdir(miniTestDir)).sort();
  return prefix ? all.filter((c) => c.startsWith(prefix)) : all.filter((_, i) => i % 10 === 0);
}

/** A folder of the given Test classes, each photo passed through `edit` (or linked as is). */
async function photoBatch(dir: string, classes: string[], edit?: (s: Sharp) => Sharp): Promise<string> {
  for (const c of classes) {
    await fs.mkdir(path.join(dir, c), { recursive: true });
    for (const f of await fs.readdir(path.join(miniTestDir, c))) {
      const src = path.join(miniTestDir, c, f);
      if (edit) await edit(sharp(src)).jpeg({ quality: 90 }).toFile(path.join(dir, c, f));
      else await fs.symlink(src, path.join(dir, c, f));
    }
  }
  return dir;
}

describe('novelty and drift', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let bundle: string;
  let oldBundle: string;
  const env = { FRUITS_MODEL_DIR: path.dirname(sharedModelPath) };

  before(async () => {
    tmp = await tempDir('novelty');
    const data = await miniFeatures();
    bundle = path.join(tmp.dir, 'bundle');
    oldBundle = path.join(tmp.dir, 'bundle-old');
    await trainBundle(data.train, bundle);
    await trainBundle(data.train, oldBundle, ['--holdout', '0']);
  });
  after(async () => tmp?.cleanup());

  test('the bundle carries novelty data; an old one (none) still loads', async () => {
    const b = await readBundle(bundle);
    assert.ok(b.novelty, 'novelty data');
    assert.equal(b.manifest.novelty?.version, 2);
    assert.ok(b.novelty.classWhiten, 'one covariance per class');
    assert.ok(b.novelty.threshold > 0);
    // The threshold flags about the target share of the held-out rows it was set on.
    assert.ok(b.novelty.calibration.heldOutRate <= 0.05, `held-out rate ${b.novelty.calibration.heldOutRate}`);
    const old = await readBundle(oldBundle);
    assert.equal(old.novelty, undefined);
    assert.equal(old.manifest.novelty, undefined);
  });

  test('predict --json and evaluate: novelty and unknown per photo; old bundle: no such fields', async () => {
    const photos = ['Banana', 'Kiwi', 'Lemon'].map((c) => path.join(miniTestDir, c));
    const r = await runCli(['predict', bundle, ...photos, '--json'], { env });
    assert.equal(r.code, 0, show(r));
    const rows = JSON.parse(r.stdout) as { path: string; predictions: { label: string }[]; novelty?: number; unknown?: boolean }[];
    assert.equal(rows.length, 30);
    for (const row of rows) {
      assert.equal(typeof row.novelty, 'number', row.path);
      assert.equal(typeof row.unknown, 'boolean', row.path);
    }
    // Photos of known classes: most are recognised.
    assert.ok(rows.filter((x) => x.unknown).length <= 3, `unknown: ${rows.filter((x) => x.unknown).map((x) => x.path)}`);

    const o = await runCli(['predict', oldBundle, photos[0], '--json'], { env });
    assert.equal(o.code, 0, show(o));
    for (const row of JSON.parse(o.stdout) as Record<string, unknown>[]) {
      assert.ok(!('novelty' in row) && !('unknown' in row), 'an old bundle answers without novelty fields');
    }

    const data = await miniFeatures();
    const e = await runCli(['evaluate', bundle, data.test, '--json', '--no-report'], { env });
    assert.equal(e.code, 0, show(e));
    const ev = JSON.parse(e.stdout) as { novelty: { known: { rows: number; rate: number }; excluded: { rows: number; unknown: number } | null } };
    assert.equal(ev.novelty.known.rows, 1190);
    assert.ok(ev.novelty.known.rate <= 0.08, `unknown rate on known classes ${ev.novelty.known.rate}`);
    // Tomato Yellow is in no Training folder: its photos are the excluded rows.
    assert.equal(ev.novelty.excluded?.rows, 10);
  });

  test('/v1/classify answers novelty and unknown; /metrics has the unknown share and confidence histogram', async () => {
    const b = await readBundle(bundle);
    const server = await buildServer(b, { ...SERVE_DEFAULTS, threads: 2, decodeSize: 'native', model: sharedModelPath, defaultMetrics: false });
    try {
      await server.ready;
      const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
      const res = await fetch(`${url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(await fs.readFile(path.join(miniTestDir, 'Kiwi', (await fs.readdir(path.join(miniTestDir, 'Kiwi')))[0]))) });
      const body = (await res.json()) as { predictions: { label: string }[]; novelty: number; unknown: boolean };
      assert.equal(res.status, 200);
      assert.equal(body.predictions[0].label, 'Kiwi');
      assert.equal(typeof body.novelty, 'number');
      assert.equal(body.unknown, false);
      // Telemetry: the rolling unknown share over the answers so far, and the confidence histogram.
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^fruits_unknown_share 0$/m);
      assert.match(metrics, /^fruits_confidence_count 1$/m);
    } finally {
      await server.close();
    }
  });

  test('drift: Test photos ok; apples alone (label mix only) ok; the same classes in other light: drift, exit 4', async () => {
    const data = await miniFeatures();
    const same = await runCli(['drift', bundle, data.test, '--json', '--no-report'], { env });
    assert.equal(same.code, 0, show(same));
    assert.equal((JSON.parse(same.stdout) as { verdict: string }).verdict, 'ok');

    const apples = await photoBatch(path.join(tmp.dir, 'apples'), await someClasses('Apple'));
    const mix = await runCli(['drift', bundle, apples, '--json', '--no-report', '--quiet'], { env });
    assert.equal(mix.code, 0, show(mix));
    const mixResult = JSON.parse(mix.stdout) as { verdict: string; labelMix: { label: string }[] };
    assert.equal(mixResult.verdict, 'ok');

    const light = await photoBatch(path.join(tmp.dir, 'light'), await someClasses(), (s) => s.modulate({ brightness: 0.8, saturation: 0.7 }).tint({ r: 255, g: 225, b: 190 }));
    const report = path.join(tmp.dir, 'drift.html');
    const shifted = await runCli(['drift', bundle, light, '--json', '--report', report, '--quiet'], { env });
    assert.equal(shifted.code, 4, show(shifted));
    const r = JSON.parse(shifted.stdout) as { verdict: string; reasons: string[]; unknown: { share: number }; classes: { auc: number | null }[] };
    assert.equal(r.verdict, 'drift');
    assert.ok(r.reasons.length >= 1);
    assert.ok(r.unknown.share > 0.1, `unknown share ${r.unknown.share}`);
    const html = await fs.readFile(report, 'utf8');
    for (const chart of ['novelty', 'scatter', 'classes']) assert.match(html, new RegExp(`data-chart="${chart}"`));
    assert.doesNotMatch(html, /<script[^>]+src=/, 'nothing fetched');

    // A features dataset as the reference: the same verdicts.
    const byData = await runCli(['drift', data.train, light, '--json', '--no-report', '--quiet'], { env });
    assert.equal(byData.code, 4, show(byData));
  });

  test('drift, bad input: a bundle without novelty data, an empty batch, another featurizer — one line each', async () => {
    const data = await miniFeatures();
    const old = await runCli(['drift', oldBundle, data.test], { env });
    assert.equal(old.code, 1, show(old));
    assert.match(errorLines(old.stderr)[0] ?? '', /has no novelty data/);

    const empty = path.join(tmp.dir, 'empty');
    await fs.mkdir(path.join(empty, 'Kiwi'), { recursive: true });
    const e = await runCli(['drift', bundle, empty, '--quiet'], { env });
    assert.notEqual(e.code, 0, show(e));
    assert.equal(errorLines(e.stderr).length, 1, show(e));

    // A dataset whose manifest names another network: refused before any row is compared.
    const other = path.join(tmp.dir, 'other-features');
    await fs.cp(data.test, other, { recursive: true });
    const manifest = JSON.parse(await fs.readFile(path.join(other, '_manifest.json'), 'utf8')) as { config: { model: { sha256: string; id: string } } };
    manifest.config.model.sha256 = 'f'.repeat(64);
    await fs.writeFile(path.join(other, '_manifest.json'), JSON.stringify(manifest));
    const o = await runCli(['drift', bundle, other, '--no-report'], { env });
    assert.equal(o.code, 1, show(o));
    assert.match(errorLines(o.stderr)[0] ?? '', /featurize the batch with the reference's model/);
  });
});
