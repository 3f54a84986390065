// The web page of `fruits serve` in a real browser (Debian's chromium): the compiled CLI serves a
// bundle; the page is opened at a phone's size, a photo is "taken" through the camera input, and
// the predicted label, the confidence bars and the timing appear. Screenshots go to
// test-artifacts/serve.png (phone) and serve-desktop.png. Nothing is fetched from elsewhere.
import assert from 'node:assert/strict';
import { mkdirSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { miniTestDir } from './helpers/paths.js';
import { openPage, startPageFixture, type PageFixture, type Served } from './helpers/serve-page.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const PHOTO = path.join(miniTestDir, 'Strawberry', 'r_5_100.jpg');

describe('fruits serve: the web page in a browser', () => {
  let dir: string;
  let served: Served;
  let browser: Browser;
  let expected: string;
  let fixture: PageFixture | undefined;

  before(async () => {
    fixture = await startPageFixture('serve-page', []);
    ({ dir, served, browser } = fixture);
    const api = await fetch(`${served.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(await fs.readFile(PHOTO)) });
    expected = ((await api.json()) as { predictions: { label: string }[] }).predictions[0].label;
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await fixture?.close();
  });

  test('phone: take a photo, see the fruit, its confidence and the time taken', async () => {
    assert.equal(expected, 'Strawberry');
    const w = await openPage(browser, served.url, { width: 390, height: 844 }, true);
    try {
      const { page } = w;
      await page.goto(`${served.url}/`);
      await page.waitForSelector('body[data-ready="true"]');
      const camera = page.locator('#camera');
      assert.equal(await camera.getAttribute('accept'), 'image/*');
      assert.equal(await camera.getAttribute('capture'), 'environment');
      assert.equal(await page.locator('#library').getAttribute('capture'), null);
      // Before a photo: the invitation, no empty image frame, no results.
      assert.ok(await page.locator('#preview').isHidden());
      assert.ok(await page.locator('.drop .hint').isVisible());
      assert.ok(await page.locator('#results').isHidden());
      await page.screenshot({ path: path.join(ARTIFACTS, 'serve-empty.png') });

      await camera.setInputFiles(PHOTO);
      await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
      assert.equal(await page.locator('.prediction.best .label').innerText(), expected);
      const items = page.locator('#predictions li');
      assert.equal(await items.count(), 5);
      const score = await page.locator('.prediction.best .score').innerText();
      assert.match(score, /^\d+\.\d%$/);
      const barWidth = await page.locator('.prediction.best .bar > span').evaluate((el) => (el as HTMLElement).getBoundingClientRect().width);
      const trackWidth = await page.locator('.prediction.best .bar').evaluate((el) => (el as HTMLElement).getBoundingClientRect().width);
      assert.ok(Math.abs(barWidth / trackWidth - parseFloat(score) / 100) < 0.02, `bar ${barWidth}/${trackWidth} for ${score}`);
      assert.match(await page.locator('#timing').innerText(), /^\d+ ms in all, \d+ KB sent · server \d+ ms \(decode \d+, wait \d+, inference \d+ ms, batch of \d+\)$/);
      assert.ok(await page.locator('#preview').isVisible());
      // Nothing wider than the phone; the buttons are thumb-sized.
      assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390);
      const button = await page.locator('label.button.primary').boundingBox();
      assert.ok(button && button.height >= 44, `button ${JSON.stringify(button)}`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'serve.png'), fullPage: true });

      // Not a photo: the page says so, in words.
      const notes = path.join(dir, 'notes.jpg');
      await fs.writeFile(notes, 'these are my notes, not a photo');
      await page.locator('#library').setInputFiles(notes);
      await page.waitForSelector('body[data-state="error"]');
      assert.match(await page.locator('#status').innerText(), /^Could not recognise this photo: not an image/);
      assert.ok(await page.locator('#results').isHidden());

      assert.deepEqual(w.foreign, []);
      // The failed upload's 415 is the only console error a browser reports.
      assert.deepEqual(
        w.errors.filter((e) => !/status of 415/.test(e)),
        [],
      );
    } finally {
      await w.context.close();
    }
  });

  test('desktop: photo and answer side by side, a second photo replacing the first', async () => {
    const w = await openPage(browser, served.url, { width: 1280, height: 860 }, false);
    try {
      const { page } = w;
      await page.goto(`${served.url}/`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.locator('#library').setInputFiles(path.join(miniTestDir, 'Pineapple', '209_100.jpg'));
      await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
      const first = await page.locator('.prediction.best .label').innerText();
      await page.locator('#library').setInputFiles(PHOTO);
      await page.waitForFunction((label) => document.querySelector('.prediction.best .label')?.textContent === label && document.body.dataset.state === 'done', expected);
      assert.notEqual(first, expected);
      const main = await page.locator('main').boundingBox();
      assert.ok(main && Math.abs(main.x + main.width / 2 - 640) < 2, `main ${JSON.stringify(main)}`);
      const photo = await page.locator('#drop').boundingBox();
      const results = await page.locator('#results').boundingBox();
      assert.ok(photo && results && results.x >= photo.x + photo.width, `photo ${JSON.stringify(photo)}, results ${JSON.stringify(results)}`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'serve-desktop.png') });
      assert.deepEqual(w.foreign, []);
      assert.deepEqual(w.errors, []);
    } finally {
      await w.context.close();
    }
  });

  test('SIGTERM stops the server cleanly', async () => {
    served.child.kill('SIGTERM');
    assert.equal(await served.exit, 0);
  });
});
