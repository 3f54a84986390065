// `fruits` end to end on S3: every command with s3:// inputs and outputs, against a real
// S3-protocol server (s3rver, in its own process) with a fault-injecting proxy between the SDK
// and the server. The mini Test split (1,200 keys, so listings paginate) is uploaded once; the
// whole run on it is done twice only — locally (the reference) and from S3 to S3 under injected
// faults — and everything else uses --limit subsets.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { openStore } from '../src/storage/open.js';
import { closeS3Clients } from '../src/storage/s3-config.js';
import type { Store } from '../src/storage/store.js';
import { listPartFiles } from '../src/sink/read-dataset.js';
import { decodeFeatures } from '../src/sink/parquet.js';
import { parsePcaModel } from '../src/pca/index.js';
import { inspectDataset } from '../src/sink/inspect.js';
import { collect, errorLines, groupAlive, runCli, show, spawnCli, type CliResult } from './helpers/cli.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { miniTestDir, repoRoot, tempDir } from './helpers/paths.js';
import { setS3TestEnv, startS3Server, TEST_SECRET_ACCESS_KEY, type S3TestServer } from './helpers/s3-server.js';
import { uploadFolder } from './helpers/upload-folder.js';

// The brief's way to find the shared data; the same folder as helpers/paths.ts's miniTestDir.
const TEST_SPLIT = path.join(path.resolve(repoRoot, '..', 'shared'), 'data', 'fruits360-mini', 'Test');
assert.equal(TEST_SPLIT, miniTestDir);

const IMAGES = 1200;
const INPUT_BUCKET = 'fruits';
const OUTPUT_BUCKET = 'results';
const INPUT = `s3://${INPUT_BUCKET}/Test`;
const RUN1 = `s3://${OUTPUT_BUCKET}/Results/run1`;
const REFIT = `s3://${OUTPUT_BUCKET}/Results/refit`;
const MIB = 1024 * 1024;
// One ORT thread per worker and an explicit batch size everywhere: features are then bit-identical
// between runs whatever the worker count, given the same batches (a batch starts at a partition
// start and every BATCH images after it, so partitions of 32 batch like the first 32 of 1,024).
const BATCH = 8;
const WORKERS = ['--workers', '2', '--threads', '1'];
const POOL = [...WORKERS, '--batch-size', String(BATCH)];
const SMALL = ['--limit', '128', '--partition-size', '32', '--workers', '1', '--threads', '1', '--batch-size', String(BATCH)];

let server: S3TestServer;
let proxy: FaultProxy;
let restoreEnv: () => void;
let tmp: { dir: string; cleanup: () => Promise<void> };
let localRun: string;
/** Every CLI run of this file, checked at the end for the secret. */
const cliRuns: { what: string; result: CliResult }[] = [];

/** Stores in this process talk to s3rver directly, never through the proxy. */
const s3 = (uri: string): Store => openStore(uri);

/** The CLI talks to s3rver through the proxy: the S3 test environment with the proxy's endpoint. */
async function fruits(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const result = await runCli(args, { env: { AWS_ENDPOINT_URL_S3: proxy.endpoint, ...env } });
  cliRuns.push({ what: args.slice(0, 3).join(' '), result });
  return result;
}

