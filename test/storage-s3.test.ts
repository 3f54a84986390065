// S3-specific behaviour on a real S3-protocol server (s3rver, own process), with a fault proxy in
// between where a test needs failures: URIs, configuration, multipart, retries under 503 /
// SlowDown / dropped connections, fail-fast 403 and missing bucket, and no secret in any error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import { LocalStore } from '../src/storage/local.js';
import { openStore } from '../src/storage/open.js';
import {
  closeS3Clients,
  DEFAULT_REGION,
  resolveS3Settings,
  s3ClientConfig,
  S3ConfigError,
  s3OptionsToEnv,
  type S3Options,
} from '../src/storage/s3-config.js';
import { StorageError, type Store } from '../src/storage/store.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { setS3TestEnv, startS3Server, TEST_SECRET_ACCESS_KEY, type S3TestServer } from './helpers/s3-server.js';
import { uploadFolder } from './helpers/upload-folder.js';

const BUCKET = 'fruits';
const MIB = 1024 * 1024;
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const MINI = path.resolve(REPO, '../shared/data/fruits360-mini');

let server: S3TestServer;
let restoreEnv: () => void;
/** Every error the tests provoke, checked at the end for leaked credentials. */
const seenErrors: unknown[] = [];

before(async () => {
  server = await startS3Server();
  await server.createBucket(BUCKET);
  restoreEnv = setS3TestEnv(server.endpoint);
});

after(async () => {
  closeS3Clients();
  restoreEnv?.();
  await server?.stop();
});

