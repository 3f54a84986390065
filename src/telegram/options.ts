// The settings of `fruits telegram`, from flags and the environment, checked at the edge. The
// bot token and the webhook secret come only from the environment and never appear in a message:
// a bad one is described, not quoted.
import { z } from 'zod';
import { flag, optionalFlag, parseFlag, threadsFlag, UsageError } from '../util/flags.js';
import { SERVE_DEFAULTS } from '../serve/options.js';

export const TELEGRAM_DEFAULTS = {
  host: '127.0.0.1',
  port: 8081,
  metricsHost: '127.0.0.1',
  // The cloud Bot API serves files up to 20 MB; a phone photo sent as a photo is ~0.1–0.5 MB.
  maxFileBytes: 10 * 1024 * 1024,
  maxPixels: SERVE_DEFAULTS.maxPixels,
  maxBatch: SERVE_DEFAULTS.maxBatch,
  maxWaitMs: SERVE_DEFAULTS.maxWaitMs,
  maxQueue: SERVE_DEFAULTS.maxQueue,
  /** Messages per chat per minute. */
  rateLimit: 20,
  /** The answer and this many runners-up at most. */
  top: 3,
  graceSeconds: 25,
};

/** The environment variables the command reads. */
export const ENV = {
  token: 'TELEGRAM_BOT_TOKEN',
  webhookSecret: 'TELEGRAM_WEBHOOK_SECRET',
  apiRoot: 'TELEGRAM_API_ROOT',
} as const;

export interface WebhookOptions {
  /** The public HTTPS address Telegram posts updates to. */
  url: URL;
  /** Sent back by Telegram in X-Telegram-Bot-Api-Secret-Token with every update. */
  secret: string;
  /** Where the bot's own HTTP server listens (behind the TLS-terminating proxy). */
  host: string;
  port: number;
}

export interface TelegramOptions {
  token: string;
  /** Bot API server root without a trailing slash (a self-hosted server, or a stand-in). */
  apiRoot: string;
  /** Set: webhook mode; unset: long polling. */
  webhook?: WebhookOptions;
  metrics?: { host: string; port: number };
  model?: string;
  threads: number;
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  maxFileBytes: number;
  maxPixels: number;
  rateLimit: number;
  top: number;
  graceMs: number;
}

export const DEFAULT_API_ROOT = 'https://api.telegram.org';

// BotFather's tokens: the bot's numeric id, a colon, 35 characters of [A-Za-z0-9_-].
const TOKEN = /^\d{3,20}:[A-Za-z0-9_-]{30,60}$/;
// What Telegram accepts as secret_token in setWebhook.
const SECRET = /^[A-Za-z0-9_-]{16,256}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const hostFlag = z.string().trim().regex(/^[\w.:-]+$/, 'an address or host name');

function tokenOf(env: NodeJS.ProcessEnv): string {
  const token = env[ENV.token]?.trim();
  if (!token) throw new UsageError(`${ENV.token} is not set: create a bot with @BotFather in Telegram and export the token it gives you (never pass it as a flag)`);
  if (!TOKEN.test(token)) throw new UsageError(`${ENV.token} does not look like a bot token (expected <bot id>:<35 letters, digits, _ or ->, as BotFather gives it)`);
  return token;
}

function apiRootOf(env: NodeJS.ProcessEnv): string {
  const raw = env[ENV.apiRoot]?.trim();
  if (!raw) return DEFAULT_API_ROOT;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${ENV.apiRoot}: invalid value '${raw}' (expected an http:// or https:// URL)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${ENV.apiRoot}: invalid value '${raw}' (expected an http:// or https:// URL)`);
  if (url.search || url.hash || url.username || url.password) throw new UsageError(`${ENV.apiRoot}: a server root only, without query, fragment or credentials`);
  return url.href.replace(/\/+$/, '');
}

function webhookOf(o: Record<string, unknown>, env: NodeJS.ProcessEnv): WebhookOptions | undefined {
  if (o.webhook === undefined) {
    if (o.host !== undefined || o.port !== undefined) throw new UsageError('--host and --port are where the webhook server listens: they need --webhook <url>');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(String(o.webhook));
  } catch {
    throw new UsageError(`--webhook: invalid value '${String(o.webhook)}' (expected the bot's public https:// URL)`);
  }
  // Telegram posts only to HTTPS; plain HTTP only to a self-hosted Bot API server on this machine.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new UsageError(`--webhook: invalid value '${url.href}' (Telegram posts updates only to https:// addresses)`);
  }
  if (url.username || url.password || url.hash) throw new UsageError('--webhook: a URL without credentials or fragment');
  const secret = env[ENV.webhookSecret]?.trim();
  if (!secret) throw new UsageError(`--webhook needs ${ENV.webhookSecret} (16 to 256 letters, digits, _ or -; e.g. openssl rand -hex 32): only requests carrying it are taken as Telegram's`);
  if (!SECRET.test(secret)) throw new UsageError(`${ENV.webhookSecret} must be 16 to 256 letters, digits, _ or - (what Telegram accepts as secret_token)`);
  return {
    url,
    secret,
    host: parseFlag(hostFlag, o.host ?? TELEGRAM_DEFAULTS.host, '--host'),
    port: parseFlag(flag.port, o.port ?? String(TELEGRAM_DEFAULTS.port), '--port'),
  };
}

/** Flags first, then the environment (the token, the webhook secret and the API root only there). */
export function telegramOptionsOf(o: Record<string, unknown>, env: NodeJS.ProcessEnv): TelegramOptions {
  const metricsPort = optionalFlag(flag.port, o.metricsPort, '--metrics-port');
  if (o.metricsHost !== undefined && metricsPort === undefined) throw new UsageError('--metrics-host needs --metrics-port');
  return {
    token: tokenOf(env),
    apiRoot: apiRootOf(env),
    webhook: webhookOf(o, env),
    metrics: metricsPort === undefined ? undefined : { port: metricsPort, host: parseFlag(hostFlag, o.metricsHost ?? TELEGRAM_DEFAULTS.metricsHost, '--metrics-host') },
    model: o.model as string | undefined,
    threads: threadsFlag(o.threads),
    maxBatch: parseFlag(flag.maxBatch, o.maxBatch ?? String(TELEGRAM_DEFAULTS.maxBatch), '--max-batch'),
    maxWaitMs: parseFlag(flag.maxWaitMs, o.maxWaitMs ?? String(TELEGRAM_DEFAULTS.maxWaitMs), '--max-wait-ms'),
    maxQueue: parseFlag(flag.positiveInt, o.maxQueue ?? String(TELEGRAM_DEFAULTS.maxQueue), '--max-queue'),
    maxFileBytes: parseFlag(flag.positiveInt, o.maxFileSize ?? String(TELEGRAM_DEFAULTS.maxFileBytes), '--max-file-size'),
    maxPixels: parseFlag(flag.positiveInt, o.maxPixels ?? String(TELEGRAM_DEFAULTS.maxPixels), '--max-pixels'),
    rateLimit: parseFlag(flag.positiveInt, o.rateLimit ?? String(TELEGRAM_DEFAULTS.rateLimit), '--rate-limit'),
    top: parseFlag(flag.positiveInt.pipe(z.number().max(10)), o.top ?? String(TELEGRAM_DEFAULTS.top), '--top'),
    graceMs: parseFlag(flag.nonNegativeInt, o.grace ?? String(TELEGRAM_DEFAULTS.graceSeconds), '--grace') * 1000,
  };
}
