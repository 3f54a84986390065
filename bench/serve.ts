// Serve benchmark: `fruits serve` in its own process, loaded by closed-loop clients posting
// 100×100 JPEGs (the mini dataset's Test photos) over keep-alive connections. Reports p50/p90/
// p99 latency and requests/s at 16 concurrent clients for both decode paths (native size,
// batched by size and resized in ONNX Runtime; or resized to 224×224 in sharp), the latency of
// one client alone, latency under a steady open-loop arrival rate below capacity, the server's
// CPU time per answer, and the mean batch size the micro-batcher formed. The machine is shared, so
// the raw inference rate of the same network (synthetic input, the batch size the server formed,
// the server's thread count), measured before and after, is reported beside it: the ratio says
// how much of the available inference capacity the server turns into answers. Runnable alone:
// `node dist/bench/serve.js` (after `npm run build`).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cli, miniData, modelDir, rawInferScript, runNode, table } from './util.js';

const SECONDS = Number(process.env.BENCH_SERVE_SECONDS ?? 20);
const WARMUP_SECONDS = 3;
const CONCURRENCY = Number(process.env.BENCH_SERVE_CLIENTS ?? 16);
// Open loop: requests arrive at these rates whatever the answers do (as from many phones):
// one well below capacity, one near it.
const OPEN_RATES = (process.env.BENCH_SERVE_RATES ?? '40,120').split(',').map(Number);

export async function listJpegs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listJpegs(p)));
    else if (/\.jpe?g$/i.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** A small bundle trained on two photos per class: serving cost does not depend on its accuracy. */
async function benchBundle(): Promise<string> {
  const root = path.join(os.tmpdir(), 'fruits-bench-serve');
  const bundle = path.join(root, 'bundle');
  if (existsSync(path.join(bundle, 'bundle.json'))) return bundle;
  const images = path.join(root, 'images');
  await fs.rm(root, { recursive: true, force: true });
  const training = path.join(miniData, 'Training');
  for (const label of (await fs.readdir(training)).sort()) {
    const files = (await fs.readdir(path.join(training, label))).filter((f) => /\.jpe?g$/i.test(f)).sort();
    await fs.mkdir(path.join(images, label), { recursive: true });
    for (const f of [files[0], files[Math.floor(files.length / 2)]]) await fs.symlink(path.join(training, label, f), path.join(images, label, f));
  }
  const env = { FRUITS_MODEL_DIR: modelDir };
  const feat = await runNode([cli, 'featurize', images, path.join(root, 'features'), '--quiet'], env);
  if (feat.code !== 0) throw new Error(`featurize failed: ${feat.stderr}`);
  const train = await runNode([cli, 'train', path.join(root, 'features'), bundle, '--quiet', '--holdout', '0'], env);
  if (train.code !== 0) throw new Error(`train failed: ${train.stderr}`);
  return bundle;
}

export interface Server {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

export async function startServe(bundle: string, extra: string[]): Promise<Server> {
  const child = spawn(process.execPath, [cli, 'serve', bundle, '--port', '0', ...extra], {
    env: { ...process.env, FRUITS_MODEL_DIR: modelDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fruits serve did not start:\n${log}`)), 120_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      const ready = /ready: POST (http:\/\/\S+)\/v1\/classify/.exec(log);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fruits serve exited with ${code}:\n${log}`));
    });
  });
  return {
    child,
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100; // USER_HZ is 100 on Linux
}

function post(agent: http.Agent, url: URL, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'image/jpeg', 'content-length': body.length } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(body);
  });
}

export interface LoadResult {
  requests: number;
  /** Requests completed during the warm-up (not timed). */
  warmup: number;
  errors: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** `clients` closed loops for `seconds` after a warm-up; latencies in ms. */
async function closedLoop(base: string, bodies: Buffer[], clients: number, seconds: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const url = new URL('/v1/classify?top=5', base);
  const latencies: number[] = [];
  let errors = 0;
  let warmup = 0;
  let next = 0;
  const warmEnd = performance.now() + WARMUP_SECONDS * 1000;
  const end = warmEnd + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const body = bodies[next++ % bodies.length];
        const t = performance.now();
        const status = await post(agent, url, body).catch(() => 0);
        const done = performance.now();
        if (t < warmEnd) {
          warmup++;
          continue;
        }
        if (status === 200) latencies.push(done - t);
        else errors++;
      }
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { requests: latencies.length, warmup, errors, rps: latencies.length / seconds, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: latencies.at(-1) ?? NaN };
}

/** Requests arriving at `rate` per second (Poisson) for `seconds`; latencies in ms. */
async function openLoop(base: string, bodies: Buffer[], rate: number, seconds: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const url = new URL('/v1/classify?top=5', base);
  const latencies: number[] = [];
  let errors = 0;
  let seed = 12345;
  const uniform = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) + 1) / 0x80000001;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  let at = start;
  for (let i = 0; at < start + seconds * 1000; i++) {
    at += (-Math.log(uniform()) / rate) * 1000;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = performance.now();
    inFlight.push(
      post(agent, url, bodies[i % bodies.length])
        .catch(() => 0)
        .then((status) => {
          if (status === 200) latencies.push(performance.now() - t);
          else errors++;
        }),
    );
  }
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { requests: latencies.length, warmup: 0, errors, rps: latencies.length / seconds, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: latencies.at(-1) ?? NaN };
}

