// report.html: the schema at its boundary, then the real page in headless Chromium with the
// network cut off — the charts must draw, the figures must be right and nothing may leak out
// of its escaping.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { buildChartSpecs } from '../src/report/charts.js';
import { renderReportHtml, warmUpReport } from '../src/report/html.js';
import { parseRunReport, varianceKept, type RunReport } from '../src/report/types.js';
import { UserError } from '../src/util/errors.js';
import { launchBrowser, openOfflinePage } from './helpers/browser.js';
import { mulberry32 } from './helpers/random.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));


function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const FRUITS = [
  'Apple', 'Apricot', 'Avocado', 'Banana', 'Beetroot', 'Blueberry', 'Cactus fruit', 'Cantaloupe',
  'Carambula', 'Cherry', 'Chestnut', 'Clementine', 'Cocos', 'Dates', 'Eggplant', 'Fig', 'Granadilla',
  'Grape', 'Grapefruit', 'Guava', 'Kaki', 'Kiwi', 'Kumquats', 'Lemon', 'Limes', 'Lychee', 'Mango',
  'Maracuja', 'Nectarine', 'Papaya',
];
const VARIETIES = ['', ' Red', ' Golden 2', ' Pink Lady'];

/** Names that would break a page that forgot to escape: markup, quotes, spaces, non-ASCII. */
const HOSTILE_PATHS = [
  'Test/Apple Braeburn/r_12 copy (2).jpg',
  'Test/Pomme <script>window.__pwned = 1</script>/a.jpg',
  'Test/Pêche Blanche/été 2024 – ü ß 桃.jpg',
  'Test/Kiwi/<img src=x onerror="window.__pwned=2">.png',
  'Test/Lemon/"quoted" & \'single\'.jpg',
  'Test/Mango/</script><b>bold</b>.jpg',
  'Test/Fig/truncated.jpg',
];
const REASONS = [
  'corrupt JPEG: premature end of data segment',
  'unsupported image format',
  'decode failed: Input buffer contains unsupported image format',
  'unsupported image format <svg>',
  'image is empty (0 bytes)',
  'corrupt JPEG: bad Huffman table',
  'corrupt JPEG: premature end of data segment',
];

/** A run as the pipeline would hand it over: 120 labels, 1280 ratios, 3,000 sampled points. */
function realisticReport(): RunReport {
  const rand = mulberry32(42);
  const labels = FRUITS.flatMap((f) => VARIETIES.map((v) => `${f}${v}`));
  labels[7] = 'Pear <Abate> & Co';
  const rowsPerLabel = labels.map((label) => ({ label, count: 40 + Math.floor(rand() * 120) }));
  const rows = rowsPerLabel.reduce((s, l) => s + l.count, 0);

  // A MobileNetV2-like spectrum: a few strong directions, then a long power-law tail.
  const raw = Array.from({ length: 1280 }, (_, i) => 0.6 * Math.exp(-i / 6) + (i + 1) ** -1.15);
  const total = raw.reduce((s, x) => s + x, 0);
  const evr = raw.map((x) => x / total);
  const cumulative: number[] = [];
  evr.reduce((s, x) => (cumulative.push(s + x), s + x), 0);
  const target = 0.8;
  const k = cumulative.findIndex((c) => c >= target) + 1;

  const centres = labels.map(() => ({ x: gaussian(rand) * 9, y: gaussian(rand) * 6, s: 0.6 + rand() }));
  const points = Array.from({ length: 3000 }, (_, i) => {
    const li = i % labels.length;
    const c = centres[li];
    return {
      pc1: c.x + gaussian(rand) * c.s,
      pc2: c.y + gaussian(rand) * c.s * 0.8,
      label: labels[li],
      path: i === 5 ? 'Test/Mango/</script><script>window.__pwned=3</script>.jpg' : `Test/${labels[li]}/r_${i}_100.jpg`,
    };
  });

  const rejects = HOSTILE_PATHS.map((path, i) => ({ path, reason: REASONS[i] }));
  const images = rows + rejects.length;
  const timing = (stage: 'featurize' | 'statistics' | 'fit' | 'transform', seconds: number, items: number) => ({
    stage,
    seconds,
    items,
    itemsPerSecond: items / seconds,
  });
  return {
    title: 'Fruits-360 features',
    runId: '2025-11-24T02-31-07Z-7f3a',
    generatedAt: '2025-11-24T02:41:19.512Z',
    input: '/data/fruits-360/Test',
    output: 's3://fruits-results/runs/2025-11-24/',
    softwareVersion: '0.1.0',
    durationSeconds: 612.4,
    model: {
      id: 'mobilenet_v2_1.0_224 (ImageNet, no top)',
      sha256: 'b3f1c7a9e4d2081f6a5c3e7b9d1f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f',
    },
    totals: { images, rows, rejects: rejects.length, labels: labels.length },
    rowsPerLabel,
    rejects: { total: rejects.length, items: rejects },
    timings: [
      timing('featurize', 571.2, images),
      timing('statistics', 9.8, rows),
      timing('fit', 4.1, 1280),
      timing('transform', 21.7, rows),
    ],
    pca: { k, variance: target, scale: 'standard', inputDim: 1280, explainedVarianceRatio: evr, cumulative },
    scatter: { total: rows, points },
  };
}

