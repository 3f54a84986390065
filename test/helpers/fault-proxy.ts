// An HTTP proxy between the SDK and an S3-protocol server that injects the failures S3 clients
// meet in production: 503 ServiceUnavailable, 503 SlowDown (throttling), and connections dropped
// mid-response. Which requests fail is decided by a seeded PRNG, so a run is reproducible in
// count if not in which concurrent request is hit. It can also answer 403 AccessDenied for chosen
// buckets, since s3rver does not enforce policies. Path-style requests only (`/bucket/key`).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mulberry32 as prng } from './random.js';

export type FaultMode = '503' | 'slowdown' | 'reset';

export interface FaultProxyOptions {
  /** Upstream server, e.g. `http://127.0.0.1:4568`. */
  target: string;
  /** Share of requests that fail, 0…1. */
  failureRate?: number;
  modes?: FaultMode[];
  seed?: number;
  /** Buckets answered with 403 AccessDenied ('*' for all), before any other fault. */
  denyBuckets?: string[];
  /** The next n requests fail whatever the rate, taking `modes` in turn: for targeted tests. */
  failNext?: number;
  /** Delay added before each request is handled, like a distant region's round trip. */
  latencyMs?: number;
}

export interface FaultStats {
  requests: number;
  forwarded: number;
  injected: Record<FaultMode | '403', number>;
  /** Multipart uploads started (`POST ?uploads`), parts sent (`PUT ?partNumber`), completed (`POST ?uploadId`). */
  multipartStarts: number;
  partUploads: number;
  multipartCompletes: number;
  /** Faults by operation: list, get, head, put, post, delete. */
  injectedByOp: Record<string, number>;
  /** Most requests in flight at once: shows whether the client runs requests in parallel. */
  maxConcurrent: number;
}

export interface FaultProxy {
  endpoint: string;
  readonly stats: FaultStats;
  /** Faults injected so far, all modes together (403 excluded). */
  totalInjected(): number;
  /** Change the failure rate, modes or denied buckets for later requests. */
  configure(opts: Partial<Omit<FaultProxyOptions, 'target' | 'seed'>>): void;
  resetStats(): void;
  stop(): Promise<void>;
}


function emptyStats(): FaultStats {
  return { requests: 0, forwarded: 0, injected: { '503': 0, slowdown: 0, reset: 0, '403': 0 }, multipartStarts: 0, partUploads: 0, multipartCompletes: 0, injectedByOp: {}, maxConcurrent: 0 };
}

function xmlError(code: string, message: string, resource: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${esc(message)}</Message><Resource>${esc(resource)}</Resource><RequestId>fault-proxy</RequestId></Error>`;
}

function sendError(req: http.IncomingMessage, res: http.ServerResponse, status: number, code: string, message: string): void {
  // Read the request body first so the keep-alive connection stays usable, as S3 does.
  req.resume();
  req.once('end', () => {
    const body = xmlError(code, message, req.url ?? '/');
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': 'fault-proxy' });
    res.end(body);
  });
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const random = prng(options.seed ?? 1);
  let failureRate = options.failureRate ?? 0;
  let modes: FaultMode[] = options.modes ?? ['503', 'slowdown', 'reset'];
  let deny = new Set(options.denyBuckets ?? []);
  let failNext = options.failNext ?? 0;
  let latencyMs = options.latencyMs ?? 0;
  let turn = 0;
  let stats = emptyStats();
  let inFlight = 0;
  const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const server = http.createServer((req, res) => {
    stats.requests++;
    inFlight++;
    stats.maxConcurrent = Math.max(stats.maxConcurrent, inFlight);
    res.once('close', () => inFlight--);
    if (latencyMs > 0) setTimeout(() => handle(req, res), latencyMs);
    else handle(req, res);
  });

  function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const bucket = decodeURIComponent(url.pathname.split('/')[1] ?? '');
    const op = req.method === 'GET' && url.searchParams.get('list-type') === '2' ? 'list' : (req.method ?? '?').toLowerCase();
    if (req.method === 'POST' && url.searchParams.has('uploads')) stats.multipartStarts++;
    if (req.method === 'PUT' && url.searchParams.has('partNumber')) stats.partUploads++;
    if (req.method === 'POST' && url.searchParams.has('uploadId')) stats.multipartCompletes++;

    if (deny.has('*') || deny.has(bucket)) {
      stats.injected['403']++;
      return sendError(req, res, 403, 'AccessDenied', 'Access Denied');
    }
    let mode: FaultMode | undefined;
    if (failNext > 0 && modes.length > 0) {
      failNext--;
      mode = modes[turn++ % modes.length];
    } else if (failureRate > 0 && modes.length > 0 && random() < failureRate) {
      mode = modes[Math.floor(random() * modes.length)];
    }
    if (mode) stats.injectedByOp[op] = (stats.injectedByOp[op] ?? 0) + 1;
    if (mode === '503') {
      stats.injected['503']++;
      return sendError(req, res, 503, 'ServiceUnavailable', 'Please reduce your request rate.');
    }
    if (mode === 'slowdown') {
      stats.injected.slowdown++;
      return sendError(req, res, 503, 'SlowDown', 'Please reduce your request rate.');
    }
    forward(req, res, mode === 'reset');
  }

  // The request really reaches the server (a PUT is applied), then the client loses the answer
  // part-way: half of the raw response bytes are written and the socket is destroyed.
  function forward(req: http.IncomingMessage, res: http.ServerResponse, reset: boolean): void {
    const headers = { ...req.headers };
    delete headers.expect; // this side already answered 100-continue
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: upstreamAgent },
      (upRes) => {
        stats.forwarded++;
        if (!reset) {
          res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.rawHeaders);
          upRes.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          stats.injected.reset++;
          const lines = [`HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage}`];
          for (let i = 0; i < upRes.rawHeaders.length; i += 2) lines.push(`${upRes.rawHeaders[i]}: ${upRes.rawHeaders[i + 1]}`);
          const raw = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), ...chunks]);
          const socket = req.socket;
          socket.write(raw.subarray(0, Math.floor(raw.length / 2)), () => socket.destroy());
        });
      },
    );
    up.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: upstream error: ${err.message}`);
      } else {
        res.destroy();
      }
    });
    req.pipe(up);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    get stats() {
      return stats;
    },
    totalInjected: () => stats.injected['503'] + stats.injected.slowdown + stats.injected.reset,
    configure(opts) {
      if (opts.failureRate !== undefined) failureRate = opts.failureRate;
      if (opts.modes !== undefined) modes = opts.modes;
      if (opts.denyBuckets !== undefined) deny = new Set(opts.denyBuckets);
      if (opts.failNext !== undefined) failNext = opts.failNext;
      if (opts.latencyMs !== undefined) latencyMs = opts.latencyMs;
    },
    resetStats() {
      stats = emptyStats();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstreamAgent.destroy();
    },
  };
}