async function rawInference(batch: number, seconds: number): Promise<number> {
  const script = rawInferScript;
  const r = await runNode([script, String(batch), String(seconds)], { FRUITS_WORKER_THREADS: String(os.availableParallelism()), FRUITS_MODEL_DIR: modelDir });
  if (r.code !== 0) throw new Error(`raw inference failed: ${r.stderr}`);
  const { images, seconds: s } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { images: number; seconds: number };
  return images / s;
}

async function meanBatchSize(base: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', base))).text();
  const sum = Number(/^fruits_inference_batch_size_sum (\S+)$/m.exec(text)?.[1]);
  const count = Number(/^fruits_inference_batch_size_count (\S+)$/m.exec(text)?.[1]);
  return count > 0 ? sum / count : NaN;
}

export async function benchServe(): Promise<Record<string, number | string>> {
  const bundle = await benchBundle();
  const files = await listJpegs(path.join(miniData, 'Test'));
  // A spread of different photos, read once: the clients measure the server, not the disk.
  const bodies = await Promise.all(files.filter((_, i) => i % 4 === 0).map((f) => fs.readFile(f)));
  const out: Record<string, number | string> = {
    config: `${CONCURRENCY} closed-loop clients, ${SECONDS} s after ${WARMUP_SECONDS} s warm-up, ${bodies.length} distinct 100×100 JPEGs, server on ${os.availableParallelism()} cores`,
  };
  const rawBefore = await rawInference(8, 6);
  for (const mode of ['native', 'model'] as const) {
    const server = await startServe(bundle, ['--decode-size', mode]);
    try {
      const cpu0 = await cpuSeconds(server.child.pid!);
      const own0 = process.cpuUsage();
      const loaded = await closedLoop(server.url, bodies, CONCURRENCY, SECONDS);
      // CPU per answer does not depend on how busy the shared machine is, unlike latency:
      // 2 cores / (server + client CPU per request) is what an idle 2-core machine could do.
      const serverCpuMs = ((await cpuSeconds(server.child.pid!)) - cpu0) * 1000;
      const own = process.cpuUsage(own0);
      const clientCpuMs = (own.user + own.system) / 1000;
      const batch = await meanBatchSize(server.url);
      const prefix = mode === 'native' ? '' : 'sharpResize_';
      out[`${prefix}p50Ms`] = loaded.p50;
      out[`${prefix}p90Ms`] = loaded.p90;
      out[`${prefix}p99Ms`] = loaded.p99;
      out[`${prefix}maxMs`] = loaded.max;
      out[`${prefix}requestsPerSecond`] = loaded.rps;
      out[`${prefix}errors`] = loaded.errors;
      out[`${prefix}meanBatchSize`] = batch;
      // Both measured over the warm-up too: divide by every request sent, not only the timed ones.
      const sent = loaded.requests + loaded.errors + loaded.warmup;
      out[`${prefix}serverCpuMsPerRequest`] = serverCpuMs / sent;
      out[`${prefix}clientCpuMsPerRequest`] = clientCpuMs / sent;
      out[`${prefix}idle2CoreCapacityRps`] = (2 * 1000) / ((serverCpuMs + clientCpuMs) / sent);
      if (mode === 'native') {
        const single = await closedLoop(server.url, bodies, 1, Math.max(5, SECONDS / 4));
        out.singleClient_p50Ms = single.p50;
        out.singleClient_p99Ms = single.p99;
        out.singleClient_requestsPerSecond = single.rps;
        for (const rate of OPEN_RATES) {
          const open = await openLoop(server.url, bodies, rate, SECONDS);
          out[`openLoop${rate}_answeredPerSecond`] = open.rps;
          out[`openLoop${rate}_p50Ms`] = open.p50;
          out[`openLoop${rate}_p90Ms`] = open.p90;
          out[`openLoop${rate}_p99Ms`] = open.p99;
          out[`openLoop${rate}_errors`] = open.errors;
        }
      }
    } finally {
      await server.stop();
    }
  }
  const batch = Math.max(1, Math.round(Number(out.meanBatchSize) || 8));
  const raw = ((await rawInference(batch, 6)) + rawBefore) / 2;
  out.rawInferenceImagesPerSecond = raw;
  out.rawInferenceBatch = batch;
  out.servedShareOfRawInference = Number(out.requestsPerSecond) / raw;
  out.targets = 'p50 ≤ 20 ms, p99 ≤ 60 ms, ≥ 150 requests/s at 16 clients';
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchServe();
  console.log(table(Object.entries(r)));
  console.log(JSON.stringify(r));
}