describe('parseRunReport', () => {
  test('accepts a report that went through JSON', () => {
    const report = realisticReport();
    assert.deepEqual(parseRunReport(JSON.parse(JSON.stringify(report))), report);
  });

  test("accepts the coordinator's warm-up report (a run renders it before its own)", () => {
    assert.doesNotThrow(() => warmUpReport());
  });

  test('rejects a malformed report with one clear line naming each bad field', () => {
    const bad = JSON.parse(JSON.stringify(realisticReport()));
    delete bad.pca.k;
    bad.model.sha256 = 'not-a-hash';
    assert.throws(
      () => parseRunReport(bad),
      (err: unknown) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, /^invalid run report: /);
        assert.match(err.message, /pca\.k: /);
        assert.match(err.message, /model\.sha256: must be 64 lowercase hex digits/);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
  });

  test('rejects totals that contradict the details', () => {
    const bad = realisticReport();
    bad.totals.labels = 119;
    bad.pca.cumulative[3] += 0.01;
    assert.throws(() => parseRunReport(bad), /totals\.labels: is 119 but rowsPerLabel has 120 entries.*pca\.cumulative\[3\]: /);
  });

  test('rejects a k beyond the spectrum, and an unbounded scatter sample', () => {
    const farK = realisticReport();
    farK.pca.k = 2000;
    assert.throws(() => parseRunReport(farK), /pca\.k: is 2000, more than pca\.inputDim \(1280\)/);
    const huge = realisticReport();
    huge.scatter.points = Array.from({ length: 5001 }, () => huge.scatter.points[0]);
    assert.throws(() => parseRunReport(huge), /scatter\.points: Too big/);
  });

  test('rejects an empty object by listing the first missing fields, not a wall of text', () => {
    assert.throws(
      () => parseRunReport({}),
      (err: Error) => /^invalid run report: title: missing; runId: missing; .*\(and \d+ more\)$/.test(err.message),
    );
  });
});

describe('chart specs', () => {
  test('compile without Vega-Lite warnings', () => {
    assert.deepEqual(buildChartSpecs(realisticReport()).warnings, []);
  });

  test('show a colour legend only when labels are few enough to read it', () => {
    const many = buildChartSpecs(realisticReport()).specs.scatter;
    assert.doesNotMatch(JSON.stringify(many), /"legends"/);
    const few = realisticReport();
    few.scatter.points = few.scatter.points.map((p, i) => ({ ...p, label: `Class ${i % 5}` }));
    assert.match(JSON.stringify(buildChartSpecs(few).specs.scatter), /"legends"/);
  });

  test('render without a variance target or rejects', () => {
    const r = realisticReport();
    delete r.pca.variance;
    r.rejects = { total: 0, items: [] };
    r.totals.rejects = 0;
    const html = renderReportHtml(parseRunReport(r));
    assert.match(html, /No rejects/);
    assert.doesNotMatch(html, /target \d/);
  });
});

