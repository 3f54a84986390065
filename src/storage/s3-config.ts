// S3 client configuration. Credentials, region, profile and endpoint are left to the SDK's own
// resolution (env, ~/.aws/config and credentials, SSO, instance/task roles) so the tool behaves as
// AWS users expect; only project-specific knobs are read here, from options (CLI flags) first,
// then FRUITS_S3_* variables, then defaults. Credentials are never accepted here.
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { s3Sdk } from './aws-sdk.js';
import { z } from 'zod';
import { UserError } from '../util/errors.js';

/** The project's production region, used only when nothing else configures one. */
export const DEFAULT_REGION = 'eu-west-3';
export const DEFAULT_MAX_ATTEMPTS = 8;
export const DEFAULT_PART_SIZE_MIB = 8;
export const DEFAULT_UPLOAD_QUEUE_SIZE = 4;
export const DEFAULT_MAX_SOCKETS = 64;
const MIB = 1024 * 1024;
// A connection that cannot be set up in 10 s, or a socket idle for 2 min, is treated as dropped
// (and retried) rather than left to hang a whole run.
const CONNECTION_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 120_000;

export const S3OptionsSchema = z
  .object({
    /** Path-style addressing (`endpoint/bucket/key`), for MinIO, Ceph RGW, s3rver. */
    forcePathStyle: z.boolean(),
    /** `when_required` for stores that do not understand the SDK's CRC checksum trailers. */
    checksums: z.enum(['when_supported', 'when_required']),
    /** Attempts per request, including the first (standard/adaptive retry with jittered backoff). */
    maxAttempts: z.number().int().min(1).max(20),
    retryMode: z.enum(['standard', 'adaptive']),
    /** Multipart part size; bodies larger than one part are uploaded as multipart. S3's minimum is 5 MiB. */
    partSizeMiB: z.number().int().min(5).max(5120),
    /** Parts of one multipart upload sent concurrently. */
    uploadQueueSize: z.number().int().min(1).max(64),
    /** Concurrent connections per client, so parallel GETs are not serialised. */
    maxSockets: z.number().int().min(1).max(1024),
    region: z.string().regex(/^[a-z0-9-]{2,32}$/, 'expected a region name such as eu-west-3'),
    endpoint: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
    profile: z.string().min(1),
  })
  .partial()
  .strict();

export type S3Options = z.input<typeof S3OptionsSchema>;

export interface S3Settings {
  forcePathStyle: boolean;
  /** Undefined: the SDK decides (AWS_REQUEST_CHECKSUM_CALCULATION…, default when_supported). */
  checksums?: 'when_supported' | 'when_required';
  maxAttempts: number;
  /** Undefined: the SDK decides (AWS_RETRY_MODE, default standard). */
  retryMode?: 'standard' | 'adaptive';
  partSizeBytes: number;
  uploadQueueSize: number;
  maxSockets: number;
  /** Undefined: the SDK's resolution (AWS_REGION, profile), then DEFAULT_REGION. */
  region?: string;
  /** Undefined: the SDK's resolution (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profile), then AWS. */
  endpoint?: string;
  /** Undefined: AWS_PROFILE or the default profile. */
  profile?: string;
}

/** A bad S3 option or variable: the CLI prints it as one line. */
export class S3ConfigError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'S3ConfigError';
  }
}

/** Project variables and the option each one feeds. */
const ENV_VARS = {
  FRUITS_S3_FORCE_PATH_STYLE: 'forcePathStyle',
  FRUITS_S3_CHECKSUMS: 'checksums',
  FRUITS_S3_MAX_ATTEMPTS: 'maxAttempts',
  FRUITS_S3_PART_SIZE_MIB: 'partSizeMiB',
  FRUITS_S3_UPLOAD_QUEUE_SIZE: 'uploadQueueSize',
  FRUITS_S3_MAX_SOCKETS: 'maxSockets',
} as const satisfies Record<string, keyof S3Options>;

function envValue(name: string, raw: string): unknown {
  const v = raw.trim();
  switch (ENV_VARS[name as keyof typeof ENV_VARS]) {
    case 'forcePathStyle':
      if (/^(1|true|yes|on)$/i.test(v)) return true;
      if (/^(0|false|no|off)?$/i.test(v)) return false;
      throw new S3ConfigError(`${name}="${raw}": expected 1/true or 0/false`);
    case 'checksums':
      return v.toLowerCase();
    default:
      // Integers: leave non-numbers as strings so the schema reports them.
      return /^\d+$/.test(v) ? Number(v) : v;
  }
}

function oneLine(issues: z.core.$ZodIssue[], nameOf: (key: string) => string): string {
  return issues
    .map((i) => (i.path.length ? `${nameOf(String(i.path[0]))}: ${i.message}` : i.message))
    .join('; ');
}

