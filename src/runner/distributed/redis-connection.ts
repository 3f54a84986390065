// Connections to Redis for the distributed runner, one per BullMQ role, from a URL checked by
// redis-url.ts (whose redaction every message about the server goes through).
import type { RedisOptions } from 'bullmq';
import { Redis, type RedisOptions as IORedisOptions } from 'ioredis';
import { UserError } from '../../util/errors.js';
import { parseRedisUrl, redactRedisUrl } from './redis-url.js';

/**
 * Reconnects forever with a growing pause (0.2 s … 5 s): a Redis restart or failover is waited
 * out rather than turned into a crash. Whoever must not wait forever watches the connection
 * itself (the coordinator fails the run after a long outage).
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(200 * 2 ** Math.min(attempt - 1, 5), 5000);
}

export type ConnectionRole = 'worker' | 'coordinator' | 'monitor' | 'dashboard';

/**
 * ioredis options for one BullMQ role. `maxRetriesPerRequest: null` (commands wait for the
 * reconnection instead of failing) is what BullMQ requires for workers and QueueEvents, and what
 * the coordinator wants too: its own watchdog decides when an outage is too long (the dashboard,
 * read by a person, fails fast instead). `reconnect`
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
    // The dashboard is read by a person: while Redis is down its commands fail at once (the page
    // says so) rather than waiting for the reconnection.
    maxRetriesPerRequest: role === 'dashboard' ? 0 : null,
    enableOfflineQueue: role !== 'dashboard',
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
