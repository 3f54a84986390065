// The settings of `fruits serve`, from flags and environment variables, checked at the edge.
// Kept apart from the server so that the CLI can describe them without loading Fastify.
import { z } from 'zod';
import { flag, optionalFlag, parseFlag, threadsFlag, UsageError } from '../util/flags.js';

/** The feature log's flush defaults (kept here: the CLI's help reads them without loading the log). */
export const FEATURE_LOG_DEFAULTS = { flushRows: 1000, flushSeconds: 60 };

export const SERVE_DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  maxBatch: 16,
  maxWaitMs: 5,
  maxQueue: 32,
  maxBodyBytes: 10 * 1024 * 1024,
  // A 48 MP phone photo passes; a 100k × 100k "image" of a few hundred bytes does not.
  maxPixels: 64_000_000,
  top: 5,
  // Slow and idle clients: the headers and body of a request must arrive within bodyTimeoutMs
  // (408 otherwise; an idle new connection too), a keep-alive connection idles keepAliveTimeoutMs.
  bodyTimeoutMs: 10_000,
  keepAliveTimeoutMs: 10_000,
  // Open connections per client address (the TCP peer; off behind a trusted proxy).
  maxClientConnections: 32,
  // On SIGTERM: requests already admitted get this long to finish before connections are cut.
  drainTimeoutMs: 10_000,
};

export interface ServeOptions {
  port: number;
  host: string;
  threads: number;
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  maxBodyBytes: number;
  maxPixels: number;
  /** Origins allowed by CORS ('*' for any); none: no CORS headers at all. */
  corsOrigins?: string[] | '*';
  /** Classify requests per client address per minute; none: no limit. */
  rateLimit?: number;
  /** 'native': decode at the photo's size and batch by size (resize in ONNX Runtime);
   *  'model': resize every photo to the network's input in sharp, so any photos batch together. */
  decodeSize: 'native' | 'model';
  model?: string;
  /** Time for a request's headers and body to arrive (408 past it). */
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Open connections per client address; 0: no bound. */
  maxClientConnections: number;
  drainTimeoutMs: number;
  /** Addresses/CIDRs of the proxies in front: from them, the client address is read from
   *  X-Forwarded-For, for the rate limit and the logs. */
  trustProxy?: string[];
  /** --log-features: where each classified photo's features and answer are logged (a folder or s3:// prefix). */
  logFeatures?: string;
  /** The log's parts are written every so many rows, and every so many ms. */
  logFlushRows?: number;
  logFlushMs?: number;
  /** --watch: how often to look for a new bundle at the bundle's location; none: never. */
  watchIntervalMs?: number;
}

const originsFlag = z
  .string()
  .trim()
  .min(1)
  .transform((s) => (s === '*' ? ('*' as const) : s.split(',').map((o) => o.trim()).filter(Boolean)))
  .pipe(z.union([z.literal('*'), z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'origins like https://app.example.com')).min(1)]));

// The proxies' addresses / CIDRs, comma-separated (or proxy-addr's names loopback, linklocal,
// uniquelocal). Not a hop count: Fastify trusts no hop count (it cannot tell a proxy from a
// client that sends its own X-Forwarded-For), so the proxy must be named by its address.
const trustProxyFlag = z
  .string()
  .transform((s) => s.split(',').map((a) => a.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^([\da-fA-F.:]+(\/\d{1,3})?|loopback|linklocal|uniquelocal)$/, 'addresses or CIDRs like 10.0.0.0/16')).min(1));

const millis = (min: number) => flag.positiveInt.pipe(z.number().min(min, `at least ${min} ms`).max(3_600_000, 'at most 3600000 ms (an hour)'));

/** `--watch` alone: every WATCH_DEFAULT_SECONDS; `--watch <seconds>`: that often (whole seconds, 1 to 3600). */
export const WATCH_DEFAULT_SECONDS = 30;
function watchIntervalOf(v: unknown): number | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return WATCH_DEFAULT_SECONDS * 1000;
  return parseFlag(flag.positiveInt.pipe(z.number().max(3600, 'at most 3600 s (an hour)')), v, '--watch') * 1000;
}

