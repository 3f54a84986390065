// Resume: a run killed mid-way (SIGKILL of the CLI and its worker processes) is finished by the
// next run, which keeps the finished parts and gives exactly the output of an uninterrupted
// run. A rerun of a complete output changes nothing; other settings are refused unless
// --overwrite, which starts over.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collect, errorLines, featurize, groupAlive, runCli, show, spawnCli } from './helpers/cli.js';
import { assertSameRows, readRows, type PartRow } from './helpers/datasets.js';
import { miniTestDir, tempDir } from './helpers/paths.js';

const IMAGES = 180;
const PARTITION = 30; // → 6 partitions
const ARGS = ['--limit', String(IMAGES), '--partition-size', String(PARTITION), '--workers', '1'];

/** name → mtime and content of the part files and their summaries. */
async function snapshot(dir: string): Promise<Map<string, { mtimeMs: number; bytes: Buffer }>> {
  const out = new Map<string, { mtimeMs: number; bytes: Buffer }>();
  const names = [...(await fs.readdir(dir)).filter((n) => n.startsWith('part-')), ...(await fs.readdir(path.join(dir, '_parts'))).map((n) => `_parts/${n}`)];
  for (const n of names) {
    const file = path.join(dir, n);
    out.set(n, { mtimeMs: (await fs.stat(file)).mtimeMs, bytes: await fs.readFile(file) });
  }
  return out;
}

async function sidecars(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(path.join(dir, '_parts'))).filter((n) => /^part-\d+\.json$/.test(n)).sort();
  } catch {
    return [];
  }
}

