// The settings of `fruits serve`, from flags and environment variables, checked at the edge.
// Kept apart from the server so that the CLI can describe them without loading Fastify.
import os from 'node:os';
import { z } from 'zod';
import { flag, optionalFlag, parseFlag, UsageError } from '../cli/options.js';

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
}

const originsFlag = z
  .string()
  .trim()
  .min(1)
  .transform((s) => (s === '*' ? ('*' as const) : s.split(',').map((o) => o.trim()).filter(Boolean)))
  .pipe(z.union([z.literal('*'), z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'origins like https://app.example.com')).min(1)]));

/** Flags first, then environment variables (PORT, HOST, FRUITS_CORS_ORIGINS, FRUITS_RATE_LIMIT). */
export function serveOptionsOf(o: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ServeOptions {
  const port = parseFlag(flag.nonNegativeInt.pipe(z.number().max(65535)), o.port ?? env.PORT ?? String(SERVE_DEFAULTS.port), o.port ? '--port' : 'PORT');
  const host = String(o.host ?? env.HOST ?? SERVE_DEFAULTS.host);
  if (!/^[\w.:-]+$/.test(host)) throw new UsageError(`--host: invalid value '${host}' (expected an address or host name)`);
  const maxWaitMs = parseFlag(flag.nonNegativeInt.pipe(z.number().max(1000)), o.maxWaitMs ?? String(SERVE_DEFAULTS.maxWaitMs), '--max-wait-ms');
  const decodeSize = parseFlag(z.enum(['native', 'model']), o.decodeSize ?? 'native', '--decode-size');
  return {
    port,
    host,
    threads: optionalFlag(flag.positiveInt, o.threads, '--threads') ?? os.availableParallelism(),
    maxBatch: parseFlag(flag.positiveInt.pipe(z.number().max(256)), o.maxBatch ?? String(SERVE_DEFAULTS.maxBatch), '--max-batch'),
    maxWaitMs,
    maxQueue: parseFlag(flag.positiveInt, o.maxQueue ?? String(SERVE_DEFAULTS.maxQueue), '--max-queue'),
    maxBodyBytes: parseFlag(flag.positiveInt, o.maxBody ?? String(SERVE_DEFAULTS.maxBodyBytes), '--max-body'),
    maxPixels: parseFlag(flag.positiveInt, o.maxPixels ?? String(SERVE_DEFAULTS.maxPixels), '--max-pixels'),
    corsOrigins: optionalFlag(originsFlag, o.corsOrigin ?? env.FRUITS_CORS_ORIGINS, o.corsOrigin ? '--cors-origin' : 'FRUITS_CORS_ORIGINS'),
    rateLimit: optionalFlag(flag.positiveInt, o.rateLimit ?? env.FRUITS_RATE_LIMIT, o.rateLimit ? '--rate-limit' : 'FRUITS_RATE_LIMIT'),
    decodeSize,
    model: o.model as string | undefined,
  };
}

