// `fruits serve --log-features`, through the real CLI over loopback HTTP: each classified photo's
// features (the very features `fruits featurize` gives that photo), time, answer, novelty and
// bundle land as Parquet parts, by count and on shutdown; `fruits drift <bundle> <log>` reads the
// log as its batch. A store that cannot be written is a warning, never a failed request.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import * as pq from 'parquet-wasm/node';
import { readBundle } from '../src/classify/bundle.js';
import { loadDataset } from '../src/classify/dataset.js';
import { buildServer, SERVE_DEFAULTS } from '../src/serve/server.js';
import { collect, runCli, show, spawnCli } from './helpers/cli.js';
import { captureLogs } from './helpers/log-capture.js';
import { miniTestDir, sharedModelPath, tempDir } from './helpers/paths.js';
import { miniFeatures, trainBundle } from './classify-fixtures.js';

async function listParquet(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.parquet')) out.push(path.join(e.parentPath, e.name));
  }
  return out.sort();
}

describe('fruits serve --log-features', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let bundle: string;
  /** Relative paths (Class/file.jpg) of the photos sent. */
  const sent: string[] = [];

  before(async () => {
    tmp = await tempDir('serve-log');
    const data = await miniFeatures();
    bundle = path.join(tmp.dir, 'bundle');
    await trainBundle(data.train, bundle);
    for (const c of ['Banana', 'Kiwi', 'Lemon', 'Pear']) {
      const files = (await fs.readdir(path.join(miniTestDir, c))).sort().slice(0, 3);
      sent.push(...files.map((f) => `${c}/${f}`));
    }
  });
  after(async () => tmp?.cleanup());

  test('answers are logged as Parquet parts (by count and on shutdown) and fruits drift reads the log', async () => {
    const logDir = path.join(tmp.dir, 'log');
    const child = spawnCli(['serve', bundle, '--port', '0', '--threads', '1', '--log-features', logDir, '--log-flush-rows', '5']);
    const done = collect(child);
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const look = (d: Buffer) => {
        output += d.toString();
        const m = /ready: POST (http:\/\/[\d.:]+)\/v1\/classify/.exec(output);
        if (m) resolve(m[1]);
      };
      child.stdout!.on('data', look);
      child.stderr!.on('data', look);
      child.once('exit', () => reject(new Error(`serve exited before it was ready:\n${output}`)));
    });
    const answers: { label: string; bundle: string }[] = [];
    for (const rel of sent) {
      const res = await fetch(`${url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(await fs.readFile(path.join(miniTestDir, rel))) });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { predictions: { label: string }[]; model: { bundle: string } };
      answers.push({ label: body.predictions[0].label, bundle: body.model.bundle });
    }
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, show(r));

    // 12 answers, a part every 5: two by count, the last two on shutdown.
    const parts = await listParquet(path.join(logDir, 'parts'));
    assert.equal(parts.length, 3, parts.join('\n'));
    const rows: { time: string; answer: string; score: number; novelty: number; unknown: number; bundle: string; features: Float32Array }[] = [];
    for (const p of parts) {
      const table = tableFromIPC(pq.readParquet(new Uint8Array(await fs.readFile(p))).intoIPCStream());
      assert.equal(table.schema.metadata.get('format'), 'fruits.feature-log');
      for (const row of table) {
        const o = row.toJSON() as Record<string, unknown>;
        assert.equal(o.label, '', 'no true label: the answer is the model’s');
        rows.push({ ...(o as unknown as (typeof rows)[number]), features: Float32Array.from(o.features as Iterable<number>) });
      }
    }
    assert.equal(rows.length, sent.length);
    // In request order (one client, one request at a time): the answers as sent to the client.
    assert.deepEqual(
      rows.map((x) => ({ label: x.answer, bundle: x.bundle })),
      answers,
    );
    const id = (await readBundle(bundle)).manifestSha256.slice(0, 12);
    for (const x of rows) {
      assert.equal(x.bundle, id);
      assert.ok(!Number.isNaN(Date.parse(x.time)));
      assert.ok(x.score > 0 && x.score <= 1);
      assert.ok(Number.isFinite(x.novelty));
      assert.ok(x.unknown === 0 || x.unknown === 1);
    }
    // The features are the photo's features as fruits featurize computes them.
    const test = await loadDataset((await miniFeatures()).test);
    const dim = test.space.dim;
    sent.forEach((rel, i) => {
      const at = test.paths.findIndex((p) => p.endsWith(rel));
      assert.ok(at >= 0, rel);
      const want = test.rows.subarray(at * dim, (at + 1) * dim);
      const got = rows[i].features;
      assert.equal(got.length, dim);
      let dot = 0;
      let a = 0;
      let b = 0;
      for (let j = 0; j < dim; j++) {
        dot += want[j] * got[j];
        a += want[j] * want[j];
        b += got[j] * got[j];
      }
      assert.ok(dot / Math.sqrt(a * b) > 0.999, `${rel}: cosine ${dot / Math.sqrt(a * b)}`);
    });

    const drift = await runCli(['drift', bundle, logDir, '--json', '--no-report']);
    assert.ok(drift.code === 0 || drift.code === 4, show(drift));
    const result = JSON.parse(drift.stdout) as { verdict: string; batch: { rows: number; location: string } };
    assert.equal(result.batch.rows, sent.length);
    assert.match(result.verdict, /^(ok|drift)$/);
  });

  test('a store that cannot be written: a warning, and every request still answered', async () => {
    const blocker = path.join(tmp.dir, 'a-file');
    await fs.writeFile(blocker, 'not a folder');
    const { logger, logs } = captureLogs();
    const server = await buildServer(await readBundle(bundle), {
      ...SERVE_DEFAULTS,
      threads: 1,
      decodeSize: 'native',
      model: sharedModelPath,
      defaultMetrics: false,
      logger,
      logFeatures: path.join(blocker, 'log'),
      logFlushRows: 2,
    });
    try {
      await server.ready;
      const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
      for (const rel of sent.slice(0, 4)) {
        const res = await fetch(`${url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(await fs.readFile(path.join(miniTestDir, rel))) });
        assert.equal(res.status, 200);
      }
    } finally {
      await server.close();
    }
    const warnings = logs.filter((l) => l.level === 40 && /^feature log .* rows not written/.test(l.msg));
    assert.ok(warnings.length >= 1, JSON.stringify(logs.map((l) => l.msg)));
  });
});
