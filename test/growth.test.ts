// Growing collections on a local folder: seeded random sequences of additions, re-shot photos,
// removals and touches, each followed by `fruits run` on the same output, end exactly where a run
// from scratch on the final input does — the same rows, features byte for byte, statistics to
// 1e-9, the PCA to 1e-6 — while featurizing only what is new or changed. Also: --keep-pca, the
// version history, `fruits compact`, the guard rails, the lock, and a crash at each step of a
// commit followed by a rerun.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorLines, runCli, show } from './helpers/cli.js';
import { miniTestClasses, tempDir } from './helpers/paths.js';
import { readRows } from './helpers/datasets.js';
import { Collection, assertSameFeatures, assertSameStatsAndPca, photoPool, rowsByPath } from './helpers/growth.js';

const PARTITION = 6;
const COMMON = ['--partition-size', String(PARTITION), '--workers', '1', '--threads', '1', '--batch-size', '4', '--k', '4'];

interface RunJson {
  featurize: {
    rows: number;
    partitions: number;
    version?: number;
    update?: { added: number; changed: number; removed: number; touched: number; featurized: number; partsAdded: string[]; partsRemoved: string[]; unchanged: boolean };
  };
  statistics: { computedParts?: number; parts?: number; resumed: boolean };
  fit: { resumed: boolean };
  transform: { rows: number; parts: number; resumedParts: number };
}

async function run(input: string, out: string, extra: string[] = [], env?: Record<string, string>): Promise<RunJson> {
  const r = await runCli(['run', input, out, ...COMMON, ...extra, '--json', '--quiet'], { env });
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as RunJson;
}

async function manifest(dir: string): Promise<Record<string, any>> {
  return JSON.parse(await fs.readFile(path.join(dir, '_manifest.json'), 'utf8'));
}

/** The names of the files a reader of the folder sees. */
async function visibleParts(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => !n.startsWith('_') && !n.startsWith('.')).sort();
}

async function mtimes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const n of await visibleParts(dir)) out.set(n, (await fs.stat(path.join(dir, n))).mtimeMs);
  return out;
}