async function fruitsJson<T>(args: string[], env: Record<string, string | undefined> = {}): Promise<T> {
  const r = await fruits([...args, '--json', '--quiet'], env);
  assert.equal(r.code, 0, `fruits ${args.join(' ')}\n${show(r)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

interface Row {
  part: string;
  path: string;
  label: string;
  /** The float32 values as bytes: equality is bit-for-bit. */
  features: Buffer;
  width?: number;
  height?: number;
  sha256?: string;
}

interface Dataset {
  rows: Row[];
  /** Footer key-value metadata of each part. */
  metadata: Map<string, Record<string, string>>;
}

async function readDataset(store: Store): Promise<Dataset> {
  const rows: Row[] = [];
  const metadata = new Map<string, Record<string, string>>();
  for (const part of await listPartFiles(store)) {
    const c = decodeFeatures(await store.read(part), store.uriOf(part));
    metadata.set(part, c.metadata);
    c.path.forEach((p, i) =>
      rows.push({
        part,
        path: p,
        label: c.label[i],
        features: Buffer.from(c.features.buffer, c.features.byteOffset + i * c.dim * 4, c.dim * 4),
        width: c.width?.[i],
        height: c.height?.[i],
        sha256: c.sha256?.[i],
      }),
    );
  }
  return { rows, metadata };
}

/** The same parts, rows in the same order, bit-identical features and identical columns. */
function assertSameDataset(actual: Dataset, expected: Dataset, what: string): void {
  assert.equal(actual.rows.length, expected.rows.length, `${what}: row count`);
  assert.deepEqual(
    actual.rows.map((r) => `${r.part} ${r.path}`),
    expected.rows.map((r) => `${r.part} ${r.path}`),
    `${what}: the same rows in the same parts and order`,
  );
  assertSameRowsByPath(actual.rows, expected.rows, what);
  assert.deepEqual(new Map([...actual.metadata].map(([k, v]) => [k, sorted(v)])), new Map([...expected.metadata].map(([k, v]) => [k, sorted(v)])), `${what}: footer metadata`);
}

/** Each row of `actual` equals the row of the same path in `expected` (which may hold more). */
function assertSameRowsByPath(actual: Row[], expected: Row[], what: string): void {
  const byPath = new Map(expected.map((r) => [r.path, r]));
  let differing = 0;
  for (const r of actual) {
    const e = byPath.get(r.path);
    assert.ok(e, `${what}: ${r.path} is not in the reference`);
    assert.deepEqual([r.label, r.width, r.height, r.sha256], [e.label, e.width, e.height, e.sha256], `${what}: columns of ${r.path}`);
    if (!r.features.equals(e.features)) differing++;
  }
  assert.equal(differing, 0, `${what}: ${differing} of ${actual.length} rows have features that are not bit-identical`);
}

function sorted(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));
}

async function keysUnder(store: Store): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const o of store.list('')) out.set(o.key, o.size);
  return out;
}

async function json<T = any>(store: Store, key: string): Promise<T> {
  return JSON.parse((await store.read(key)).toString('utf8')) as T;
}

before(async () => {
  tmp = await tempDir('s3-e2e');
  server = await startS3Server();
  await Promise.all([server.createBucket(INPUT_BUCKET), server.createBucket(OUTPUT_BUCKET)]);
  restoreEnv = setS3TestEnv(server.endpoint);
  proxy = await startFaultProxy({ target: server.endpoint, seed: 20_241_124 });
  localRun = path.join(tmp.dir, 'local-run');
  // The local reference runs while the photos go up: both are needed before the S3 run.
  const [uploaded, local] = await Promise.all([
    uploadFolder(s3(INPUT), TEST_SPLIT, '', 16),
    runCli(['run', TEST_SPLIT, localRun, ...POOL, '--json', '--quiet']),
  ]);
  assert.equal(uploaded.objects, IMAGES);
  assert.equal(local.code, 0, `local reference run\n${show(local)}`);
});

after(async () => {
  closeS3Clients();
  restoreEnv?.();
  await proxy?.stop();
  await server?.stop();
  await tmp?.cleanup();
});

describe('fruits on S3, end to end', () => {
  it('lists the 1,200 uploaded keys over two pages, in the local folder order', async () => {
    const viaProxy = openStore(INPUT, { endpoint: proxy.endpoint });
    proxy.resetStats();
    const keys: string[] = [];
    for await (const o of viaProxy.list('')) keys.push(o.key);
    const listRequests = proxy.stats.requests;
    const local: string[] = [];
    for await (const o of openStore(TEST_SPLIT).list('')) local.push(o.key);
    assert.equal(keys.length, IMAGES);
    assert.deepEqual(keys, local, 'byte-wise key order, as on disk');
    assert.equal(listRequests, 2, 'ListObjectsV2 answers at most 1,000 keys a page');
  });

  it('runs `fruits run s3:// s3://` through 15% injected faults with the output of the local run', async (t) => {
    proxy.resetStats();
    proxy.configure({ failureRate: 0.15, modes: ['503', 'slowdown', 'reset'] });
    let r: CliResult;
    try {
      r = await fruits(['run', INPUT, RUN1, ...POOL, '--json', '--quiet'], { FRUITS_LOG_LEVEL: 'debug' });
    } finally {
      proxy.configure({ failureRate: 0 });
    }
    assert.equal(r.code, 0, show(r));
    const { stats } = proxy;
    t.diagnostic(`requests ${stats.requests}, injected ${JSON.stringify(stats.injected)} by op ${JSON.stringify(stats.injectedByOp)}, max in flight ${stats.maxConcurrent}, multipart ${stats.multipartStarts}/${stats.partUploads}/${stats.multipartCompletes}`);
    assert.ok(stats.injected['503'] > 0 && stats.injected.slowdown > 0 && stats.injected.reset > 0, `every fault mode was injected: ${JSON.stringify(stats.injected)}`);
    // Reads and writes were hit (listings too, usually: they are only ~15 requests).
    assert.ok((stats.injectedByOp.get ?? 0) > 0 && (stats.injectedByOp.put ?? 0) > 0, JSON.stringify(stats.injectedByOp));
    const rate = proxy.totalInjected() / stats.requests;
    assert.ok(rate > 0.1 && rate < 0.2, `injected ${proxy.totalInjected()} faults in ${stats.requests} requests`);

    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(summary.output, RUN1);
    assert.equal(summary.featurize.rows, IMAGES);
    assert.equal(summary.featurize.rejects, 0);

    const remote = s3(RUN1);
    const local = openStore(localRun);
    // Features: the same parts, rows and bits.
    const [rf, lf] = await Promise.all([readDataset(remote.sub('features')), readDataset(local.sub('features'))]);
    assert.equal(lf.rows.length, IMAGES);
    assertSameDataset(rf, lf, 'S3 features vs local features');
    // The same PCA: k and explained-variance ratios, and in fact the same model file.
    const [rm, lm] = await Promise.all([remote.read('pca/model.json'), local.read('pca/model.json')]);
    const [rModel, lModel] = [parsePcaModel(rm.toString('utf8')), parsePcaModel(lm.toString('utf8'))];
    assert.equal(rModel.k, lModel.k);
    assert.deepEqual(Array.from(rModel.explainedVarianceRatio), Array.from(lModel.explainedVarianceRatio));
    assert.ok(rm.equals(lm), 'pca/model.json is byte-identical');
    assert.equal(summary.fit.k, lModel.k);
    // The same reduced vectors.
    assertSameDataset(await readDataset(remote.sub('reduced')), await readDataset(local.sub('reduced')), 'S3 reduced vs local reduced');

    // The bookkeeping a user and the next run rely on is all there, under the S3 prefix.
    const keys = await keysUnder(remote);
    for (const k of ['_run.json', 'features/_SUCCESS', 'features/_manifest.json', 'features/_rejects.csv', 'pca/model.json', 'pca/stats.bin', 'reduced/_SUCCESS', 'reduced/_manifest.json', 'report.html']) {
      assert.ok(keys.has(k), `${RUN1}/${k} exists`);
    }
    const localKeys = await keysUnder(local);
    // The index of images names its chunks by content, and its entries hold each photo's version
    // (an ETag on S3, an mtime on disk): the same number of chunks, under other names.
    const isIndex = (k: string) => k.startsWith('features/_index/');
    const localFiles = [...localKeys.keys()].filter((k) => !k.split('/').some((p) => p.startsWith('.')));
    assert.deepEqual([...keys.keys()].filter((k) => !isIndex(k)).sort(), localFiles.filter((k) => !isIndex(k)).sort(), 'the same files as the local run');
    assert.equal([...keys.keys()].filter(isIndex).length, localFiles.filter(isIndex).length, 'as many index chunks as the local run');
    const [rManifest, lManifest] = await Promise.all([json(remote, 'features/_manifest.json'), json(local, 'features/_manifest.json')]);
    assert.equal(rManifest.status, 'complete');
    assert.equal(rManifest.config.input, INPUT);
    assert.equal(rManifest.output, `${RUN1}/features`);
    assert.deepEqual(rManifest.counts, lManifest.counts);
    assert.deepEqual(rManifest.rowsPerLabel, lManifest.rowsPerLabel);
    assert.deepEqual(rManifest.partitions, lManifest.partitions, 'the same partitions, fingerprints, rows and part sizes');
    const runManifest = await json(remote, '_run.json');
    assert.equal(runManifest.status, 'complete');
    assert.equal(runManifest.input, INPUT);
    assert.equal((await json(remote, 'reduced/_manifest.json')).status, 'complete');
    const html = (await remote.read('report.html')).toString('utf8');
    assert.match(html, /^<!doctype html>/i);
    assert.ok(html.includes(summary.runId), 'the report names its run');

    // Objects open from the console / a browser with the right type.
    const client = new S3Client({ endpoint: server.endpoint, region: 'eu-west-3', forcePathStyle: true });
    try {
      const type = async (key: string) => (await client.send(new HeadObjectCommand({ Bucket: OUTPUT_BUCKET, Key: `Results/run1/${key}` }))).ContentType;
      assert.match((await type('report.html')) ?? '', /^text\/html/);
      assert.equal(await type('features/part-00000.parquet'), 'application/vnd.apache.parquet');
      assert.equal(await type('features/_manifest.json'), 'application/json');
    } finally {
      client.destroy();
    }

    // Objects over the part size (8 MiB by default) went up as multipart uploads even under faults.
    const overPartSize = [...keys].filter(([, size]) => size > 8 * MIB).length;
    t.diagnostic(`objects over 8 MiB: ${overPartSize}; features part-00000.parquet (1,024 images): ${keys.get('features/part-00000.parquet')} bytes`);
    assert.ok(stats.multipartCompletes >= overPartSize, `${stats.multipartCompletes} multipart completions for ${overPartSize} large objects`);
  });

  it('fits from S3 to S3, uploading exactly the objects over the part size as multipart', async (t) => {
    proxy.resetStats();
    // 5 MiB, S3's smallest part: the statistics (6.3 MiB) and the model (9 MiB) must go in parts.
    const s = await fruitsJson<{ rows: number; k: number; pca: string }>(['fit', `${RUN1}/features`, REFIT, ...WORKERS], { FRUITS_S3_PART_SIZE_MIB: '5' });
    assert.equal(s.rows, IMAGES);
    assert.equal(s.pca, `${REFIT}/model.json`);
    const written = await keysUnder(s3(REFIT));
    t.diagnostic(`written: ${JSON.stringify(Object.fromEntries(written))}`);
    const large = [...written].filter(([, size]) => size > 5 * MIB);
    // The statistics of each part are kept (pca/_stats/parts/, for later updates), as large as stats.bin.
    const isPartStats = (k: string) => k.startsWith('_stats/parts/');
    const parts = (await json(s3(`${RUN1}/features`), '_manifest.json')).partitions.length;
    assert.deepEqual(large.map(([k]) => k).filter((k) => !isPartStats(k)).sort(), ['model.json', 'stats.bin'], 'the statistics and the model are over 5 MiB');
    assert.equal(large.filter(([k]) => isPartStats(k)).length, parts, 'one statistics file per part');
    const partsOf = (size: number) => Math.ceil(size / (5 * MIB));
    assert.equal(proxy.stats.multipartStarts, large.length, 'one multipart upload per object over the part size, no more');
    assert.equal(proxy.stats.multipartCompletes, large.length);
    assert.equal(proxy.stats.partUploads, large.reduce((n, [, size]) => n + partsOf(size), 0), 'in parts of 5 MiB');
    // The parts were put together in order: the same model as the run's.
    assert.ok((await s3(REFIT).read('model.json')).equals(await s3(RUN1).read('pca/model.json')), 'refit model equals the run model');
    // A features part of 1,024 images is ~4 MB snappy-compressed: one PUT at any allowed part size.
    const part0 = (await keysUnder(s3(`${RUN1}/features`))).get('part-00000.parquet')!;
    t.diagnostic(`features part of 1,024 images: ${part0} bytes (${(part0 / MIB).toFixed(2)} MiB)`);
  });

  it('transforms from S3 to S3 (model, features, output, CSV) exactly as the run did', async () => {
    const out = `s3://${OUTPUT_BUCKET}/Results/retransform`;
    const tr = await fruitsJson<{ rows: number; parts: number; k: number; output: string }>([
      'transform',
      '--pca',
      `${REFIT}/model.json`,
      `${RUN1}/features`,
      `${out}/reduced`,
      '--csv',
      `${out}/csv`,
      ...WORKERS,
    ]);
    const k = parsePcaModel((await s3(REFIT).read('model.json')).toString('utf8')).k;
    assert.deepEqual([tr.rows, tr.parts, tr.k, tr.output], [IMAGES, 2, k, `${out}/reduced`]);
    const reduced = await readDataset(s3(`${out}/reduced`));
    assertSameRowsByPath(reduced.rows, (await readDataset(s3(`${RUN1}/reduced`))).rows, 'transform vs run');
    assert.equal(reduced.rows.length, IMAGES);
    assert.ok(await s3(`${out}/reduced`).exists('_SUCCESS'));
    const csv = await keysUnder(s3(`${out}/csv`));
    assert.deepEqual([...csv.keys()].sort(), ['_SUCCESS', 'part-00000.csv', 'part-00001.csv']);
    // The two parts share the photos evenly (a short remainder is split with the last full part).
    const lines = (await s3(`${out}/csv`).read('part-00001.csv')).toString('utf8').trim().split('\n');
    assert.equal(lines.length, 1 + Math.floor(IMAGES / 2));
    assert.equal(lines[0].split(',').length, 2 + k);
  });

  it('inspects an S3 dataset exactly as the same dataset on disk', async () => {
    const remote = await fruits(['inspect', `${RUN1}/features`, '--json', '--head', '3']);
    assert.equal(remote.code, 0, show(remote));
    const { location, ...r } = JSON.parse(remote.stdout);
    const { location: _l, ...l } = JSON.parse(JSON.stringify(await inspectDataset(path.join(localRun, 'features'), 3)));
    assert.equal(location, `${RUN1}/features`);
    assert.equal(r.rows, IMAGES);
    assert.equal(r.complete, true);
    assert.equal(r.firstRows.length, 3);
    // The same dataset, written by two runs: all but the time of each version is the same.
    const untimed = (d: { versions?: { time?: string }[] }) => ({ ...d, versions: d.versions?.map(({ time: _t, ...v }) => v) });
    assert.deepEqual(untimed(r), untimed(l));
  });
});