/** Flags first, then environment variables (PORT, HOST, FRUITS_CORS_ORIGINS, FRUITS_RATE_LIMIT, FRUITS_TRUST_PROXY). */
export function serveOptionsOf(o: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ServeOptions {
  const port = parseFlag(flag.port, o.port ?? env.PORT ?? String(SERVE_DEFAULTS.port), o.port ? '--port' : 'PORT');
  const host = String(o.host ?? env.HOST ?? SERVE_DEFAULTS.host);
  if (!/^[\w.:-]+$/.test(host)) throw new UsageError(`--host: invalid value '${host}' (expected an address or host name)`);
  const maxWaitMs = parseFlag(flag.maxWaitMs, o.maxWaitMs ?? String(SERVE_DEFAULTS.maxWaitMs), '--max-wait-ms');
  const decodeSize = parseFlag(z.enum(['native', 'model']), o.decodeSize ?? 'native', '--decode-size');
  return {
    port,
    host,
    threads: threadsFlag(o.threads),
    maxBatch: parseFlag(flag.maxBatch, o.maxBatch ?? String(SERVE_DEFAULTS.maxBatch), '--max-batch'),
    maxWaitMs,
    maxQueue: parseFlag(flag.positiveInt, o.maxQueue ?? String(SERVE_DEFAULTS.maxQueue), '--max-queue'),
    maxBodyBytes: parseFlag(flag.positiveInt, o.maxBody ?? String(SERVE_DEFAULTS.maxBodyBytes), '--max-body'),
    maxPixels: parseFlag(flag.positiveInt, o.maxPixels ?? String(SERVE_DEFAULTS.maxPixels), '--max-pixels'),
    corsOrigins: optionalFlag(originsFlag, o.corsOrigin ?? env.FRUITS_CORS_ORIGINS, o.corsOrigin ? '--cors-origin' : 'FRUITS_CORS_ORIGINS'),
    rateLimit: optionalFlag(flag.positiveInt, o.rateLimit ?? env.FRUITS_RATE_LIMIT, o.rateLimit ? '--rate-limit' : 'FRUITS_RATE_LIMIT'),
    decodeSize,
    model: o.model as string | undefined,
    bodyTimeoutMs: parseFlag(millis(100), o.bodyTimeout ?? String(SERVE_DEFAULTS.bodyTimeoutMs), '--body-timeout'),
    keepAliveTimeoutMs: parseFlag(millis(100), o.keepAliveTimeout ?? String(SERVE_DEFAULTS.keepAliveTimeoutMs), '--keep-alive-timeout'),
    maxClientConnections: parseFlag(flag.nonNegativeInt, o.maxClientConnections ?? String(SERVE_DEFAULTS.maxClientConnections), '--max-client-connections'),
    drainTimeoutMs: parseFlag(millis(100), o.drainTimeout ?? String(SERVE_DEFAULTS.drainTimeoutMs), '--drain-timeout'),
    watchIntervalMs: watchIntervalOf(o.watch),
    logFeatures: optionalFlag(z.string().trim().min(1), o.logFeatures, '--log-features'),
    logFlushRows: parseFlag(flag.positiveInt.pipe(z.number().max(1_000_000)), o.logFlushRows ?? String(FEATURE_LOG_DEFAULTS.flushRows), '--log-flush-rows'),
    logFlushMs: parseFlag(flag.positiveInt.pipe(z.number().max(3600, 'at most 3600 s (an hour)')), o.logFlushSeconds ?? String(FEATURE_LOG_DEFAULTS.flushSeconds), '--log-flush-seconds') * 1000,
    trustProxy: optionalFlag(trustProxyFlag, o.trustProxy ?? env.FRUITS_TRUST_PROXY, o.trustProxy ? '--trust-proxy' : 'FRUITS_TRUST_PROXY'),
  };
}