describe('growing collections (local folder)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let pool: { key: string; file: string }[];

  before(async () => {
    tmp = await tempDir('growth');
    pool = await photoPool((await miniTestClasses()).slice(0, 6), 9);
  });
  after(async () => {
    await tmp.cleanup();
  });

  for (const seed of [7, 1234]) {
    it(`seed ${seed}: a sequence of updates ends where a run from scratch does, featurizing only new and changed photos`, { timeout: 600_000 }, async () => {
      const input = path.join(tmp.dir, `in-${seed}`);
      const out = path.join(tmp.dir, `out-${seed}`);
      const c = new Collection(input, pool, seed);
      await c.add(26);
      const first = await run(input, out);
      assert.equal(first.featurize.rows, 26);
      assert.equal(first.featurize.version, 1);

      const steps = [
        { add: 7, change: 2, remove: 3, touch: 2 },
        { add: 3, change: 1, remove: 4, touch: 0 },
        { add: 9, change: 2, remove: 1, touch: 1 },
      ];
      let version = 1;
      for (const [i, size] of steps.entries()) {
        const features = path.join(out, 'features');
        const before = await mtimes(features);
        const s = await c.step(size);
        const r = await run(input, out);
        const u = r.featurize.update!;
        assert.deepEqual(
          { added: u.added, changed: u.changed, removed: u.removed, touched: u.touched, featurized: u.featurized },
          { added: s.added.length, changed: s.changed.length, removed: s.removed.length, touched: s.touched.length, featurized: s.added.length + s.changed.length },
          `step ${i + 1}: what the update saw and did`,
        );
        assert.equal(r.featurize.version, ++version);
        assert.equal(r.featurize.rows, c.present.size);
        // Parts the update did not replace are left as they were; the folder holds only current parts.
        const now = await mtimes(features);
        for (const [name, t] of before) if (!u.partsRemoved.includes(name)) assert.equal(now.get(name), t, `step ${i + 1}: ${name} untouched`);
        const m = await manifest(features);
        assert.deepEqual(await visibleParts(features), m.partitions.map((p: { file: string }) => p.file).sort(), 'the folder holds exactly the current parts');
        assert.ok(!existsSync(path.join(features, '_staging')), 'no staging left');
        // Statistics only for the new parts; every row re-projected by default.
        assert.equal(r.statistics.computedParts, u.partsAdded.length, `step ${i + 1}: statistics computed for the new parts only`);
        assert.equal(r.transform.resumedParts, 0, 'a refit re-projects every row');
        assert.equal(r.transform.rows, c.present.size);
      }

      const scratch = path.join(tmp.dir, `scratch-${seed}`);
      await run(input, scratch);
      await assertSameFeatures(path.join(out, 'features'), path.join(scratch, 'features'));
      await assertSameStatsAndPca(out, scratch);
      const reduced = await rowsByPath(path.join(out, 'reduced'));
      assert.deepEqual([...reduced.keys()].sort(), [...c.present].sort(), 'reduced holds one row per current photo');

      // The history: one version per update, with what it changed.
      const m = await manifest(path.join(out, 'features'));
      assert.deepEqual(
        m.versions.map((v: { version: number; kind: string; images: object }) => [v.version, v.kind]),
        [[1, 'full'], [2, 'update'], [3, 'update'], [4, 'update']],
      );
      const shown = await runCli(['inspect', path.join(out, 'features'), '--head', '0']);
      assert.equal(shown.code, 0, show(shown));
      assert.match(shown.stdout, /^version: 4$/m);
      assert.match(shown.stdout, /^versions \(4\):$/m);
      assert.match(shown.stdout, /^ {2}v4 .* update .*\+9 ~2 -1 images/m);
      const reducedShown = await runCli(['inspect', path.join(out, 'reduced'), '--head', '0']);
      assert.match(reducedShown.stdout, /^projected from features version 4$/m);

      // The report shows the versions and what this update changed.
      const report = await fs.readFile(path.join(out, 'report.html'), 'utf8');
      assert.match(report, /<h2 id="versions-h">Dataset versions<\/h2>/);
      assert.match(report, /This run made version 4\./);
      assert.match(report, /<tr class="current"><th scope="row">4<\/th>.*<td class="num">\+9<\/td><td class="num">2<\/td><td class="num">−1<\/td>/);

      // A rerun with nothing new changes nothing.
      const again = await run(input, out);
      assert.equal(again.featurize.update!.unchanged, true);
      assert.equal(again.featurize.version, 4);
      assert.equal(again.statistics.resumed, true);
    });
  }

  it('--keep-pca keeps the fitted model and projects only the new rows', { timeout: 300_000 }, async () => {
    const input = path.join(tmp.dir, 'in-keep');
    const out = path.join(tmp.dir, 'out-keep');
    const c = new Collection(input, pool, 99);
    await c.add(20);
    await run(input, out);
    const model = await fs.readFile(path.join(out, 'pca', 'model.json'));
    const reducedBefore = await mtimes(path.join(out, 'reduced'));
    await c.add(7);
    const r = await run(input, out, ['--keep-pca']);
    assert.equal(r.featurize.update!.featurized, 7);
    assert.equal(r.fit.resumed, true);
    assert.ok((await fs.readFile(path.join(out, 'pca', 'model.json'))).equals(model), 'the model is kept byte for byte');
    assert.equal(r.transform.parts - r.transform.resumedParts, r.featurize.update!.partsAdded.length, 'only new parts are projected');
    const reducedAfter = await mtimes(path.join(out, 'reduced'));
    for (const [name, t] of reducedBefore) if (reducedAfter.has(name)) assert.equal(reducedAfter.get(name), t, `${name} not projected again`);
    const reduced = await rowsByPath(path.join(out, 'reduced'));
    assert.deepEqual([...reduced.keys()].sort(), [...c.present].sort());

    // The bundle records which version of the photos it was trained on; evaluate says it.
    const bundle = path.join(tmp.dir, 'bundle-keep');
    const trained = await runCli(['train', out, bundle, '--quiet']);
    assert.equal(trained.code, 0, show(trained));
    assert.equal(JSON.parse(await fs.readFile(path.join(bundle, 'bundle.json'), 'utf8')).training.datasetVersion, 2);
    const evaluated = await runCli(['evaluate', bundle, out, '--no-report', '--quiet']);
    assert.equal(evaluated.code, 0, show(evaluated));
    assert.match(evaluated.stdout, /^trained on .* \(dataset version 2\); evaluated on dataset version 2$/m);
  });

  it('fruits compact packs undersized parts into full ones without inference, rows unchanged', { timeout: 300_000 }, async () => {
    const input = path.join(tmp.dir, 'in-compact');
    const out = path.join(tmp.dir, 'features-compact');
    const c = new Collection(input, pool, 5);
    await c.add(12);
    const f = ['--partition-size', String(PARTITION), '--workers', '1', '--threads', '1', '--batch-size', '4', '--quiet'];
    for (let i = 0; i < 3; i++) {
      await c.add(1);
      const r = await runCli(['featurize', input, out, ...f]);
      assert.equal(r.code, 0, show(r));
    }
    const before = await rowsByPath(out);
    const parts = (await manifest(out)).partitions.length;
    assert.equal(parts, 5, '2 full parts and 3 parts of one photo');
    const r = await runCli(['compact', out, '--workers', '1', '--json', '--quiet']);
    assert.equal(r.code, 0, show(r));
    const change = JSON.parse(r.stdout.trim()) as { partsAdded: string[]; partsRemoved: string[]; version: number };
    assert.equal(change.partsRemoved.length, 3);
    assert.equal(change.partsAdded.length, 1);
    const m = await manifest(out);
    assert.equal(m.partitions.length, 3);
    assert.equal(m.versions.at(-1).kind, 'compact');
    const afterRows = await rowsByPath(out);
    assert.deepEqual([...afterRows.keys()].sort(), [...before.keys()].sort());
    for (const [p, bytes] of before) assert.ok(afterRows.get(p)!.equals(bytes), `${p}: features unchanged`);
    const again = await runCli(['compact', out, '--workers', '1', '--json', '--quiet']);
    assert.equal(JSON.parse(again.stdout.trim()).unchanged, true, 'nothing left to compact');
  });

  it('guard rails: a listing that would remove more than half, or another input root, changes nothing', { timeout: 300_000 }, async () => {
    const input = path.join(tmp.dir, 'in-guard');
    const out = path.join(tmp.dir, 'features-guard');
    const c = new Collection(input, pool, 11);
    await c.add(10);
    const f = ['--partition-size', String(PARTITION), '--workers', '1', '--quiet'];
    assert.equal((await runCli(['featurize', input, out, ...f])).code, 0);
    const manifestBefore = await fs.readFile(path.join(out, '_manifest.json'));
    const partsBefore = await visibleParts(out);
    for (const key of [...c.present].slice(0, 6)) await fs.rm(path.join(input, ...key.split('/')));

    const refused = await runCli(['featurize', input, out, ...f]);
    assert.equal(refused.code, 1, show(refused));
    const lines = errorLines(refused.stderr);
    assert.equal(lines.length, 1, show(refused));
    assert.match(lines[0], /^fruits: error: input .* would remove 6 of the dataset's 10 images \(more than half\): nothing changed; .*--allow-removals$/);
    assert.ok((await fs.readFile(path.join(out, '_manifest.json'))).equals(manifestBefore), 'manifest unchanged');
    assert.deepEqual(await visibleParts(out), partsBefore);
    assert.ok(existsSync(path.join(out, '_SUCCESS')));
    assert.ok(!existsSync(path.join(out, '_lock.json')), 'the lock is released');

    const other = path.join(tmp.dir, 'in-guard-other');
    await fs.cp(input, other, { recursive: true });
    const elsewhere = await runCli(['featurize', other, out, ...f]);
    assert.equal(elsewhere.code, 1);
    assert.match(errorLines(elsewhere.stderr)[0], /^fruits: error: output .* holds a run with other settings \(input .*\); pass --overwrite/);

    const allowed = await runCli(['featurize', input, out, ...f, '--allow-removals', '--json']);
    assert.equal(allowed.code, 0, show(allowed));
    assert.equal(JSON.parse(allowed.stdout.trim().split('\n').pop()!).rows, 4);
  });

  it('a rejected photo is tried again only when its bytes change', { timeout: 300_000 }, async () => {
    const input = path.join(tmp.dir, 'in-reject');
    const out = path.join(tmp.dir, 'features-reject');
    const c = new Collection(input, pool, 8);
    const [victim] = await c.add(6);
    const file = path.join(input, ...victim.split('/'));
    const good = await fs.readFile(file);
    await fs.writeFile(file, good.subarray(0, 40)); // a truncated photo
    const f = ['--partition-size', String(PARTITION), '--workers', '1', '--quiet', '--json'];
    const last = (r: { stdout: string }) => JSON.parse(r.stdout.trim().split('\n').pop()!) as { rows: number; rejects: number; update?: { featurized: number; changed: number } };
    const first = await runCli(['featurize', input, out, ...f]);
    assert.deepEqual([last(first).rows, last(first).rejects], [5, 1], show(first));
    await c.add(1);
    const again = last(await runCli(['featurize', input, out, ...f]));
    assert.equal(again.update!.featurized, 1, 'only the new photo: the reject is not tried again');
    assert.equal(again.rejects, 1);
    await fs.writeFile(file, good); // fixed
    const fixed = last(await runCli(['featurize', input, out, ...f]));
    assert.deepEqual([fixed.update!.changed, fixed.update!.featurized, fixed.rows, fixed.rejects], [1, 1, 7, 0]);
    assert.match(await fs.readFile(path.join(out, '_rejects.csv'), 'utf8'), /^path,label,reason\n$/);
  });

  it('the lock: a live holder refuses a second run in one line; a dead holder is taken over', { timeout: 300_000 }, async () => {
    const input = path.join(tmp.dir, 'in-lock');
    const out = path.join(tmp.dir, 'features-lock');
    const c = new Collection(input, pool, 3);
    await c.add(5);
    const f = ['--partition-size', String(PARTITION), '--workers', '1', '--quiet'];
    assert.equal((await runCli(['featurize', input, out, ...f])).code, 0);
    await c.add(2);
    const lockFile = path.join(out, '_lock.json');
    const now = new Date().toISOString();
    // Held by this (live) test process.
    await fs.writeFile(lockFile, JSON.stringify({ owner: 'a1', host: os.hostname(), pid: process.pid, command: 'fruits featurize', createdAt: now, heartbeatAt: now }));
    const refused = await runCli(['featurize', input, out, ...f]);
    assert.equal(refused.code, 1, show(refused));
    assert.equal(errorLines(refused.stderr).length, 1, show(refused));
    assert.match(errorLines(refused.stderr)[0], new RegExp(`^fruits: error: .* is being updated by another run \\(fruits featurize, pid ${process.pid} on `));
    assert.equal((await manifest(out)).version, 1);

    // Another host's lock without a heartbeat for longer than the time-to-live.
    const old = new Date(Date.now() - 3_600_000).toISOString();
    await fs.writeFile(lockFile, JSON.stringify({ owner: 'b2', host: 'elsewhere', pid: 1, command: 'fruits run', createdAt: old, heartbeatAt: old }));
    const taken = await runCli(['featurize', input, out, ...f]);
    assert.equal(taken.code, 0, show(taken));
    assert.match(taken.stderr, /taking over the lock of fruits run \(pid 1 on elsewhere\): no heartbeat for \d+ s/);
    assert.equal((await manifest(out)).version, 2);
    assert.ok(!existsSync(lockFile));
  });

  for (const point of ['staged', 'committed', 'moving']) {
    it(`a crash ${point === 'staged' ? 'before the commit leaves the previous version whole' : `${point === 'committed' ? 'right after' : 'during the roll-forward of'} the commit`}; the rerun completes the update`, { timeout: 300_000 }, async () => {
      const input = path.join(tmp.dir, `in-crash-${point}`);
      const out = path.join(tmp.dir, `features-crash-${point}`);
      const c = new Collection(input, pool, 21);
      await c.add(14);
      const f = ['--partition-size', String(PARTITION), '--workers', '1', '--threads', '1', '--batch-size', '4', '--quiet'];
      assert.equal((await runCli(['featurize', input, out, ...f])).code, 0);
      const rowsBefore = await readRows(out);
      await c.step({ add: 4, change: 1, remove: 2, touch: 0 });
      const crashed = await runCli(['featurize', input, out, ...f], { env: { FRUITS_CRASH_AT: point } });
      assert.equal(crashed.signal, 'SIGKILL', show(crashed));
      const m = await manifest(out);
      if (point === 'staged') {
        assert.equal(m.version, 1);
        assert.equal(m.status, 'complete');
        assert.ok(existsSync(path.join(out, '_SUCCESS')), 'the previous version is still complete');
        assert.deepEqual((await readRows(out)).map((r) => r.path), rowsBefore.map((r) => r.path), 'and readable as it was');
      } else {
        assert.equal(m.version, 2);
        assert.equal(m.status, 'committing');
        assert.ok(!existsSync(path.join(out, '_SUCCESS')));
      }
      const r = await runCli(['featurize', input, out, ...f, '--json']);
      assert.equal(r.code, 0, show(r));
      if (point === 'staged') assert.match(r.stderr, /resumed: \d+ new parts were already staged by an interrupted run/);
      else assert.match(r.stderr, /finishing the commit of version 2/);
      const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as { version: number; rows: number };
      assert.equal(s.version, 2);
      assert.equal(s.rows, c.present.size);
      const scratch = path.join(tmp.dir, `scratch-crash-${point}`);
      assert.equal((await runCli(['featurize', input, scratch, ...f])).code, 0);
      await assertSameFeatures(out, scratch);
      assert.deepEqual(await visibleParts(out), (await manifest(out)).partitions.map((p: { file: string }) => p.file).sort());
    });
  }
});
