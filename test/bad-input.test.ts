// Bad input: a corpus generated at test time (test/helpers/corpus.ts) of files in every form a
// decoder meets — good ones in odd colour spaces, depths, orientations and names, and broken
// ones — checked one by one: each good file is a row with the right size, each bad one a
// reject with its path and a reason that says what is wrong, and the run still succeeds. Then
// the CLI's own errors: one line on stderr, nothing written.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorLines, featurize, runCli, show, type CliResult, type FeaturizeSummaryJson } from './helpers/cli.js';
import { CORPUS_MAX_PIXELS, writeBadInputCorpus, type CorpusEntry } from './helpers/corpus.js';
import { lit, query, readCsv } from './helpers/duckdb.js';
import { miniTestDir, tempDir } from './helpers/paths.js';

interface Row {
  path: string;
  label: string;
  width: number;
  height: number;
  dim: number;
  finite: boolean;
}

describe('featurize on a corpus of good, odd and broken files', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let corpus: string;
  let entries: CorpusEntry[];
  let out: string;
  let summary: FeaturizeSummaryJson;
  let rows: Map<string, Row[]>;
  let rejects: Record<string, string>[];

  before(async () => {
    tmp = await tempDir('bad-input');
    corpus = path.join(tmp.dir, 'corpus');
    entries = await writeBadInputCorpus(corpus);
    out = path.join(tmp.dir, 'out');
    // Small partitions, so good and bad files share parts and some parts hold only rejects.
    summary = await featurize([corpus, out, '--max-pixels', String(CORPUS_MAX_PIXELS), '--partition-size', '4', '--workers', '1']);
    const all = await query<Row>(
      `SELECT path, label, width, height, len(features)::INTEGER AS dim, list_bool_and(list_transform(features, x -> isfinite(x))) AS finite FROM ${lit(`${out}/*.parquet`)}`,
    );
    rows = new Map();
    for (const r of all) rows.set(r.path, [...(rows.get(r.path) ?? []), r]);
    rejects = await readCsv(path.join(out, '_rejects.csv'));
  });
  after(() => tmp.cleanup());

  const byKind = (kind: CorpusEntry['expect']['kind']) => entries.filter((e) => e.expect.kind === kind);

  it('succeeds despite the bad files: exit 0, _SUCCESS, counts that add up', async () => {
    assert.ok(existsSync(path.join(out, '_SUCCESS')));
    const listed = entries.length - byKind('ignored').length;
    assert.equal(summary.listed, listed);
    assert.equal(summary.rows, byKind('row').length);
    assert.equal(summary.rejects, byKind('reject').length);
    const m = JSON.parse(await fs.readFile(path.join(out, '_manifest.json'), 'utf8'));
    assert.equal(m.status, 'complete');
    assert.equal(m.counts.rejects, byKind('reject').length);
    // Partitions of 4 in listing order: the first holds bad files only, and is an empty part.
    assert.equal(m.partitions[0].rows, 0);
    assert.equal(m.partitions[0].rejects, 4);
    assert.ok(existsSync(path.join(out, 'part-00000.parquet')));
  });

  it('makes each good file one row with its label, its (oriented) width and height and a full vector', async () => {
    const good = byKind('row');
    assert.ok(good.length >= 15);
    for (const e of good) {
      const found = rows.get(e.key) ?? [];
      assert.equal(found.length, 1, `${e.what} (${e.key}): one row, got ${found.length}`);
      const [r] = found;
      assert.equal(r.label, e.label, `${e.what}: label`);
      if (e.expect.kind === 'row') assert.deepEqual([r.width, r.height], [e.expect.width, e.expect.height], `${e.what}: width × height`);
      assert.equal(r.dim, 1280, `${e.what}: vector length`);
      assert.equal(r.finite, true, `${e.what}: finite values`);
    }
    assert.equal(rows.size, good.length, 'no other rows');
  });

  it('puts each bad file in _rejects.csv with its path, label and a reason that names the problem', () => {
    const bad = byKind('reject');
    for (const e of bad) {
      const found = rejects.filter((r) => r.path === e.key);
      assert.equal(found.length, 1, `${e.what} (${e.key}): one reject, got ${found.length}`);
      const [r] = found;
      assert.equal(r.label, e.label);
      assert.ok(!rows.has(e.key), `${e.what} is not also a row`);
      if (e.expect.kind !== 'reject') continue;
      assert.match(r.reason, e.expect.reason, `${e.what}: reason`);
      if (e.expect.notReason) assert.doesNotMatch(r.reason, e.expect.notReason, `${e.what}: reason`);
      assert.ok(!/\n/.test(r.reason), 'one-line reason');
    }
    assert.equal(rejects.length, bad.length, 'no other rejects');
  });

  it('keeps odd names byte for byte (spaces, quotes, commas, unicode, leading dash, 228 bytes)', () => {
    for (const e of entries.filter((x) => x.label === 'odd names' || x.label === 'Äpfel süß')) assert.ok(rows.has(e.key), e.key);
    assert.ok(rejects.some((r) => r.path === 'bad/text, "not" an image.jpg'), 'a quoted, comma-holding path survives the CSV');
  });

  it('neither rows nor rejects for hidden files and non-images', () => {
    for (const e of byKind('ignored')) {
      assert.ok(!rows.has(e.key) && !rejects.some((r) => r.path === e.key), e.key);
    }
  });

  it('shows the rejects by kind in `fruits inspect --json`', async () => {
    const r = await runCli(['inspect', out, '--json']);
    assert.equal(r.code, 0, show(r));
    const j = JSON.parse(r.stdout);
    assert.equal(j.rows, byKind('row').length);
    assert.equal(j.rejects.total, byKind('reject').length);
    assert.equal(j.firstRows.length, 5, 'first rows come from the first part that has rows');
    assert.equal(j.featureDim, 1280);
    assert.equal(
      Object.values(j.rejects.byReason as Record<string, number>).reduce((a, b) => a + b, 0),
      byKind('reject').length,
    );
    for (const kind of ['empty file (0 bytes)', 'truncated image', 'over the pixel limit (300×300 > 50000 pixels)', 'unreadable']) {
      assert.ok(Object.keys(j.rejects.byReason).some((k) => k.startsWith(kind)), `${kind} in ${JSON.stringify(j.rejects.byReason)}`);
    }
  });

  it('with --max-reject-ratio 0.1 the same corpus fails: exit 3, one error line, no _SUCCESS', async () => {
    const strict = path.join(tmp.dir, 'strict');
    const r = await runCli(['featurize', corpus, strict, '--max-pixels', String(CORPUS_MAX_PIXELS), '--max-reject-ratio', '0.1', '--workers', '1', '--quiet']);
    assert.equal(r.code, 3, show(r));
    const bad = byKind('reject').length;
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, show(r));
    assert.match(lines[0], new RegExp(`^fruits: error: ${bad} of ${summary.listed} images rejected \\(\\d+\\.\\d% > --max-reject-ratio 0\\.1\\); see .*_rejects\\.csv$`));
    assert.ok(!existsSync(path.join(strict, '_SUCCESS')));
    const m = JSON.parse(await fs.readFile(path.join(strict, '_manifest.json'), 'utf8'));
    assert.equal(m.status, 'too_many_rejects');
    assert.equal((await readCsv(path.join(strict, '_rejects.csv'))).length, bad, 'the rejects are there to look at');
  });

  it('with a ratio above the actual one it succeeds (the threshold is a comparison, not a switch)', async () => {
    const ratio = (byKind('reject').length / summary.listed + 0.05).toFixed(2);
    const lenient = path.join(tmp.dir, 'lenient');
    const s = await featurize([corpus, lenient, '--max-pixels', String(CORPUS_MAX_PIXELS), '--max-reject-ratio', ratio, '--workers', '1']);
    assert.equal(s.rejects, byKind('reject').length);
    assert.ok(existsSync(path.join(lenient, '_SUCCESS')));
  });
});

// Each case is a separate CLI process that fails early: two at a time.
describe('CLI errors: one line on stderr, non-zero exit, nothing written', { concurrency: 2 }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir('cli-errors');
  });
  after(() => tmp.cleanup());

  /** Exactly one error line (besides informational log lines), starting `fruits: error:`. */
  function oneErrorLine(r: CliResult, pattern: RegExp): void {
    assert.notEqual(r.code, 0, show(r));
    assert.equal(r.signal, null);
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, `one error line:\n${show(r)}`);
    assert.match(lines[0], /^fruits: error: /);
    assert.match(lines[0], pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stdout, '');
  }

  it('a missing input folder', async () => {
    const out = path.join(tmp.dir, 'out-missing');
    const r = await runCli(['featurize', path.join(tmp.dir, 'no-such-folder'), out]);
    oneErrorLine(r, /input .*no-such-folder: no such folder/);
    assert.ok(!existsSync(out), 'no output folder');
  });

  it('an input folder without images', async () => {
    const input = path.join(tmp.dir, 'no-images');
    await fs.mkdir(path.join(input, 'Apples'), { recursive: true });
    await fs.writeFile(path.join(input, 'Apples', 'notes.txt'), 'no photos here\n');
    await fs.writeFile(path.join(input, 'Apples', '.hidden.jpg'), 'hidden');
    const out = path.join(tmp.dir, 'out-no-images');
    const r = await runCli(['featurize', input, out]);
    oneErrorLine(r, /no images \(\.jpg, \.jpeg, \.png, \.webp\) found/);
    assert.ok(!existsSync(out));
  });

  it('an output folder holding unrelated files', async () => {
    const out = path.join(tmp.dir, 'my-notes');
    await fs.mkdir(out);
    await fs.writeFile(path.join(out, 'notes.txt'), 'precious\n');
    for (const extra of [[], ['--overwrite']]) {
      const r = await runCli(['featurize', miniTestDir, out, '--limit', '2', ...extra]);
      oneErrorLine(r, /output .*my-notes is not empty and holds no previous fruits features output/);
      assert.deepEqual(await fs.readdir(out), ['notes.txt'], `unchanged ${extra.join(' ')}`);
      assert.equal(await fs.readFile(path.join(out, 'notes.txt'), 'utf8'), 'precious\n');
    }
  });

  const badFlags: [string[], RegExp][] = [
    [['--batch-size', '0'], /--batch-size: invalid value '0'/],
    [['--batch-size', 'abc'], /--batch-size: invalid value 'abc' \(expected a whole number of at least 1\)/],
    [['--max-reject-ratio', '2'], /--max-reject-ratio: invalid value '2' \(expected a number from 0 to 1\)/],
    [['--partition-size', '-1'], /--partition-size: invalid value '-1'/],
    [['--workers', '0'], /--workers: invalid value '0'/],
  ];
  for (const [flags, pattern] of badFlags) {
    it(`${flags.join(' ')}`, async () => {
      const out = path.join(tmp.dir, `out${flags.join('')}`);
      const r = await runCli(['featurize', miniTestDir, out, ...flags]);
      oneErrorLine(r, pattern);
      assert.equal(r.code, 2, 'usage errors exit 2');
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, 'nothing else on stderr: flags are checked before any work');
      assert.ok(!existsSync(out));
    });
  }

  it('an unknown option: a usage error in the house style (exit 2), nothing written', async () => {
    const out = path.join(tmp.dir, 'out-bogus');
    const r = await runCli(['featurize', miniTestDir, out, '--bogus']);
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stderr, "fruits: error: unknown option '--bogus' (run 'fruits featurize --help' for usage)\n");
    assert.ok(!existsSync(out));
  });
});
