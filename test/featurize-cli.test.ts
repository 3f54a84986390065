// `fruits featurize` end to end on the whole mini Test set (1,200 real photos, 120 classes, the
// real MobileNetV2), run once and checked from every side: the summary, the manifest, DuckDB as
// an independent Parquet reader, the footer metadata, the features themselves (a nearest-
// neighbour check that they describe the fruit), determinism, batch-size stability, and
// `fruits inspect` and `--help`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliEnv, featurize, runCli, show, type FeaturizeSummaryJson } from './helpers/cli.js';
import { footerMetadata, lit, query } from './helpers/duckdb.js';
import { linkSubset, miniTestClasses, miniTestDir, miniTestImages, repoRoot, SHARED_MODEL_SHA256, tempDir } from './helpers/paths.js';

const DIM = 1280;
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

interface FeatureRow {
  path: string;
  label: string;
  features: number[];
}

async function featuresByPath(dir: string): Promise<Map<string, number[]>> {
  const rows = await query<FeatureRow>(`SELECT path, features FROM ${lit(`${dir}/*.parquet`)}`);
  return new Map(rows.map((r) => [r.path, r.features]));
}

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('fruits featurize on the whole mini Test set', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let out: string;
  let summary: FeaturizeSummaryJson;
  let expectedKeys: string[];
  let classes: string[];

  before(async () => {
    tmp = await tempDir('featurize-cli');
    out = path.join(tmp.dir, 'features');
    classes = await miniTestClasses();
    expectedKeys = [];
    for (const c of classes) for (const f of await miniTestImages(c)) expectedKeys.push(`${c}/${f}`);
    expectedKeys.sort(byteOrder);
    // The one full run of the suite: 3 partitions of 500/500/200, default workers.
    summary = await featurize([miniTestDir, out, '--partition-size', '500', '--batch-size', '16']);
  });
  after(() => tmp.cleanup());

  it('reports 1,200 rows of 120 labels in 3 partitions, nothing rejected', () => {
    assert.equal(summary.listed, 1200);
    assert.equal(summary.rows, 1200);
    assert.equal(summary.rejects, 0);
    assert.equal(summary.labels, 120);
    assert.equal(summary.partitions, 3);
    assert.equal(summary.resumedPartitions, 0);
    assert.equal(summary.output, out);
  });

  it('leaves _SUCCESS, the part files, their summaries and an empty _rejects.csv', async () => {
    assert.ok(existsSync(path.join(out, '_SUCCESS')));
    const names = await fs.readdir(out);
    for (const n of ['_SUCCESS', '_manifest.json', '_parts', '_rejects.csv']) assert.ok(names.includes(n), `${n} is there`);
    // What a dataset reader (Spark, pyarrow, DuckDB) sees: the parts only; no temporary files.
    assert.deepEqual(names.filter((n) => !n.startsWith('_')).sort(), ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']);
    assert.deepEqual((await fs.readdir(path.join(out, '_parts'))).sort(), ['part-00000.json', 'part-00001.json', 'part-00002.json']);
    assert.equal(await fs.readFile(path.join(out, '_rejects.csv'), 'utf8'), 'path,label,reason\n');
  });

  it('writes a manifest with the model, counts and every partition', async () => {
    const m = JSON.parse(await fs.readFile(path.join(out, '_manifest.json'), 'utf8'));
    assert.equal(m.format, 'fruits.features');
    assert.equal(m.status, 'complete');
    assert.equal(m.config.model.id, 'mobilenet_v2_1.0_224');
    assert.equal(m.config.model.sha256, SHARED_MODEL_SHA256);
    assert.equal(m.config.input, miniTestDir);
    assert.equal(m.config.partitionSize, 500);
    assert.equal(m.featureDim, DIM);
    assert.deepEqual(m.counts, { listed: 1200, rows: 1200, rejects: 0, labels: 120, partitions: 3 });
    assert.equal(Object.keys(m.rowsPerLabel).length, 120);
    assert.ok(Object.values(m.rowsPerLabel).every((n) => n === 10));
    assert.deepEqual(
      m.partitions.map((p: { index: number; file: string; rows: number; rejects: number }) => [p.index, p.file, p.rows, p.rejects]),
      [
        [0, 'part-00000.parquet', 500, 0],
        [1, 'part-00001.parquet', 350, 0], // the short remainder shared with the last full partition
        [2, 'part-00002.parquet', 350, 0],
      ],
    );
    for (const p of m.partitions) {
      assert.match(p.fingerprint, /^[0-9a-f]{64}$/);
      assert.equal(p.bytes, (await fs.stat(path.join(out, p.file))).size, `${p.file} size`);
    }
    assert.deepEqual(
      m.columns.map((c: { name: string }) => c.name),
      ['path', 'label', 'features', 'width', 'height', 'sha256'],
    );
  });

  it('reads back in DuckDB: 120 labels × 10 rows, every vector 1280 floats', async () => {
    const glob = lit(`${out}/*.parquet`);
    const [{ n }] = await query<{ n: bigint }>(`SELECT count(*) AS n FROM ${glob}`);
    assert.equal(Number(n), 1200);
    const perLabel = await query<{ label: string; n: bigint }>(`SELECT label, count(*) AS n FROM ${glob} GROUP BY label ORDER BY label`);
    assert.equal(perLabel.length, 120);
    assert.ok(perLabel.every((r) => Number(r.n) === 10));
    assert.deepEqual(perLabel.map((r) => r.label).sort(), [...classes].sort());
    const dims = await query<{ d: bigint }>(`SELECT DISTINCT len(features) AS d FROM ${glob}`);
    assert.deepEqual(dims.map((r) => Number(r.d)), [DIM]);
    const [types] = await query<{ t: string }>(`SELECT typeof(features) AS t FROM ${glob} LIMIT 1`);
    assert.equal(types.t, 'FLOAT[]');
    const [{ nulls }] = await query<{ nulls: bigint }>(`SELECT count(*) AS nulls FROM ${glob} WHERE list_count(features) <> ${DIM}`);
    assert.equal(Number(nulls), 0, 'no null values inside a vector');
  });

  it('has one row per photo, in listing (byte-wise) order across the parts, label = folder, size and sha256 of the file', async () => {
    const paths: string[] = [];
    for (const part of ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']) {
      const rows = await query<{ path: string; label: string; width: number; height: number }>(
        `SELECT path, label, width, height FROM read_parquet(${lit(path.join(out, part))})`,
      );
      for (const r of rows) {
        assert.equal(r.label, r.path.split('/')[0], r.path);
        assert.deepEqual([r.width, r.height], [100, 100], r.path);
        paths.push(r.path);
      }
    }
    assert.deepEqual(paths, expectedKeys);
    for (const key of [expectedKeys[0], expectedKeys[777], expectedKeys[1199]]) {
      const [{ sha256 }] = await query<{ sha256: string }>(`SELECT sha256 FROM ${lit(`${out}/*.parquet`)} WHERE path = ${lit(key)}`);
      const actual = createHash('sha256').update(await fs.readFile(path.join(miniTestDir, key))).digest('hex');
      assert.equal(sha256, actual, key);
    }
  });

  it('writes the model and preprocessing into every Parquet footer (read by DuckDB)', async () => {
    for (const part of ['part-00000.parquet', 'part-00002.parquet']) {
      const meta = await footerMetadata(path.join(out, part));
      assert.equal(meta['fruits.model_id'], 'mobilenet_v2_1.0_224');
      assert.equal(meta['fruits.model_sha256'], SHARED_MODEL_SHA256);
      assert.equal(meta['fruits.feature_dim'], '1280');
      assert.equal(meta['fruits.format'], 'fruits.features');
      assert.match(JSON.parse(meta['fruits.preprocessing']).resize, /224×224/);
    }
  });

  it('gives features that describe the fruit: each class\'s first photo has a nearest neighbour of its own class', async () => {
    const rows = await query<FeatureRow>(`SELECT path, label, features FROM ${lit(`${out}/*.parquet`)}`);
    const vectors = rows.map((r) => Float32Array.from(r.features));
    for (const v of vectors) assert.ok(v.every((x) => x >= 0 && x <= 6), 'ReLU6 averages lie in [0, 6]');
    const queries = rows.map((r, i) => ({ r, i })).filter(({ r }, j, all) => j === 0 || all[j - 1].r.label !== r.label);
    assert.equal(queries.length, 120);
    let correct = 0;
    for (const { r, i } of queries) {
      let best = -1;
      let bestD = Infinity;
      for (let j = 0; j < rows.length; j++) {
        if (j === i) continue;
        let d = 0;
        for (let k = 0; k < DIM; k++) {
          const t = vectors[i][k] - vectors[j][k];
          d += t * t;
        }
        if (d < bestD) [bestD, best] = [d, j];
      }
      if (rows[best].label === r.label) correct++;
    }
    // Random or misaligned vectors would score about 9/1199 per query; real ones nearly all.
    assert.ok(correct >= 108, `1-NN of its own class for ${correct} of 120 classes`);
  });

  it('is deterministic: a run on a subset, in another folder, gives byte-identical features', async () => {
    const subset = path.join(tmp.dir, 'subset');
    const keys = await linkSubset(subset, [classes[16], classes[51], classes[119]], 10);
    const s = await featurize([subset, path.join(tmp.dir, 'subset-out'), '--partition-size', '7', '--batch-size', '16', '--workers', '1']);
    assert.equal(s.rows, 30);
    const [full, part] = [await featuresByPath(out), await featuresByPath(path.join(tmp.dir, 'subset-out'))];
    assert.deepEqual([...part.keys()].sort(byteOrder), keys.sort(byteOrder));
    for (const k of keys) {
      const a = Buffer.from(Float32Array.from(full.get(k)!).buffer);
      const b = Buffer.from(Float32Array.from(part.get(k)!).buffer);
      assert.ok(a.equals(b), `${k}: features differ between runs`);
    }
  });

  it('gives the same features with --batch-size 1 as with 16 (within 1e-4)', async () => {
    const b1 = path.join(tmp.dir, 'batch1');
    const s = await featurize([miniTestDir, b1, '--limit', '24', '--batch-size', '1', '--workers', '1']);
    assert.equal(s.rows, 24);
    const [full, one] = [await featuresByPath(out), await featuresByPath(b1)];
    assert.equal(one.size, 24);
    let worst = 0;
    for (const [k, v] of one) worst = Math.max(worst, maxAbsDiff(v, full.get(k)!));
    assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
  });

  it('`fruits inspect` shows completeness, model, schema, 120 labels and the row count', async () => {
    const r = await runCli(['inspect', out, '--head', '2']);
    assert.equal(r.code, 0, show(r));
    const text = r.stdout;
    assert.match(text, /complete \(_SUCCESS\)/);
    assert.match(text, /model: mobilenet_v2_1\.0_224 \(sha256 a8961673f3c0…\)/);
    assert.match(text, /parts: 3 +rows: 1200 +labels: 120 +feature dim: 1280/);
    for (const [col, type] of [['path', 'string'], ['label', 'string'], ['features', 'list<float32>\\[1280\\]'], ['width', 'int32'], ['height', 'int32'], ['sha256', 'string']]) {
      assert.match(text, new RegExp(`^ +${col} +${type}$`, 'm'), `schema line for ${col}`);
    }
    for (const c of classes) assert.match(text, new RegExp(`^ +${c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +10$`, 'm'), `rows of ${c}`);
    assert.match(text, /^rejects: 0$/m);
    assert.match(text, /^first 2 rows:$/m);
  });

  it('`fruits inspect --json` gives the same facts as data', async () => {
    const r = await runCli(['inspect', out, '--json', '--head', '3']);
    assert.equal(r.code, 0, show(r));
    const j = JSON.parse(r.stdout);
    assert.equal(j.complete, true);
    assert.equal(j.format, 'fruits.features');
    assert.deepEqual(j.model, { id: 'mobilenet_v2_1.0_224', sha256: SHARED_MODEL_SHA256 });
    assert.equal(j.parts, 3);
    assert.equal(j.rows, 1200);
    assert.equal(j.featureDim, DIM);
    assert.deepEqual(
      j.schema.map((c: { name: string; type: string }) => `${c.name}:${c.type}`),
      ['path:string', 'label:string', `features:list<float32>[${DIM}]`, 'width:int32', 'height:int32', 'sha256:string'],
    );
    assert.equal(Object.keys(j.rowsPerLabel).length, 120);
    assert.ok(Object.values(j.rowsPerLabel).every((n) => n === 10));
    assert.deepEqual(j.rejects, { total: 0, byReason: {} });
    assert.equal(j.firstRows.length, 3);
    assert.equal(j.firstRows[0].path, expectedKeys[0]);
    const full = await featuresByPath(out);
    assert.ok(maxAbsDiff(j.firstRows[0].features, full.get(expectedKeys[0])!) === 0, 'inspect shows the stored vector');
  });
});

describe('fruits --help', { concurrency: 2 }, () => {
  const flagsOf = (help: string) => new Set(help.match(/--[a-z][a-z-]*/g));

  it('featurize --help lists every flag', async () => {
    const r = await runCli(['featurize', '--help']);
    assert.equal(r.code, 0, show(r));
    const flags = flagsOf(r.stdout);
    const expected = ['--overwrite', '--json', '--quiet', '--model', '--model-spec', '--device', '--input-size', '--workers', '--threads', '--batch-size', '--partition-size', '--limit', '--max-pixels', '--max-reject-ratio', '--help'];
    for (const f of expected) assert.ok(flags.has(f), `${f} is in featurize --help`);
    assert.match(r.stdout, /Usage: fruits featurize \[options\] <input> <output>/);
    assert.match(r.stdout, /Examples:/);
  });

  it('inspect --help lists every flag', async () => {
    const r = await runCli(['inspect', '--help']);
    assert.equal(r.code, 0, show(r));
    const flags = flagsOf(r.stdout);
    for (const f of ['--head', '--json', '--help']) assert.ok(flags.has(f), `${f} is in inspect --help`);
    assert.match(r.stdout, /Usage: fruits inspect \[options\] <dataset>/);
  });

  it('the top-level help lists both commands, and --version prints the version', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^ +featurize \[options\] <input> <output>/m);
    assert.match(r.stdout, /^ +inspect \[options\] <dataset>/m);
    const v = await runCli(['--version']);
    const pkg = JSON.parse(await fs.readFile(path.join(repoRoot, 'package.json'), 'utf8'));
    assert.equal(v.stdout.trim(), pkg.version);
  });

  it("`npx fruits` runs the built bin, as the README's first command does (executable, with its shebang)", () => {
    // npm runs a project's own bin file directly: without the exec bit it is "Permission denied".
    const r = spawnSync('npm', ['exec', '--no', '--', 'fruits', '--version'], { cwd: repoRoot, encoding: 'utf8', env: cliEnv() });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
  });

  it('`fruits inspect`, `fit` and `train` where there is no dataset: one error line saying which case', async () => {
    const tmp = await tempDir('inspect-empty');
    const oneLine = async (args: string[], expected: RegExp) => {
      const r = await runCli(args);
      assert.equal(r.code, 1, show(r));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, expected);
    };
    try {
      const missing = path.join(tmp.dir, 'typo');
      const nothing = /^fruits: error: .*: nothing there \(no such folder, or it is empty\)\n$/;
      await oneLine(['inspect', missing], nothing);
      await oneLine(['inspect', tmp.dir], nothing);
      await oneLine(['fit', missing, path.join(tmp.dir, 'pca')], nothing);
      await oneLine(['train', missing, path.join(tmp.dir, 'bundle')], nothing);
      await fs.writeFile(path.join(tmp.dir, 'notes.txt'), 'not a dataset');
      await oneLine(['inspect', tmp.dir], /^fruits: error: .*no dataset here \(no part-\*\.parquet files\)\n$/);
      await oneLine(['fit', tmp.dir, path.join(tmp.dir, 'pca')], /^fruits: error: .*not a fruits features dataset \(no _manifest\.json\)\n$/);
    } finally {
      await tmp.cleanup();
    }
  });
});
