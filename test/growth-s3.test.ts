// Growing collections on S3 (s3rver in its own process): photos added, re-shot and removed under
// an s3:// prefix, each change followed by `fruits run` from S3 to S3, end where a from-scratch run
// on the final photos does; the ETag tells unchanged photos apart without reading them. The lock
// works on S3 too.
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../src/storage/open.js';
import { closeS3Clients } from '../src/storage/s3-config.js';
import { errorLines, runCli, show } from './helpers/cli.js';
import { miniTestClasses, tempDir } from './helpers/paths.js';
import { setS3TestEnv, startS3Server, type S3TestServer } from './helpers/s3-server.js';
import { Collection, assertSameRowMaps, assertSameStatsAndPca, fetchPca, mirrorTo, photoPool, storeRowsByPath } from './helpers/growth.js';

const COMMON = ['--partition-size', '6', '--workers', '1', '--threads', '1', '--batch-size', '4', '--k', '4', '--quiet'];
const INPUT = 's3://photos/in';
const OUTPUT = 's3://results/growth';

let server: S3TestServer;
let restoreEnv: () => void;
let tmp: { dir: string; cleanup: () => Promise<void> };

before(async () => {
  tmp = await tempDir('growth-s3');
  server = await startS3Server();
  await Promise.all([server.createBucket('photos'), server.createBucket('results')]);
  restoreEnv = setS3TestEnv(server.endpoint);
});
after(async () => {
  closeS3Clients();
  restoreEnv?.();
  await server?.stop();
  await tmp?.cleanup();
});

describe('growing collections on S3', () => {
  it('updates from S3 to S3 end where a run from scratch does', { timeout: 600_000 }, async () => {
    const local = path.join(tmp.dir, 'photos');
    const c = new Collection(local, await photoPool((await miniTestClasses()).slice(0, 5), 8), 42);
    await c.add(20);
    await mirrorTo(openStore(INPUT), local);
    const first = await runCli(['run', INPUT, OUTPUT, ...COMMON, '--json']);
    assert.equal(first.code, 0, show(first));

    for (const size of [
      { add: 6, change: 2, remove: 2, touch: 0 },
      { add: 2, change: 1, remove: 3, touch: 0 },
    ]) {
      const s = await c.step(size);
      await mirrorTo(openStore(INPUT), local);
      const r = await runCli(['run', INPUT, OUTPUT, ...COMMON, '--json']);
      assert.equal(r.code, 0, show(r));
      const u = (JSON.parse(r.stdout.trim().split('\n').pop()!) as { featurize: { update: { added: number; changed: number; removed: number; featurized: number } } }).featurize.update;
      assert.deepEqual(
        { added: u.added, changed: u.changed, removed: u.removed, featurized: u.featurized },
        { added: s.added.length, changed: s.changed.length, removed: s.removed.length, featurized: s.added.length + s.changed.length },
      );
    }

    const scratch = 's3://results/scratch';
    const r = await runCli(['run', INPUT, scratch, ...COMMON]);
    assert.equal(r.code, 0, show(r));
    const out = openStore(OUTPUT);
    assertSameRowMaps(await storeRowsByPath(out.sub('features')), await storeRowsByPath(openStore(scratch).sub('features')));
    const [a, b] = [path.join(tmp.dir, 'a'), path.join(tmp.dir, 'b')];
    await fetchPca(out, a);
    await fetchPca(openStore(scratch), b);
    await assertSameStatsAndPca(a, b);
    const reduced = await storeRowsByPath(out.sub('reduced'));
    assert.deepEqual([...reduced.keys()].sort(), [...c.present].sort());
    // Only current parts and no staging under the prefix.
    for await (const o of out.sub('features').list('')) assert.ok(!o.key.startsWith('_staging/'), `left behind: ${o.key}`);
  });

  it('refuses a second run while the lock is held, in one line', { timeout: 120_000 }, async () => {
    const features = openStore(`${OUTPUT}/features`);
    const now = new Date().toISOString();
    await features.write('_lock.json', JSON.stringify({ owner: 'x', host: os.hostname(), pid: process.pid, command: 'fruits run', createdAt: now, heartbeatAt: now }));
    const r = await runCli(['featurize', INPUT, `${OUTPUT}/features`, ...COMMON.filter((a, i, all) => a !== '--k' && all[i - 1] !== '--k')]);
    assert.equal(r.code, 1, show(r));
    assert.equal(errorLines(r.stderr).length, 1, show(r));
    assert.match(errorLines(r.stderr)[0], /^fruits: error: s3:\/\/results\/growth\/features is being updated by another run \(fruits run, pid \d+ on /);
    await features.deletePrefix('_lock.json');
  });
});
