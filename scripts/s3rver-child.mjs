// Runs s3rver (an S3-protocol server on the local filesystem) in its own process for tests.
// Started by test/helpers/s3-server.ts with fork(): node scripts/s3rver-child.mjs <data-dir>
// IPC: sends { type: 'ready', port }; answers { type: 'createBucket', id, name } with { type: 'done', id[, error] }.
// Needs NODE_OPTIONS=--openssl-legacy-provider: s3rver encrypts listing continuation tokens with DES.
// Known s3rver quirk left as is: a DeleteObjects whose parallel deletions race to remove an emptied
// folder answers 500 once; clients retry it, as they would on S3.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// s3rver lists a bucket by walking folders in readdir order, where `a` comes before `a b`; S3
// lists keys in byte-wise order (`a b/x` < `a-b/x` < `a/x`). Sorting each folder's entries by the
// key they stand for (a folder as `name/`, a file without s3rver's `._S3rver_*` suffix) makes
// s3rver's listings, and so its pagination, follow S3's order. Must run before s3rver loads.
const utils = require('s3rver/lib/utils.js');
const fs = require('node:fs');
const path = require('node:path');
const SUFFIX = /\._S3rver_[a-z0-9.]+$/;
utils.walk = function* walk(dir, recurseFilter) {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).map((e) => ({
    e,
    sortKey: Buffer.from(e.isDirectory() ? `${e.name}/` : e.name.replace(SUFFIX, '')),
  }));
  entries.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  for (const { e } of entries) {
    const filePath = path.posix.join(dir, e.name);
    if (!e.isDirectory()) yield filePath;
    else if (!recurseFilter || recurseFilter(filePath)) yield* walk(filePath, recurseFilter);
  }
};

const S3rver = require('s3rver');

const directory = process.argv[2];
if (!directory || !process.send) {
  console.error('usage: fork(scripts/s3rver-child.mjs, [dataDir]) with an IPC channel');
  process.exit(2);
}

const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
const { port } = await server.run();

let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  await server.close().catch(() => undefined);
  process.exit(code);
}

process.on('message', async (msg) => {
  if (msg?.type === 'createBucket') {
    try {
      await server.store.putBucket(msg.name);
      process.send({ type: 'done', id: msg.id });
    } catch (err) {
      process.send({ type: 'done', id: msg.id, error: String(err?.message ?? err) });
    }
  } else if (msg?.type === 'stop') {
    await shutdown(0);
  }
});
// The parent died or let go of us: never outlive it.
process.on('disconnect', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

process.send({ type: 'ready', port });