describe('featurize and resume with s3:// locations (--limit subsets)', () => {
  const sub = `s3://${OUTPUT_BUCKET}/sub/features`;
  const resumed = `s3://${OUTPUT_BUCKET}/resumed`;
  let reference: Dataset;

  before(async () => {
    reference = await readDataset(openStore(path.join(localRun, 'features')));
  });

  it('featurizes from S3 to S3 with a bounded number of concurrent GETs', async (t) => {
    proxy.resetStats();
    // A distant region's round trip on every request: reads must overlap to keep up.
    proxy.configure({ latencyMs: 40 });
    let s;
    try {
      s = await fruitsJson<{ rows: number; partitions: number; output: string }>(['featurize', INPUT, sub, ...SMALL]);
    } finally {
      proxy.configure({ latencyMs: 0 });
    }
    assert.deepEqual([s.rows, s.partitions, s.output], [128, 4, sub]);
    // The one worker reads ahead by two batches (2 × BATCH images) while it decodes and infers;
    // the coordinator adds a few requests (listing, plans, manifest).
    t.diagnostic(`max requests in flight: ${proxy.stats.maxConcurrent}`);
    assert.ok(proxy.stats.maxConcurrent >= 1.5 * BATCH, `GETs run concurrently: at most ${proxy.stats.maxConcurrent} in flight`);
    assert.ok(proxy.stats.maxConcurrent <= 2 * BATCH + 8, `the read-ahead is bounded: ${proxy.stats.maxConcurrent} in flight`);
    const got = await readDataset(s3(sub));
    assert.deepEqual(got.rows.map((r) => r.path), reference.rows.slice(0, 128).map((r) => r.path));
    assertSameRowsByPath(got.rows, reference.rows, 'featurize s3:// vs the local run');
    assert.ok(await s3(sub).exists('_SUCCESS'));
  });

  it('finishes a run SIGKILLed mid-featurize with the result of an uninterrupted one', async () => {
    const store = s3(resumed);
    const sidecars = async () => [...(await keysUnder(store.sub('features/_parts'))).keys()].filter((k) => /^part-\d+\.json$/.test(k));
    const child = spawnCli(['run', INPUT, resumed, ...SMALL, '--quiet'], { detached: true, env: { AWS_ENDPOINT_URL_S3: proxy.endpoint } });
    const done = collect(child);
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline && child.exitCode === null) {
      if ((await sidecars()).length > 0) {
        process.kill(-child.pid!, 'SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const killed = await done;
    cliRuns.push({ what: 'run (killed)', result: killed });
    assert.equal(killed.signal, 'SIGKILL', `killed mid-way, not finished:\n${show(killed)}`);
    for (let i = 0; i < 100 && groupAlive(child.pid!); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!groupAlive(child.pid!), 'no worker process survived');
    assert.ok(!(await store.exists('features/_SUCCESS')), 'not complete');
    const started = await json(store, '_run.json');
    assert.equal(started.status, 'running');
    const finished = await sidecars();
    assert.ok(finished.length >= 1 && finished.length < 4, `${finished.length} of 4 partitions finished before the kill`);

    const s = await fruitsJson<any>(['run', INPUT, resumed, ...SMALL]);
    assert.equal(s.runId, started.runId, 'the run keeps its id');
    assert.equal(s.featurize.resumedPartitions, finished.length, 'every finished partition is resumed');
    assert.equal(s.featurize.rows, 128);
    for (const k of ['features/_SUCCESS', 'reduced/_SUCCESS', 'report.html']) assert.ok(await store.exists(k), k);
    // The same parts, rows and bits as the uninterrupted featurize of the previous test.
    assertSameDataset(await readDataset(store.sub('features')), await readDataset(s3(sub)), 'resumed vs uninterrupted features');
    assert.equal(parsePcaModel((await store.read('pca/model.json')).toString('utf8')).rowsFitted, 128);
    assert.equal((await readDataset(store.sub('reduced'))).rows.length, 128);
  });

  it('removes the old prefix first with --overwrite', async () => {
    const store = s3(resumed);
    // Something only a deletion of the whole prefix removes (stale parts are cleaned anyway).
    await store.write('notes/old.txt', 'from before');
    const oldRunId = (await json(store, '_run.json')).runId;
    const s = await fruitsJson<any>(['run', INPUT, resumed, ...SMALL.slice(2), '--limit', '32', '--overwrite']);
    assert.notEqual(s.runId, oldRunId, 'a new run');
    assert.equal(s.featurize.rows, 32);
    const keys = [...(await keysUnder(store)).keys()];
    assert.ok(!keys.includes('notes/old.txt'), 'the old prefix was removed');
    assert.deepEqual(keys.filter((k) => /part-0000[123]/.test(k)), [], 'nothing of the larger old run is left');
    assert.ok(keys.includes('features/_SUCCESS') && keys.includes('reduced/_SUCCESS'));
    assertSameRowsByPath((await readDataset(store.sub('features'))).rows, reference.rows, 'overwritten run vs the local run');
  });
});

describe('S3 failures: one line, non-zero exit, nothing written', () => {
  const cases: { name: string; input: string; output: string; deny?: string[]; message: RegExp }[] = [
    {
      name: 'input bucket forbidden (403)',
      input: INPUT,
      output: `s3://${OUTPUT_BUCKET}/denied-input`,
      deny: [INPUT_BUCKET],
      message: /^fruits: error: s3:\/\/fruits\/Test\/?\S*: access denied \(403 AccessDenied\); check the credentials and the IAM policy/,
    },
    {
      name: 'output bucket forbidden (403)',
      input: INPUT,
      output: `s3://${OUTPUT_BUCKET}/denied-output`,
      deny: [OUTPUT_BUCKET],
      message: /^fruits: error: s3:\/\/results\/denied-output\/?\S*: access denied \(403 AccessDenied\); check the credentials and the IAM policy/,
    },
    {
      name: 'input bucket missing',
      input: 's3://no-such-input/Test',
      output: `s3://${OUTPUT_BUCKET}/missing-input`,
      message: /^fruits: error: s3:\/\/no-such-input\/Test\/?\S*: bucket "no-such-input" does not exist \(404 NoSuchBucket\)$/,
    },
    {
      name: 'output bucket missing',
      input: INPUT,
      output: 's3://no-such-output/run',
      message: /^fruits: error: s3:\/\/no-such-output\/run\/?\S*: bucket "no-such-output" does not exist \(404 NoSuchBucket\)$/,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: fruits run and fruits featurize`, async () => {
      // Its own proxy, answering 403 for the denied bucket.
      const own = await startFaultProxy({ target: server.endpoint, denyBuckets: c.deny ?? [] });
      try {
        for (const command of ['run', 'featurize']) {
          own.resetStats();
          const r = await runCli([command, c.input, c.output, '--limit', '8', '--workers', '1', '--quiet'], { env: { AWS_ENDPOINT_URL_S3: own.endpoint } });
          cliRuns.push({ what: `${command} (${c.name})`, result: r });
          assert.equal(r.code, 1, `${command}: ${show(r)}`);
          const lines = errorLines(r.stderr);
          assert.equal(lines.length, 1, `${command}: one error line\n${show(r)}`);
          assert.match(lines[0], c.message, command);
          assert.equal(r.stdout, '', `${command}: no summary`);
          if (c.deny) assert.equal(own.stats.injected['403'], 1, `${command}: one forbidden request, not retried`);
          if (c.output.startsWith(`s3://${OUTPUT_BUCKET}/`)) {
            assert.deepEqual([...(await keysUnder(s3(c.output))).keys()], [], `${command}: nothing written under ${c.output}`);
          }
        }
      } finally {
        await own.stop();
      }
    });
  }

  it('left no _SUCCESS outside the runs that succeeded', async () => {
    const successes = [...(await keysUnder(s3(`s3://${OUTPUT_BUCKET}`))).keys()].filter((k) => k.endsWith('_SUCCESS')).sort();
    assert.deepEqual(
      successes.filter((k) => !/^(Results\/(run1|retransform)|sub|resumed)\//.test(k)),
      [],
      `only complete datasets are marked: ${successes.join(', ')}`,
    );
  });
});

describe('credentials', () => {
  it('never appear in any output, log line (debug level included) or object written', async () => {
    assert.ok(cliRuns.length >= 10, `${cliRuns.length} CLI runs checked`);
    for (const { what, result } of cliRuns) {
      assert.ok(!result.stdout.includes(TEST_SECRET_ACCESS_KEY), `stdout of ${what}`);
      assert.ok(!result.stderr.includes(TEST_SECRET_ACCESS_KEY), `stderr of ${what}`);
    }
    const bucket = s3(`s3://${OUTPUT_BUCKET}`);
    const keys = [...(await keysUnder(bucket)).keys()];
    assert.ok(keys.includes('Results/run1/report.html') && keys.includes('Results/run1/features/_manifest.json'));
    for (const key of keys) {
      assert.ok(!(await bucket.read(key)).includes(TEST_SECRET_ACCESS_KEY), `${key} holds the secret`);
    }
  });
});