describe('resume after a crash', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let reference: string;
  let out: string;
  let referenceRows: PartRow[];
  let killable: number | undefined; // process group of the run to kill, if a test stops early

  before(async () => {
    tmp = await tempDir('resume');
    reference = path.join(tmp.dir, 'reference');
    out = path.join(tmp.dir, 'resumed');
    const s = await featurize([miniTestDir, reference, ...ARGS]);
    assert.equal(s.partitions, IMAGES / PARTITION);
    referenceRows = await readRows(reference);
    assert.equal(referenceRows.length, IMAGES);
  });
  after(async () => {
    if (killable !== undefined && groupAlive(killable)) process.kill(-killable, 'SIGKILL');
    await tmp.cleanup();
  });

  it('finishes a run that was SIGKILLed mid-way, keeping its finished parts, with the uninterrupted result', async () => {
    // The CLI leads its own process group, so one kill reaches its worker processes too.
    const child = spawnCli(['featurize', miniTestDir, out, ...ARGS, '--quiet'], { detached: true });
    const done = collect(child);
    killable = child.pid;
    const deadline = Date.now() + 120_000;
    let killedAt: string[] = [];
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      const found = await sidecars(out);
      if (found.length > 0 && !existsSync(path.join(out, '_SUCCESS'))) {
        process.kill(-child.pid!, 'SIGKILL');
        killedAt = found;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await done;
    assert.equal(r.signal, 'SIGKILL', `the run was killed, not finished:\n${show(r)}`);
    for (let i = 0; i < 100 && groupAlive(child.pid!); i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok(!groupAlive(child.pid!), 'no worker process survived');

    // Mid-way: some partitions finished, not all, and the dataset is not marked complete.
    assert.ok(!existsSync(path.join(out, '_SUCCESS')));
    const finished = await sidecars(out);
    assert.ok(killedAt.length >= 1 && finished.length < IMAGES / PARTITION, `killed after ${finished.length} partitions`);
    const manifest = JSON.parse(await fs.readFile(path.join(out, '_manifest.json'), 'utf8'));
    assert.equal(manifest.status, 'running');
    const beforeResume = await snapshot(out);

    const s = await featurize([miniTestDir, out, ...ARGS]);
    assert.ok(s.resumedPartitions > 0, `resumed ${s.resumedPartitions} partitions`);
    assert.equal(s.resumedPartitions, finished.length, 'every partition that had finished is resumed');
    assert.equal(s.partitions, IMAGES / PARTITION);
    assert.equal(s.rows, IMAGES);
    assert.ok(existsSync(path.join(out, '_SUCCESS')));

    // Finished work is kept as it was: parts with a summary are not rewritten.
    const afterResume = await snapshot(out);
    let kept = 0;
    for (const [name, prev] of beforeResume) {
      if (!name.startsWith('_parts/')) continue;
      const part = name.replace('_parts/', '').replace('.json', '.parquet');
      const now = afterResume.get(part);
      if (now && beforeResume.get(part)?.mtimeMs === now.mtimeMs) kept++;
      assert.ok(afterResume.get(name)?.bytes.equals(prev.bytes), `${name} unchanged`);
    }
    assert.equal(kept, s.resumedPartitions, 'each resumed partition kept its part file untouched');

    assertSameRows(await readRows(out), referenceRows, 'resumed vs uninterrupted');
    const [m, ref] = await Promise.all([out, reference].map(async (d) => JSON.parse(await fs.readFile(path.join(d, '_manifest.json'), 'utf8'))));
    assert.equal(m.status, 'complete');
    assert.deepEqual(m.counts, ref.counts);
    assert.deepEqual(
      m.partitions.map((p: { fingerprint: string; rows: number }) => [p.fingerprint, p.rows]),
      ref.partitions.map((p: { fingerprint: string; rows: number }) => [p.fingerprint, p.rows]),
    );
    assert.equal(m.timings.resumedPartitions, s.resumedPartitions);
    // Readers see the parts only.
    assert.deepEqual(
      (await fs.readdir(out)).filter((n) => !n.startsWith('_') && !n.startsWith('.')).sort(),
      (await fs.readdir(reference)).filter((n) => !n.startsWith('_') && !n.startsWith('.')).sort(),
    );
  });

  it('reruns on a complete output by resuming everything and changing nothing', async () => {
    const before = await snapshot(out);
    const s = await featurize([miniTestDir, out, ...ARGS]);
    assert.equal(s.resumedPartitions, IMAGES / PARTITION);
    assert.equal(s.rows, IMAGES);
    assert.ok(existsSync(path.join(out, '_SUCCESS')));
    const after = await snapshot(out);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
    for (const [name, prev] of before) {
      assert.equal(after.get(name)!.mtimeMs, prev.mtimeMs, `${name} not rewritten`);
    }
    assertSameRows(await readRows(out), referenceRows, 'rerun');
  });

  it('refuses other settings with one line suggesting --overwrite, and leaves the output as it was', async () => {
    const before = await snapshot(out);
    const manifestBefore = await fs.readFile(path.join(out, '_manifest.json'));
    const r = await runCli(['featurize', miniTestDir, out, '--limit', String(IMAGES), '--partition-size', '45', '--workers', '1', '--quiet']);
    assert.notEqual(r.code, 0, show(r));
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, show(r));
    assert.match(lines[0], /^fruits: error: output .* holds a run with other settings \(partition size 30 vs 45\); pass --overwrite/);
    assert.ok(existsSync(path.join(out, '_SUCCESS')), 'still complete');
    assert.ok((await fs.readFile(path.join(out, '_manifest.json'))).equals(manifestBefore), 'manifest unchanged');
    const after = await snapshot(out);
    for (const [name, prev] of before) assert.equal(after.get(name)?.mtimeMs, prev.mtimeMs, `${name} untouched`);
  });

  it('starts over with --overwrite: new partitioning, no stale parts, the same features', async () => {
    const s = await featurize([miniTestDir, out, '--limit', String(IMAGES), '--partition-size', '45', '--workers', '1', '--overwrite']);
    assert.equal(s.resumedPartitions, 0);
    assert.equal(s.partitions, IMAGES / 45);
    assert.equal(s.rows, IMAGES);
    const parts = (await fs.readdir(out)).filter((n) => n.startsWith('part-')).sort();
    assert.deepEqual(parts, ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet', 'part-00003.parquet']);
    assert.deepEqual(await sidecars(out), ['part-00000.json', 'part-00001.json', 'part-00002.json', 'part-00003.json']);
    const m = JSON.parse(await fs.readFile(path.join(out, '_manifest.json'), 'utf8'));
    assert.equal(m.config.partitionSize, 45);
    const rows = await readRows(out);
    assert.deepEqual(
      rows.map((r) => r.path),
      referenceRows.map((r) => r.path),
    );
    rows.forEach((r, i) => assert.ok(r.features.equals(referenceRows[i].features), r.path));
  });
});
