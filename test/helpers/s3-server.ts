// A real S3-protocol server for tests: s3rver in its own child process (so its work and its
// crashes stay out of the test process), on 127.0.0.1, with its data in a fresh temp folder.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface S3TestServer {
  /** `http://127.0.0.1:<port>`: give it to AWS_ENDPOINT_URL_S3 or a fault proxy. */
  endpoint: string;
  port: number;
  /** Where s3rver keeps buckets (`<dataDir>/<bucket>/<key>._S3rver_object`). */
  dataDir: string;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

// dist/test/helpers/s3-server.js → <repo>/scripts/s3rver-child.mjs
const CHILD_SCRIPT = fileURLToPath(new URL('../../../scripts/s3rver-child.mjs', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

interface ChildMessage {
  type: 'ready' | 'done';
  port?: number;
  id?: number;
  error?: string;
}

export async function startS3Server(): Promise<S3TestServer> {
  if (!existsSync(CHILD_SCRIPT)) throw new Error(`s3rver launcher not found: ${CHILD_SCRIPT}`);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-s3rver-'));
  const child = fork(CHILD_SCRIPT, [dataDir], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      // s3rver's continuation tokens use DES, which OpenSSL 3 only has in its legacy provider.
      NODE_OPTIONS: [process.env.NODE_OPTIONS, '--openssl-legacy-provider'].filter(Boolean).join(' '),
    },
  });

  let port: number;
  try {
    port = await waitForReady(child);
  } catch (err) {
    child.kill('SIGKILL');
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  let nextId = 1;
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  child.on('message', (m: ChildMessage) => {
    if (m.type !== 'done' || m.id === undefined) return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p?.reject(new Error(m.error));
    else p?.resolve();
  });
  child.on('exit', () => {
    for (const p of pending.values()) p.reject(new Error('s3rver exited'));
    pending.clear();
  });

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    createBucket(name: string) {
      return new Promise<void>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ type: 'createBucket', id, name });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.send({ type: 'stop' });
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

function waitForReady(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const onMessage = (m: ChildMessage) => {
      if (m.type === 'ready' && m.port) {
        done();
        resolve(m.port);
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`s3rver exited before it was ready (code ${code}, signal ${signal})`));
    };
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Secret used by tests: s3rver does not check SigV4 signatures, so any secret works; this one
 * is distinctive so tests can prove it never leaks into messages. The key id must be S3RVER. */
export const TEST_SECRET_ACCESS_KEY = 'fruits-test-secret-Qm7vX2pL9wZr4Tk8';

/**
 * Points the SDK at `endpoint` the way a user of an S3-compatible store would: standard AWS_*
 * variables plus FRUITS_S3_FORCE_PATH_STYLE and FRUITS_S3_CHECKSUMS (s3rver does not understand
 * the SDK's CRC trailers). Shared config files are redirected so a developer's ~/.aws cannot
 * interfere. Returns a function restoring the previous environment.
 */
export function setS3TestEnv(endpoint: string): () => void {
  const vars: Record<string, string | undefined> = {
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: TEST_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN: undefined,
    AWS_REGION: 'eu-west-3',
    AWS_PROFILE: undefined,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_CONFIG_FILE: path.join(os.tmpdir(), 'fruits-no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(os.tmpdir(), 'fruits-no-aws-credentials'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    FRUITS_S3_FORCE_PATH_STYLE: '1',
    FRUITS_S3_CHECKSUMS: 'when_required',
  };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  setEnv(vars);
  return () => setEnv(saved);
}

function setEnv(vars: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}