/** Options (e.g. from CLI flags) over FRUITS_S3_* variables over defaults; one-line errors. */
export function resolveS3Settings(options: S3Options = {}, env: NodeJS.ProcessEnv = process.env): S3Settings {
  const parsedOptions = S3OptionsSchema.safeParse(options);
  if (!parsedOptions.success) {
    throw new S3ConfigError(`invalid S3 options: ${oneLine(parsedOptions.error.issues, (k) => k)}`);
  }
  const fromEnv: Record<string, unknown> = {};
  const envNameOf: Record<string, string> = {};
  for (const name of Object.keys(ENV_VARS) as (keyof typeof ENV_VARS)[]) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    fromEnv[ENV_VARS[name]] = envValue(name, raw);
    envNameOf[ENV_VARS[name]] = name;
  }
  // The SDK's own variable for attempts, honoured because we replace its default of 3.
  if (fromEnv.maxAttempts === undefined && env.AWS_MAX_ATTEMPTS?.trim()) {
    fromEnv.maxAttempts = envValue('AWS_MAX_ATTEMPTS', env.AWS_MAX_ATTEMPTS);
    envNameOf.maxAttempts = 'AWS_MAX_ATTEMPTS';
  }
  const parsedEnv = S3OptionsSchema.safeParse(fromEnv);
  if (!parsedEnv.success) {
    throw new S3ConfigError(`invalid S3 setting: ${oneLine(parsedEnv.error.issues, (k) => envNameOf[k] ?? k)}`);
  }
  const o = { ...parsedEnv.data, ...stripUndefined(parsedOptions.data) };
  return {
    forcePathStyle: o.forcePathStyle ?? false,
    checksums: o.checksums,
    maxAttempts: o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: o.retryMode,
    partSizeBytes: (o.partSizeMiB ?? DEFAULT_PART_SIZE_MIB) * MIB,
    uploadQueueSize: o.uploadQueueSize ?? DEFAULT_UPLOAD_QUEUE_SIZE,
    maxSockets: o.maxSockets ?? DEFAULT_MAX_SOCKETS,
    region: o.region,
    endpoint: o.endpoint,
    profile: o.profile,
  };
}

/**
 * The variables equivalent to `options`, for processes that open stores themselves (worker
 * processes inherit them; a distributed job can carry them): flags then reach every worker.
 * Validates first, so a bad flag fails in the coordinator.
 */
export function s3OptionsToEnv(options: S3Options): Record<string, string> {
  const parsed = S3OptionsSchema.safeParse(options);
  if (!parsed.success) throw new S3ConfigError(`invalid S3 options: ${oneLine(parsed.error.issues, (k) => k)}`);
  const o = parsed.data;
  const env: Record<string, string> = {};
  for (const [name, key] of Object.entries(ENV_VARS)) {
    const v = o[key];
    if (v !== undefined) env[name] = String(v);
  }
  if (o.region) env.AWS_REGION = o.region;
  if (o.endpoint) env.AWS_ENDPOINT_URL_S3 = o.endpoint;
  if (o.profile) env.AWS_PROFILE = o.profile;
  if (o.retryMode) env.AWS_RETRY_MODE = o.retryMode;
  return env;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Region provider: the SDK's own resolution (AWS_REGION, the profile's `region`), falling back to
 * DEFAULT_REGION instead of failing with "Region is missing". Any string works with an explicit
 * endpoint; for AWS, followRegionRedirects corrects a wrong guess.
 */
function regionWithDefault(profile: string | undefined): () => Promise<string> {
  let resolved: Promise<string> | undefined;
  return () =>
    (resolved ??= (async () => {
      const probe = new (s3Sdk().S3Client)(profile ? { profile } : {});
      try {
        return await probe.config.region();
      } catch {
        return DEFAULT_REGION;
      } finally {
        probe.destroy();
      }
    })());
}

export function s3ClientConfig(s: S3Settings): S3ClientConfig {
  const agent = { keepAlive: true, maxSockets: s.maxSockets };
  const checksum = s.checksums === 'when_required' ? 'WHEN_REQUIRED' : s.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : undefined;
  return {
    region: s.region ?? regionWithDefault(s.profile),
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.profile ? { profile: s.profile } : {}),
    forcePathStyle: s.forcePathStyle,
    followRegionRedirects: true,
    maxAttempts: s.maxAttempts,
    ...(s.retryMode ? { retryMode: s.retryMode } : {}),
    ...(checksum ? { requestChecksumCalculation: checksum, responseChecksumValidation: checksum } : {}),
    requestHandler: {
      httpAgent: agent,
      httpsAgent: agent,
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: IDLE_TIMEOUT_MS,
    },
  };
}

// Variables the SDK reads when a client is built; part of the cache key so a changed environment
// (tests, long-lived processes) gets a new client. None of them holds a secret.
const SDK_ENV = [
  'AWS_REGION',
  'AWS_PROFILE',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  'AWS_RETRY_MODE',
  'AWS_REQUEST_CHECKSUM_CALCULATION',
  'AWS_RESPONSE_CHECKSUM_VALIDATION',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
] as const;

const clients = new Map<string, S3Client>();

/** One client per configuration: clients own connection pools and resolved credentials. */
export function s3ClientFor(settings: S3Settings, env: NodeJS.ProcessEnv = process.env): S3Client {
  const key = JSON.stringify([settings, SDK_ENV.map((n) => env[n] ?? null)]);
  let client = clients.get(key);
  if (!client) {
    client = new (s3Sdk().S3Client)(s3ClientConfig(settings));
    clients.set(key, client);
  }
  return client;
}

/** Closes every cached client's connections (end of a run, tests). */
export function closeS3Clients(): void {
  for (const c of clients.values()) c.destroy();
  clients.clear();
}
