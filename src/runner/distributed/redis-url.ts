// Redis locations for the distributed runner: a `redis://` or `rediss://` (TLS) URL with an
// optional user, password and database number, parsed here (not by ioredis) so that a bad URL is
// one clear line and the password can never reach a message: every message names the server
// through redactRedisUrl(). No ioredis here: the CLI checks flags without loading a Redis client.
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
