// A real Redis for the distributed tests: Debian's redis-server on a free loopback port, without
// persistence (`--save '' --appendonly no`, in a temp dir), restartable on the same port (an
// empty Redis comes back, as after a crash); and `fruits worker` child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { Queue } from 'bullmq';
import { collect, spawnCli, type CliOptions, type CliResult } from './cli.js';
import { freePort } from './free-port.js';
import { tempDir } from './paths.js';

export const REDIS_SERVER = process.env.FRUITS_REDIS_SERVER ?? '/usr/bin/redis-server';

export interface RedisServer {
  port: number;
  /** redis://[:password@]127.0.0.1:port */
  url: string;
  password?: string;
  /** Kills the server (SIGKILL: nothing is saved) and starts an empty one on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function waitForReady(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) {
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready:\n${out}`)));
  });
}

export async function startRedis(opts: { password?: string } = {}): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`no redis-server at ${REDIS_SERVER}: apt-get install redis-server (or set FRUITS_REDIS_SERVER)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fruits-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(opts.password ? ['--requirepass', opts.password] : [])];
  const start = async () => {
    child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitForReady(child, `redis-server on port ${port}`);
  };
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    port,
    url: `redis://${opts.password ? `:${encodeURIComponent(opts.password)}@` : ''}127.0.0.1:${port}`,
    password: opts.password,
    async restart() {
      await kill();
      await start();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** stdout + stderr so far. */
  output(): string;
  /** Resolves when the worker has connected and listens to the queue. */
  ready: Promise<void>;
  exited: Promise<CliResult>;
}

/** A `fruits worker` process (one ONNX Runtime thread unless `args` say otherwise). */
export function startWorker(redisUrl: string, args: string[] = [], env: Record<string, string | undefined> = {}): WorkerProcess {
  const child = spawnTracked(['worker', '--redis', redisUrl, ...(args.includes('--threads') ? [] : ['--threads', '1']), ...args], { env });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = collect(child);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (/ worker \S+ ready: /.test(out)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    void exited.then((r) => {
      clearInterval(timer);
      reject(new Error(`worker exited (${r.code ?? r.signal}) before it was ready:\n${out}`));
    });
  });
  ready.catch(() => undefined);
  return { child, pid: child.pid!, output: () => out, ready, exited };
}

/** Stops workers: SIGTERM (they finish or hand back their task), then SIGKILL after `graceMs`. */
export async function stopWorkers(workers: WorkerProcess[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return;
      w.child.kill('SIGTERM');
      const t = setTimeout(() => w.child.kill('SIGKILL'), graceMs);
      await w.exited;
      clearTimeout(t);
    }),
  );
}

/** The deployment's task queue, seen from the test (to watch or stage jobs). */
export function taskQueue(server: RedisServer, prefix = 'fruits'): Queue {
  return new Queue('tasks', { connection: { host: '127.0.0.1', port: server.port, password: server.password, maxRetriesPerRequest: null }, prefix });
}

/** Polls `check` every 100 ms until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const children = new Set<ChildProcess>();

/**
 * `fruits <args>` as a child process that killChildren() ends if the test fails or times out
 * before it exits (a coordinator left waiting would keep the test file alive for minutes).
 */
export function spawnTracked(args: string[], opts: CliOptions = {}): ChildProcess {
  const child = spawnCli(args, opts);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function runTracked(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return collect(spawnTracked(args, opts));
}

export function killChildren(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
}

export interface Cluster {
  /** A temporary folder for the block's outputs. */
  dir: string;
  redis: RedisServer;
  /** The `fruits worker` processes; tests may start more here (all are stopped after the block). */
  workers: WorkerProcess[];
}

/**
 * The setting of a distributed test block: a temporary folder, a redis-server and `workers`
 * `fruits worker` processes, ready before the block's first test; after its last, every child a
 * test left running is killed, the workers stopped, Redis stopped and the folder removed.
 */
export function useCluster(name: string, opts: { workers?: number; password?: string } = {}): Cluster {
  const cluster = { workers: [] } as unknown as Cluster;
  let tmp: { dir: string; cleanup: () => Promise<void> } | undefined;
  before(async () => {
    tmp = await tempDir(name);
    cluster.dir = tmp.dir;
    cluster.redis = await startRedis({ password: opts.password });
    for (let i = 0; i < (opts.workers ?? 0); i++) cluster.workers.push(startWorker(cluster.redis.url));
    await Promise.all(cluster.workers.map((w) => w.ready));
  });
  after(async () => {
    killChildren();
    await stopWorkers(cluster.workers);
    await cluster.redis?.stop();
    await tmp?.cleanup();
  });
  return cluster;
}
