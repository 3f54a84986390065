// Redis locations for the distributed runner: a `redis://` or `rediss://` (TLS) URL with an
// optional user, password and database number, parsed here (not by ioredis) so that a bad URL is
// one clear line and the password can never reach a message: every message names the server
// through redactRedisUrl().
import type { RedisOptions } from 'bullmq';
import { Redis, type RedisOptions as IORedisOptions } from 'ioredis';
import { UserError } from '../../util/errors.js';

export class RedisUrlError extends UserError {}

export interface RedisLocation {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
}

const DEFAULT_PORT = 6379;

/** The URL with its password replaced by `***` (and anything unparsable hidden), for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    // Not a URL: still never print what could be a secret between "//" and "@".
    return url.replace(/\/\/[^/]*@/, '//***@');
  }
}

export function parseRedisUrl(url: string): RedisLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RedisUrlError(`invalid Redis URL '${redactRedisUrl(url)}' (expected redis://[user:password@]host[:port][/db] or rediss://… for TLS)`);
  }
  const shown = redactRedisUrl(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new RedisUrlError(`invalid Redis URL '${shown}': the scheme must be redis:// or rediss:// (TLS)`);
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new RedisUrlError(`invalid Redis URL '${shown}': no host`);
  const port = u.port ? Number(u.port) : DEFAULT_PORT;
  const dbText = u.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw new RedisUrlError(`invalid Redis URL '${shown}': the path must be a database number`);
  if (u.search || u.hash) throw new RedisUrlError(`invalid Redis URL '${shown}': query parameters are not supported`);
  return {
    host,
    port,
    db: dbText === '' ? 0 : Number(dbText),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:',
  };
}

/**
 * Reconnects forever with a growing pause (0.2 s … 5 s): a Redis restart or failover is waited
 * out rather than turned into a crash. Whoever must not wait forever watches the connection
 * itself (the coordinator fails the run after a long outage).
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(200 * 2 ** Math.min(attempt - 1, 5), 5000);
}

export type ConnectionRole = 'worker' | 'coordinator' | 'monitor';

/**
 * ioredis options for one BullMQ role. `maxRetriesPerRequest: null` (commands wait for the
 * reconnection instead of failing) is what BullMQ requires for workers and QueueEvents, and what
 * the coordinator wants too: its own watchdog decides when an outage is too long. `reconnect`
 * turns reconnection off (when closing), so that a client never waits for a Redis that is gone.
 */
export function redisOptions(url: string, role: ConnectionRole, reconnect: () => boolean = () => true): RedisOptions {
  const loc = parseRedisUrl(url);
  return {
    host: loc.host,
    port: loc.port,
    db: loc.db,
    username: loc.username,
    password: loc.password,
    tls: loc.tls ? { servername: loc.host } : undefined,
    connectionName: `fruits-${role}`,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectTimeout: 10_000,
    // null ends the connection: its pending commands fail instead of waiting for ever.
    retryStrategy: (attempt: number) => (reconnect() ? reconnectDelay(attempt) : null),
  };
}

/** A connected client, or one clear line naming the (redacted) server if it cannot be reached. */
export async function connectRedis(url: string, role: ConnectionRole, reconnect?: () => boolean, timeoutMs = 15_000): Promise<Redis> {
  const client = new Redis({ ...(redisOptions(url, role, reconnect) as IORedisOptions), lazyConnect: true });
  let lastError = '';
  const onError = (err: Error) => (lastError = err.message);
  client.on('error', onError);
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs).unref()),
    ]);
    await client.ping();
  } catch (err) {
    client.disconnect();
    const why = lastError || (err as Error).message;
    throw new UserError(`cannot connect to Redis at ${redactRedisUrl(url)}: ${why}`);
  } finally {
    client.off('error', onError);
  }
  return client;
}
