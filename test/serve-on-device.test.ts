// The page's on-device mode in a real browser (Debian's chromium): the exported model is
// downloaded from the server, run by onnxruntime-web (WASM, served from the package), and gives
// the server's top-1 on a set of photos (one of them stored rotated with an EXIF orientation);
// then the network is cut and a photo is still recognised, also after reloading the page. A weak
// device keeps the server path by default; a capable one starts on the device. The page always
// says which path answered.
import assert from 'node:assert/strict';
import { mkdirSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { miniTestClasses, miniTestDir, miniTestImages, repoRoot } from './helpers/paths.js';
import { openPage, startPageFixture, type PageFixture, type Served } from './helpers/serve-page.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
/** Photos compared: the first image of every PHOTO_STRIDE-th class. */
const PHOTO_STRIDE = 10;

const weakDevice = () => {
  Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => 2 });
  Object.defineProperty(navigator, 'deviceMemory', { get: () => 2 });
};
const capableDevice = () => {
  Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => 8 });
  Object.defineProperty(navigator, 'deviceMemory', { get: () => 8 });
};

async function serverTop1(url: string, file: string): Promise<{ label: string; score: number }> {
  const r = await fetch(`${url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(await fs.readFile(file)) });
  assert.equal(r.status, 200);
  return ((await r.json()) as { predictions: { label: string; score: number }[] }).predictions[0];
}

/** Picks a photo in the page and waits for the answer: its best label, the path that answered, the timing line. */
async function classifyInPage(page: Page, file: string): Promise<{ label: string; score: number; path: string; timing: string }> {
  await page.evaluate(() => {
    document.body.dataset.state = 'idle';
  });
  await page.locator('#library').setInputFiles(file);
  await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 120_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state === 'error') throw new Error(`the page failed: ${await page.locator('#status').innerText()}`);
  return {
    label: await page.locator('.prediction.best .label').innerText(),
    score: parseFloat(await page.locator('.prediction.best .score').innerText()) / 100,
    path: (await page.evaluate(() => document.body.dataset.path)) ?? '',
    timing: await page.locator('#timing').innerText(),
  };
}

describe('fruits serve: on-device recognition in the browser', { timeout: 20 * 60_000 }, () => {
  let dir: string;
  let served: Served;
  let browser: Browser;
  let fixture: PageFixture | undefined;
  const photos: string[] = [];

  before(async () => {
    fixture = await startPageFixture('on-device', ['--pca-k', '64']);
    ({ dir, served, browser } = fixture);
    const classes = await miniTestClasses();
    for (let c = 0; c < classes.length; c += PHOTO_STRIDE) photos.push(path.join(miniTestDir, classes[c], (await miniTestImages(classes[c]))[0]));
    // A photo (cropped to 100 × 70: turning it changes what the resize makes of it) stored turned
    // a quarter clockwise with EXIF orientation 8 ("rotate 270° to show"): both the server and the
    // browser must see it upright, so their scores agree.
    const upright = path.join(miniTestDir, 'Banana', (await miniTestImages('Banana'))[0]);
    const rotated = path.join(dir, 'banana-exif-8.jpg');
    const cropped = await sharp(upright).extract({ left: 0, top: 15, width: 100, height: 70 }).toBuffer();
    await sharp(cropped).rotate(90).withMetadata({ orientation: 8 }).jpeg({ quality: 95 }).toFile(rotated);
    photos.push(rotated);
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await fixture?.close();
  });

  test('the runtime files are the installed package\'s own, and the model is the export', async () => {
    for (const file of ['ort.wasm.bundle.min.mjs', 'ort-wasm-simd-threaded.wasm']) {
      const r = await fetch(`${served.url}/ort/${file}`);
      assert.equal(r.status, 200, file);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), await fs.readFile(path.join(repoRoot, 'node_modules', 'onnxruntime-web', 'dist', file)), file);
    }
    assert.equal((await fetch(`${served.url}/ort/..%2Fpackage.json`)).status, 404);
    const meta = (await (await fetch(`${served.url}/on-device.json`)).json()) as { available: boolean; bytes: number; url: string; sha256: string };
    assert.equal(meta.available, true);
    const model = await fetch(`${served.url}/${meta.url}`);
    assert.equal(model.headers.get('etag'), `"${meta.sha256}"`);
    assert.equal((await model.arrayBuffer()).byteLength, meta.bytes);
    assert.equal((await fetch(`${served.url}/model.onnx`, { headers: { 'if-none-match': `"${meta.sha256}"` } })).status, 304);
  });

  test('weak device: the server answers by default, and says so', async () => {
    const w = await openPage(browser, served.url, { width: 390, height: 844 }, true, weakDevice);
    try {
      await w.page.goto(`${served.url}/`);
      await w.page.waitForSelector('#on-device[data-ready="true"]');
      assert.equal(await w.page.locator('#on-device-toggle').isChecked(), false);
      const r = await classifyInPage(w.page, photos[0]);
      assert.equal(r.path, 'server');
      assert.match(r.timing, / · server \d+ ms/);
      assert.deepEqual(w.foreign, []);
      assert.deepEqual(w.errors, []);
    } finally {
      await w.context.close();
    }
  });

  test('on the device: the server\'s top-1 on every photo; then offline, and offline after a reload', async () => {
    const server = await Promise.all(photos.map((p) => serverTop1(served.url, p)));
    const expected = server.map((s) => s.label);
    const w = await openPage(browser, served.url, { width: 390, height: 844 }, true, capableDevice);
    try {
      const { page, context } = w;
      await page.goto(`${served.url}/`);
      await page.waitForSelector('#on-device[data-ready="true"]');
      assert.equal(await page.locator('#on-device-toggle').isChecked(), true, 'a capable device starts on the device');
      await page.waitForSelector('#on-device[data-model="ready"]', { timeout: 120_000 });
      assert.match(await page.locator('#on-device-status').innerText(), /model ready \([\d.]+ MB, cached for offline use\)/);

      const got: string[] = [];
      const inferMs: number[] = [];
      const scoreDiff: number[] = [];
      for (const p of photos) {
        const r = await classifyInPage(page, p);
        assert.equal(r.path, 'device', `${p}: answered on the device`);
        const m = /^\d+ ms on this device \(decode \d+, inference (\d+) ms\), nothing sent$/.exec(r.timing);
        assert.ok(m, r.timing);
        inferMs.push(Number(m[1]));
        got.push(r.label);
        scoreDiff.push(Math.abs(r.score - server[got.length - 1].score));
      }
      assert.deepEqual(got, expected, 'the same top-1 as the server');
      // The same confidence too (the page shows 0.1 %; decoders and resamplers differ a little):
      // the EXIF-rotated photo, last, seen sideways would score differently.
      assert.ok(Math.max(...scoreDiff) <= 0.02, `best scores differ from the server's by ${scoreDiff.map((d) => d.toFixed(3)).join(', ')}`);
      inferMs.sort((a, b) => a - b);
      console.log(`on-device inference in Chromium (WASM, 1 thread), ${photos.length} photos: median ${inferMs[inferMs.length >> 1]} ms, max ${inferMs.at(-1)} ms`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'serve-on-device.png'), fullPage: true });

      // The network cut: the page still recognises a photo.
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
      await context.setOffline(true);
      const offline = await classifyInPage(page, photos[1]);
      assert.deepEqual([offline.label, offline.path], [expected[1], 'device']);

      // Still offline, the page reloaded: the service worker serves it, the model comes from the cache.
      await page.reload();
      await page.waitForSelector('#on-device[data-model="ready"]', { timeout: 120_000 });
      assert.match(await page.locator('#on-device-status').innerText(), /model ready/);
      const reloaded = await classifyInPage(page, photos[2]);
      assert.deepEqual([reloaded.label, reloaded.path], [expected[2], 'device']);
      await context.setOffline(false);
      assert.deepEqual(w.foreign, []);
      assert.deepEqual(w.errors, []);
    } finally {
      await w.context.close();
    }
  });
});
