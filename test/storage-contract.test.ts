// One contract, two stores: LocalStore on a temp folder and S3Store on a real S3-protocol server
// (s3rver), reached through the standard AWS_* variables. Anything a stage may rely on is here.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../src/storage/open.js';
import { closeS3Clients } from '../src/storage/s3-config.js';
import { StorageError, type ObjectInfo, type Store } from '../src/storage/store.js';
import { setS3TestEnv, startS3Server } from './helpers/s3-server.js';

interface Fixture {
  store: Store;
  teardown(): Promise<void>;
}

function byteOrder(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function keysOf(store: Store, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<StorageError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StorageError, `expected a StorageError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(!err.message.includes('\n'), `message is one line: ${JSON.stringify(err.message)}`);
    return err;
  }
  assert.fail(`expected a rejection with code ${code}`);
}

/** Writes `n` objects with at most `width` writes in flight. */
async function writeMany(store: Store, keys: string[], width = 16): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < keys.length) {
        const key = keys[next++];
        await store.write(key, key);
      }
    }),
  );
}

// Keys chosen where naive orders disagree: ' ' (0x20) < '-' (0x2d) < '.' < '/' (0x2f) < digits <
// upper case < lower case < non-ASCII (UTF-8 lead bytes ≥ 0xc3).
const ORDER_KEYS = [
  'a/x',
  'a b/x',
  'a-b/x',
  'a.txt',
  'ab',
  'a/y z.jpg',
  'A/x',
  'Zebra.txt',
  'Pêche/ä.jpg',
  'Pêche/z.jpg',
  'Peach/1.jpg',
  'é.txt',
  'apple/Ω.bin',
  '0/first',
];

async function collectKeys(it: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of it) out.push(o);
  return out;
}

function contract(name: string, setup: () => Promise<Fixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fx: Fixture;
    before(async () => {
      fx = await setup();
    });
    after(async () => {
      await fx?.teardown();
    });

    it('reads back what was written, bytes and strings', async () => {
      const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff);
      await fx.store.write('rw/bytes.bin', bytes);
      await fx.store.write('rw/text.txt', 'Pêche ✓');
      assert.deepEqual(await fx.store.read('rw/bytes.bin'), Buffer.from(bytes));
      assert.equal((await fx.store.read('rw/text.txt')).toString('utf8'), 'Pêche ✓');
      // A subarray is written as its own bytes, not its whole underlying buffer.
      await fx.store.write('rw/slice.bin', bytes.subarray(10, 20));
      assert.deepEqual(await fx.store.read('rw/slice.bin'), Buffer.from(bytes.subarray(10, 20)));
    });

    it('creates an object only if absent (the lock primitive), and moves objects, with a version that changes with the content', async () => {
      assert.equal(await fx.store.writeIfAbsent('lock/one.json', '{"a":1}'), true);
      assert.equal(await fx.store.writeIfAbsent('lock/one.json', '{"b":2}'), false);
      assert.equal((await fx.store.read('lock/one.json')).toString(), '{"a":1}', 'the first writer keeps it');
      const [first] = await collectKeys(fx.store.list('lock/one.json'));
      assert.ok(first.version, 'listing gives a version (mtime or ETag)');
      await new Promise((r) => setTimeout(r, 20));
      await fx.store.write('lock/one.json', '{"c":3}');
      const [second] = await collectKeys(fx.store.list('lock/one.json'));
      assert.notEqual(second.version, first.version, 'a rewrite changes the version');
      await fx.store.move('lock/one.json', 'moved/deeper/one.json');
      assert.equal(await fx.store.exists('lock/one.json'), false);
      assert.equal((await fx.store.read('moved/deeper/one.json')).toString(), '{"c":3}');
    });

    it('replaces an object whole on rewrite', async () => {
      await fx.store.write('rw/replace.txt', 'a much longer first version');
      await fx.store.write('rw/replace.txt', 'short');
      assert.equal((await fx.store.read('rw/replace.txt')).toString(), 'short');
    });

    it('reports a missing key as not_found, naming its URI on one line', async () => {
      const err = await rejectsWith(fx.store.read('missing/none.bin'), 'not_found');
      assert.ok(err.message.includes(fx.store.uriOf('missing/none.bin')), err.message);
    });

    it('tells existing objects and folders from missing ones', async () => {
      await fx.store.write('ex/dir/file.txt', 'x');
      assert.equal(await fx.store.exists('ex/dir/file.txt'), true);
      assert.equal(await fx.store.exists('ex/dir'), true);
      assert.equal(await fx.store.exists('ex/dir/other.txt'), false);
      assert.equal(await fx.store.exists('ex/di'), false);
    });

    it('lists in byte-wise key order, the order S3 uses', async () => {
      const store = fx.store.sub('order');
      await writeMany(store, ORDER_KEYS);
      assert.deepEqual(await keysOf(store), byteOrder(ORDER_KEYS));
      // Order within a folder and sizes too.
      const sizes = new Map<string, number>();
      for await (const o of store.list('Pêche')) sizes.set(o.key, o.size);
      assert.deepEqual([...sizes.keys()], ['Pêche/z.jpg', 'Pêche/ä.jpg']);
      assert.equal(sizes.get('Pêche/ä.jpg'), Buffer.byteLength('Pêche/ä.jpg'));
    });

    it('takes a list prefix as a folder: the prefix itself and what is under it, not siblings', async () => {
      const store = fx.store.sub('order');
      assert.deepEqual(await keysOf(store, 'a'), ['a/x', 'a/y z.jpg']);
      assert.deepEqual(await keysOf(store, 'a/'), ['a/x', 'a/y z.jpg']);
      assert.deepEqual(await keysOf(store, 'ab'), ['ab']);
      assert.deepEqual(await keysOf(store, 'no-such-folder'), []);
    });

    it('lists more than 1000 keys (several S3 pages) in order, once each', async () => {
      const keys = Array.from({ length: 1205 }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
      await writeMany(fx.store, keys);
      const listed = await keysOf(fx.store, 'many');
      assert.equal(listed.length, keys.length);
      assert.deepEqual(listed, keys);
    });

    it('deletes a prefix as a folder, in batches, and nothing beside it', async () => {
      await writeMany(fx.store, ['del/a', 'del/b/c', 'delta/x', 'del-x', 'del.txt']);
      await fx.store.deletePrefix('del');
      assert.deepEqual(await keysOf(fx.store, 'del'), []);
      assert.equal(await fx.store.exists('delta/x'), true);
      assert.equal(await fx.store.exists('del-x'), true);
      assert.equal(await fx.store.exists('del.txt'), true);
      await fx.store.deletePrefix('many'); // 1205 keys: more than one DeleteObjects batch
      assert.deepEqual(await keysOf(fx.store, 'many'), []);
      await fx.store.deletePrefix('never-written'); // nothing to delete is not an error
    });

    it('gives sub stores keys relative to their root and URIs under the parent', async () => {
      const sub = fx.store.sub('nested/deeper/');
      await sub.write('k.txt', 'in sub');
      assert.equal((await fx.store.read('nested/deeper/k.txt')).toString(), 'in sub');
      assert.deepEqual(await keysOf(sub), ['k.txt']);
      assert.equal(sub.uriOf('k.txt'), fx.store.uriOf('nested/deeper/k.txt'));
      assert.equal(sub.root, fx.store.uriOf('nested/deeper'));
      assert.equal(sub.remote, fx.store.remote);
      await sub.deletePrefix('');
      assert.equal(await fx.store.exists('nested/deeper/k.txt'), false);
      assert.equal(await fx.store.exists('rw/text.txt'), true, 'deleting a sub store root leaves the parent alone');
    });
  });
}

contract('LocalStore', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-store-'));
  return {
    store: openStore(dir),
    teardown: () => fs.rm(dir, { recursive: true, force: true }),
  };
});

contract('S3Store on s3rver', async () => {
  const server = await startS3Server();
  await server.createBucket('contract');
  const restoreEnv = setS3TestEnv(server.endpoint);
  const store = openStore('s3://contract/run-1');
  assert.equal(store.root, 's3://contract/run-1');
  assert.equal(store.remote, true);
  return {
    store,
    async teardown() {
      closeS3Clients();
      restoreEnv();
      await server.stop();
    },
  };
});