async function storageError(p: Promise<unknown>, code: string): Promise<StorageError> {
  try {
    await p;
  } catch (err) {
    seenErrors.push(err);
    assert.ok(err instanceof StorageError, `expected a StorageError, got ${inspect(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(!err.message.includes('\n'), `one line: ${JSON.stringify(err.message)}`);
    return err;
  }
  assert.fail(`expected a ${code} StorageError`);
}

function syncError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    seenErrors.push(err);
    assert.ok(err instanceof Error);
    assert.ok(!err.message.includes('\n'), `one line: ${JSON.stringify(err.message)}`);
    return err;
  }
  assert.fail('expected an error');
}

/** Keys and sizes of a listing (each object's version — ETag or mtime — is the storage contract's test). */
async function drain(store: Store, prefix?: string): Promise<{ key: string; size: number }[]> {
  const out = [];
  for await (const o of store.list(prefix)) out.push({ key: o.key, size: o.size });
  return out;
}

/** A store reaching s3rver through `proxy`, via the programmatic endpoint option. */
function viaProxy(proxy: FaultProxy, prefix: string, options: S3Options = {}): Store {
  return openStore(`s3://${BUCKET}/${prefix}`, { endpoint: proxy.endpoint, ...options });
}

async function withProxy(opts: Parameters<typeof startFaultProxy>[0] extends infer O ? Omit<O, 'target'> : never, fn: (proxy: FaultProxy) => Promise<void>): Promise<void> {
  const proxy = await startFaultProxy({ target: server.endpoint, ...opts });
  try {
    await fn(proxy);
  } finally {
    await proxy.stop();
  }
}

describe('s3:// locations', () => {
  it('opens bucket roots and prefixes, normalising slashes', () => {
    assert.equal(openStore('s3://fruits').root, 's3://fruits');
    assert.equal(openStore('s3://fruits/').root, 's3://fruits');
    assert.equal(openStore('S3://fruits/a/b/').root, 's3://fruits/a/b');
    assert.equal(openStore('s3://fruits/Pêche mûre').uriOf('x.jpg'), 's3://fruits/Pêche mûre/x.jpg');
    assert.equal(openStore('s3://fruits').uriOf('k'), 's3://fruits/k');
    assert.equal(openStore('s3://fruits/a/b').uriOf(''), 's3://fruits/a/b');
    assert.equal(openStore('s3://fruits/a').sub('/b/c/').root, 's3://fruits/a/b/c');
  });

  it('rejects a missing or invalid bucket and unknown schemes with one clear line', () => {
    for (const bad of ['s3://', 's3:///prefix', 's3://Bad_Bucket/x', 's3://ab', 's3://192.168.0.1/x', 'gs://bucket/x']) {
      const err = syncError(() => openStore(bad));
      assert.ok(err instanceof StorageError && err.code === 'invalid_uri', `${bad}: ${err.message}`);
      assert.ok(err.message.includes(bad), err.message);
    }
    assert.match(syncError(() => openStore('s3://')).message, /no bucket name/);
  });
});

describe('S3 configuration', () => {
  it('takes options over FRUITS_S3_* variables over defaults', () => {
    const d = resolveS3Settings({}, {});
    assert.equal(d.forcePathStyle, false);
    assert.equal(d.checksums, undefined);
    assert.equal(d.maxAttempts, 8);
    assert.equal(d.partSizeBytes, 8 * MIB);
    assert.equal(d.maxSockets, 64);
    const env = { FRUITS_S3_FORCE_PATH_STYLE: 'true', FRUITS_S3_CHECKSUMS: 'WHEN_REQUIRED', FRUITS_S3_MAX_ATTEMPTS: '5', FRUITS_S3_PART_SIZE_MIB: '16' };
    const e = resolveS3Settings({}, env);
    assert.deepEqual([e.forcePathStyle, e.checksums, e.maxAttempts, e.partSizeBytes], [true, 'when_required', 5, 16 * MIB]);
    const o = resolveS3Settings({ forcePathStyle: false, checksums: 'when_supported', maxAttempts: 3 }, env);
    assert.deepEqual([o.forcePathStyle, o.checksums, o.maxAttempts], [false, 'when_supported', 3]);
    assert.equal(resolveS3Settings({}, { AWS_MAX_ATTEMPTS: '4' }).maxAttempts, 4);
    assert.equal(resolveS3Settings({}, { AWS_MAX_ATTEMPTS: '4', FRUITS_S3_MAX_ATTEMPTS: '6' }).maxAttempts, 6);
  });

  it('turns options into the equivalent variables, for worker processes', () => {
    const options: S3Options = { forcePathStyle: true, checksums: 'when_required', maxAttempts: 5, partSizeMiB: 16, region: 'eu-south-2', endpoint: 'http://127.0.0.1:9000', profile: 'minio' };
    const env = s3OptionsToEnv(options);
    assert.deepEqual(env, {
      FRUITS_S3_FORCE_PATH_STYLE: 'true',
      FRUITS_S3_CHECKSUMS: 'when_required',
      FRUITS_S3_MAX_ATTEMPTS: '5',
      FRUITS_S3_PART_SIZE_MIB: '16',
      AWS_REGION: 'eu-south-2',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000',
      AWS_PROFILE: 'minio',
    });
    const fromEnv = resolveS3Settings({}, env);
    assert.deepEqual([fromEnv.forcePathStyle, fromEnv.checksums, fromEnv.maxAttempts, fromEnv.partSizeBytes], [true, 'when_required', 5, 16 * MIB]);
    assert.throws(() => s3OptionsToEnv({ maxAttempts: 0 }), S3ConfigError);
  });

  it('maps checksums to both SDK settings and keeps credentials out of the client config', () => {
    const cfg = s3ClientConfig(resolveS3Settings({ checksums: 'when_required', forcePathStyle: true }, {}));
    assert.equal(cfg.requestChecksumCalculation, 'WHEN_REQUIRED');
    assert.equal(cfg.responseChecksumValidation, 'WHEN_REQUIRED');
    assert.equal(cfg.forcePathStyle, true);
    assert.equal(cfg.maxAttempts, 8);
    assert.equal(cfg.credentials, undefined, 'credentials are left to the SDK provider chain');
    const dflt = s3ClientConfig(resolveS3Settings({}, {}));
    assert.equal(dflt.requestChecksumCalculation, undefined, 'the SDK default (when_supported) applies');
  });

  it('names the bad variable or option in a one-line error', () => {
    const cases: [S3Options, NodeJS.ProcessEnv, RegExp][] = [
      [{}, { FRUITS_S3_MAX_ATTEMPTS: 'lots' }, /FRUITS_S3_MAX_ATTEMPTS/],
      [{}, { FRUITS_S3_MAX_ATTEMPTS: '0' }, /FRUITS_S3_MAX_ATTEMPTS/],
      [{}, { FRUITS_S3_FORCE_PATH_STYLE: 'maybe' }, /FRUITS_S3_FORCE_PATH_STYLE="maybe"/],
      [{}, { FRUITS_S3_CHECKSUMS: 'sometimes' }, /FRUITS_S3_CHECKSUMS/],
      [{}, { FRUITS_S3_PART_SIZE_MIB: '1' }, /FRUITS_S3_PART_SIZE_MIB/],
      [{ checksums: 'sometimes' as never }, {}, /checksums/],
      [{ endpoint: 'ftp://x' }, {}, /endpoint/],
      [{ secretAccessKey: 'x' } as never, {}, /secretAccessKey|unrecognized/i],
    ];
    for (const [options, env, pattern] of cases) {
      const err = syncError(() => resolveS3Settings(options, env));
      assert.ok(err instanceof S3ConfigError, err.message);
      assert.match(err.message, pattern);
    }
  });

  it(`falls back to ${DEFAULT_REGION} when nothing sets a region, and honours a profile's region`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-aws-config-'));
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_CONFIG_FILE: process.env.AWS_CONFIG_FILE };
    try {
      await fs.writeFile(path.join(dir, 'config'), '[profile stockholm]\nregion = eu-north-1\n');
      delete process.env.AWS_REGION;
      process.env.AWS_CONFIG_FILE = path.join(dir, 'config');
      const none = new S3Client(s3ClientConfig(resolveS3Settings({}, {})));
      const profiled = new S3Client(s3ClientConfig(resolveS3Settings({ profile: 'stockholm' }, {})));
      const explicit = new S3Client(s3ClientConfig(resolveS3Settings({ region: 'eu-central-2' }, {})));
      assert.equal(await none.config.region(), DEFAULT_REGION);
      assert.equal(await profiled.config.region(), 'eu-north-1');
      assert.equal(await explicit.config.region(), 'eu-central-2');
      for (const c of [none, profiled, explicit]) c.destroy();
    } finally {
      process.env.AWS_REGION = saved.AWS_REGION;
      process.env.AWS_CONFIG_FILE = saved.AWS_CONFIG_FILE;
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('S3 multipart uploads', () => {
  it('sends bodies above the part size as multipart, smaller ones as one PUT', async () => {
    await withProxy({}, async (proxy) => {
      const store = viaProxy(proxy, 'multipart', { partSizeMiB: 5 });
      const big = randomBytes(5 * MIB + 1234);
      await store.write('big.bin', big);
      assert.equal(proxy.stats.multipartStarts, 1);
      assert.equal(proxy.stats.partUploads, 2);
      assert.equal(proxy.stats.multipartCompletes, 1);
      assert.ok((await store.read('big.bin')).equals(big));
      assert.deepEqual(await drain(store), [{ key: 'big.bin', size: big.byteLength }]);

      const small = randomBytes(MIB);
      await store.write('small.bin', small);
      assert.equal(proxy.stats.multipartStarts, 1, 'a 1 MiB body goes up in one PUT');
      assert.ok((await store.read('small.bin')).equals(small));
    });
  });

  it('completes a multipart upload through 503 and SlowDown answers', async () => {
    await withProxy({ failureRate: 0.3, modes: ['503', 'slowdown'], seed: 7 }, async (proxy) => {
      const store = viaProxy(proxy, 'multipart-faults', { partSizeMiB: 5 });
      const body = randomBytes(11 * MIB);
      await store.write('retried.bin', body);
      proxy.configure({ failureRate: 0 });
      assert.ok((await store.read('retried.bin')).equals(body));
      assert.equal(proxy.stats.multipartCompletes >= 1, true);
      assert.ok(proxy.stats.partUploads >= 3, `3 parts at least, got ${proxy.stats.partUploads}`);
      assert.ok(proxy.totalInjected() > 0, 'the proxy injected faults');
    });
  });
});

describe('S3 under injected faults', () => {
  it('writes, reads and lists 100 objects intact at a 20% failure rate', async () => {
    await withProxy({ failureRate: 0.2, modes: ['503', 'slowdown', 'reset'], seed: 2024 }, async (proxy) => {
      const store = viaProxy(proxy, 'faults');
      const objects = Array.from({ length: 100 }, (_, i) => ({
        key: `Test/Class ${i % 7}/img-${String(i).padStart(3, '0')}.jpg`,
        data: randomBytes(1024 + ((i * 7919) % (96 * 1024))),
      }));
      const inParallel = async (fn: (o: (typeof objects)[number]) => Promise<void>) => {
        let next = 0;
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (next < objects.length) await fn(objects[next++]);
        }));
      };
      await inParallel((o) => store.write(o.key, o.data));
      await inParallel(async (o) => assert.ok((await store.read(o.key)).equals(o.data), o.key));
      const listed = await drain(store);
      const expected = objects
        .map((o) => ({ key: o.key, size: o.data.byteLength }))
        .sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
      assert.deepEqual(listed, expected);

      const { injected, injectedByOp } = proxy.stats;
      assert.ok(injected['503'] > 0 && injected.slowdown > 0 && injected.reset > 0, `every mode injected: ${inspect(injected)}`);
      assert.ok((injectedByOp.put ?? 0) > 0 && (injectedByOp.get ?? 0) > 0, inspect(injectedByOp));
      const rate = proxy.totalInjected() / proxy.stats.requests;
      assert.ok(rate > 0.1 && rate < 0.3, `injected ${proxy.totalInjected()} of ${proxy.stats.requests} requests`);
    });
  });

  it('recovers from a connection dropped mid-listing and mid-download', async () => {
    await withProxy({}, async (proxy) => {
      const store = viaProxy(proxy, 'dropped');
      const body = randomBytes(256 * 1024);
      await store.write('photo.jpg', body);
      for (let i = 0; i < 3; i++) await store.write(`more/${i}.jpg`, 'x');

      proxy.configure({ failNext: 2, modes: ['reset'] });
      assert.ok((await store.read('photo.jpg')).equals(body));
      proxy.configure({ failNext: 2, modes: ['reset'] });
      assert.deepEqual((await drain(store)).map((o) => o.key), ['more/0.jpg', 'more/1.jpg', 'more/2.jpg', 'photo.jpg']);
      assert.equal(proxy.stats.injected.reset, 4);
      assert.deepEqual(proxy.stats.injectedByOp, { get: 2, list: 2 });
    });
  });

  it('gives up after maxAttempts with a one-line io error', async () => {
    await withProxy({}, async (proxy) => {
      const store = viaProxy(proxy, 'exhausted', { maxAttempts: 3 });
      proxy.configure({ failNext: 10, modes: ['503'] });
      const err = await storageError(store.write('never.txt', 'x'), 'io');
      assert.match(err.message, /^s3:\/\/fruits\/exhausted\/never\.txt: 503 ServiceUnavailable after 3 attempts/);
      assert.equal(proxy.stats.requests, 3, 'exactly maxAttempts requests');
    });
  });

  it('runs concurrent GETs in parallel, not one connection at a time', async () => {
    await withProxy({}, async (proxy) => {
      const store = viaProxy(proxy, 'parallel');
      const keys = Array.from({ length: 32 }, (_, i) => `p/${i}.bin`);
      await Promise.all(keys.map((k) => store.write(k, k)));
      proxy.resetStats();
      proxy.configure({ latencyMs: 150 });
      const got = await Promise.all(keys.map((k) => store.read(k)));
      assert.deepEqual(got.map(String), keys);
      assert.ok(proxy.stats.maxConcurrent >= 24, `max in flight ${proxy.stats.maxConcurrent}`);
    });
  });
});

describe('S3 failures that must not be retried', () => {
  it('fails fast with access_denied on 403, for every operation', async () => {
    await withProxy({ denyBuckets: [BUCKET] }, async (proxy) => {
      const store = viaProxy(proxy, 'secret-prefix');
      const ops: [string, () => Promise<unknown>][] = [
        ['read', () => store.read('a.jpg')],
        ['write', () => store.write('a.jpg', 'x')],
        ['exists', () => store.exists('a.jpg')],
        ['list', () => drain(store, 'Test')],
        ['deletePrefix', () => store.deletePrefix('Test')],
      ];
      for (const [name, op] of ops) {
        const before = proxy.stats.requests;
        const err = await storageError(op(), 'access_denied');
        assert.match(err.message, /^s3:\/\/fruits\/secret-prefix\/\S*: access denied \(403 (AccessDenied|Forbidden)\)/, `${name}: ${err.message}`);
        assert.equal(proxy.stats.requests - before, 1, `${name}: one request, no retries`);
      }
    });
  });

  it("maps the server's own 403 (unknown access key of a profile) to access_denied", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-aws-creds-'));
    const saved = { ...process.env };
    try {
      await fs.writeFile(path.join(dir, 'credentials'), `[intruder]\naws_access_key_id = NOT-A-KNOWN-KEY\naws_secret_access_key = ${TEST_SECRET_ACCESS_KEY}\n`);
      process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, 'credentials');
      delete process.env.AWS_ACCESS_KEY_ID; // so the profile is the only credential source
      delete process.env.AWS_SECRET_ACCESS_KEY;
      const store = openStore(`s3://${BUCKET}/x`, { profile: 'intruder' });
      const err = await storageError(store.read('y.jpg'), 'access_denied');
      assert.match(err.message, /^s3:\/\/fruits\/x\/y\.jpg: access denied \(403 InvalidAccessKeyId\)/);
    } finally {
      for (const k of ['AWS_SHARED_CREDENTIALS_FILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a bucket that does not exist as no_bucket, for every operation', async () => {
    await withProxy({}, async (proxy) => {
      const store = openStore('s3://never-created/results', { endpoint: proxy.endpoint });
      const ops: [string, () => Promise<unknown>][] = [
        ['read', () => store.read('a.parquet')],
        ['write', () => store.write('a.parquet', 'x')],
        ['exists', () => store.exists('a.parquet')],
        ['list', () => drain(store)],
        ['deletePrefix', () => store.deletePrefix('')],
      ];
      for (const [name, op] of ops) {
        const before = proxy.stats.requests;
        const err = await storageError(op(), 'no_bucket');
        assert.match(err.message, /^s3:\/\/never-created\/results\S*: bucket "never-created" does not exist \(404 NoSuchBucket\)$/, `${name}: ${err.message}`);
        assert.ok(proxy.stats.requests - before <= 2, `${name}: no retries`);
      }
    });
  });

  it('never shows the secret access key in any error, message or inspected object', () => {
    assert.ok(seenErrors.length >= 11, `errors collected: ${seenErrors.length}`);
    for (const err of seenErrors) {
      const texts = [String(err), (err as Error).message, inspect(err, { depth: 10 }), JSON.stringify(err) ?? ''];
      for (const t of texts) assert.ok(!t.includes(TEST_SECRET_ACCESS_KEY), `secret leaked in: ${t.slice(0, 300)}`);
    }
  });
});

describe('uploadFolder', { skip: !existsSync(MINI) && `no dataset at ${MINI}` }, () => {
  it('uploads real photos with bounded concurrency; the S3 listing equals the local one', async () => {
    const classes = ['Apple Braeburn', 'Banana', 'Pear'].filter((c) => existsSync(path.join(MINI, 'Test', c)));
    assert.ok(classes.length > 0);
    const store = openStore(`s3://${BUCKET}/datasets/mini`);
    let total = 0;
    for (const c of classes) total += (await uploadFolder(store, path.join(MINI, 'Test', c), `Test/${c}`, 4)).objects;
    const local = new LocalStore(path.join(MINI, 'Test'));
    const expected = [];
    for (const c of classes) for await (const o of local.list(c)) expected.push({ key: `Test/${o.key}`, size: o.size });
    assert.equal(total, expected.length);
    assert.deepEqual(await drain(store, 'Test'), expected);
    const first = expected[0].key.slice('Test/'.length);
    assert.ok((await store.read(`Test/${first}`)).equals(await local.read(first)));
  });
});