describe('report.html in a browser with no network', { timeout: 180_000 }, () => {
  let browser: Browser;
  let dir: string;
  let url: string;
  const report = realisticReport();

  before(async () => {
    browser = await launchBrowser();
    dir = mkdtempSync(join(tmpdir(), 'fruits-report-'));
    const file = join(dir, 'report.html');
    const html = renderReportHtml(parseRunReport(report));
    writeFileSync(file, html);
    url = pathToFileURL(file).href;
    // Kept beside the screenshots so a person can open the page the test looked at.
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'report.html'), html);
  });
  after(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openReport(viewport?: { width: number; height: number }) {
    const offline = await openOfflinePage(browser, viewport);
    await offline.page.goto(url);
    await offline.page.waitForSelector('body[data-charts-ready], body[data-charts-error]', { timeout: 60_000 });
    return offline;
  }

  test('draws every chart, shows the figures and escapes every name', async () => {
    const { page, blockedRequests, errors, close } = await openReport();
    try {
      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
      assert.equal(await page.getAttribute('body', 'data-charts-error'), null);
      assert.equal(await page.getAttribute('body', 'data-charts-ready'), 'true');

      // Each chart drew real marks, not an empty frame.
      const marks = (chart: string, selector: string) => page.locator(`[data-chart="${chart}"] svg ${selector}`).count();
      assert.equal(await marks('scatter', '.mark-symbol path'), report.scatter.points.length);
      assert.ok((await marks('scree', '.mark-line path')) >= 2, 'scree lines');
      assert.ok((await marks('cumulative', '.mark-area path')) >= 1, 'cumulative area');
      const lineLength = await page.locator('[data-chart="scree"] svg .mark-line path').first().getAttribute('d');
      assert.ok((lineLength ?? '').length > 1000, 'the scree line follows the spectrum');
      for (const chart of ['scree', 'cumulative', 'scatter']) {
        const box = await page.locator(`[data-chart="${chart}"] svg`).boundingBox();
        assert.ok(box && box.width > 300 && box.height > 150, `${chart} has a real size`);
      }

      // 120 labels: no legend (unreadable), a picker instead.
      assert.equal(await page.locator('[data-chart="scatter"] .role-legend').count(), 0);
      assert.equal(await page.locator('[data-chart="scatter"] select option').count(), report.totals.labels + 1);

      // The chosen k and the variance kept, in the header and on the charts.
      const { k } = report.pca;
      const figures = await page.locator('.figures').innerText();
      assert.match(figures, new RegExp(`k = ${k}\\b`));
      assert.match(figures, new RegExp(`${(varianceKept(report) * 100).toFixed(1)}%`));
      const screeTexts = await page.locator('[data-chart="scree"] svg text').allTextContents();
      assert.ok(screeTexts.includes(`k = ${k}`), `scree marks k: ${screeTexts.join(' | ')}`);
      // On the cumulative chart the label sits low, away from the curve that runs along the top.
      const kLabel = page.locator('[data-chart="cumulative"] svg text', { hasText: `k = ${k} · ${(varianceKept(report) * 100).toFixed(1)}% kept` });
      assert.equal(await kLabel.count(), 1, 'cumulative marks k and the variance kept');
      const [labelBox, chartBox] = await Promise.all([kLabel.boundingBox(), page.locator('[data-chart="cumulative"] svg').boundingBox()]);
      assert.ok(labelBox && chartBox && labelBox.y > chartBox.y + chartBox.height / 2, `the k label is in the lower half: ${JSON.stringify({ labelBox, chartBox })}`);
      const cumulativeTexts = await page.locator('[data-chart="cumulative"] svg text').allTextContents();
      assert.ok(cumulativeTexts.includes('target 80.0%'), `variance target rule is labelled: ${cumulativeTexts.join(' | ')}`);
      assert.match(await page.locator('#scatter .note').innerText(), /3,000 of [\d,]+ points shown/);

      // Every reject is listed, byte for byte, and none of their markup ran.
      const paths = await page.locator('table.rejects td.path').allTextContents();
      assert.deepEqual(paths, HOSTILE_PATHS);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      assert.equal(await page.locator('script').count(), 3);
      assert.equal(await page.locator('ol.label-bars li').count(), report.totals.labels);
      assert.ok((await page.locator('ol.label-bars').innerText()).includes('Pear <Abate> & Co'));

      // Hovering a point names it.
      const target = page.locator('[data-chart="scatter"] svg .mark-symbol path').nth(10);
      await target.scrollIntoViewIfNeeded();
      const point = await target.boundingBox();
      assert.ok(point);
      await page.mouse.move(point.x + point.width / 2, point.y + point.height / 2);
      await page.waitForSelector('#chart-tooltip:not([hidden])', { timeout: 5_000 });
      assert.match(await page.locator('#chart-tooltip').innerText(), /Label: .+\nPath: Test\//);
      await page.mouse.move(2, 2);

      // Picking a label greys out every other point.
      const picked = report.scatter.points[0].label;
      await page.locator('[data-chart="scatter"] select').selectOption({ label: picked });
      const fills = await page
        .locator('[data-chart="scatter"] svg .mark-symbol path')
        .evaluateAll((paths) => paths.map((p) => p.getAttribute('fill')));
      const coloured = fills.filter((f) => f !== '#cbd5e1').length;
      assert.equal(coloured, report.scatter.points.filter((p) => p.label === picked).length);

      assert.deepEqual(blockedRequests, [], 'the report needs no network');
      assert.deepEqual(errors, [], 'no console errors');
    } finally {
      await close();
    }
  });

  test('fits a phone screen', async () => {
    const { page, blockedRequests, errors, close } = await openReport({ width: 390, height: 844 });
    try {
      await page.screenshot({ path: join(ARTIFACTS, 'report-phone.png'), fullPage: true });
      assert.equal(await page.getAttribute('body', 'data-charts-ready'), 'true');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
      const scatter = await page.locator('[data-chart="scatter"] svg').boundingBox();
      assert.ok(scatter && scatter.width <= 390 && scatter.width > 250, `scatter is ${scatter?.width}px wide`);
      assert.deepEqual(blockedRequests, []);
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  });
});
