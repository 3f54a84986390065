// What stands between the dashboard and a browser: it answers only the Host names it serves
// (so that a web page cannot reach it through DNS rebinding while a port forward is open),
// sends security headers that keep it out of frames and limit the page to its own scripts and
// styles, serves nothing from elsewhere (bull-board's page links web fonts from a CDN: dropped,
// the page falls back to system fonts), asks for basic auth when credentials are configured,
// and fails its API at once (503) while Redis is unreachable instead of hanging.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';

export interface DashboardGuardOptions {
  /** Host names (without port) the dashboard answers besides localhost, 127.0.0.1 and [::1]. */
  allowedHosts: string[];
  /** user:password for basic auth; none: no authentication (loopback only). */
  credentials?: { user: string; password: string };
  redis: Redis;
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // bull-board styles its loading screen and components inline.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const DASHBOARD_SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

const THIRD_PARTY_LINK = /<link[^>]+href="https?:\/\/[^"]*"[^>]*>\s*/gi;

/** The host name of a Host header, without its port ("[::1]:3000" → "[::1]"). */
export function hostName(header: string | undefined): string {
  const h = (header ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d+$/, '');
}

function refuse(reply: FastifyReply, status: number, message: string, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(status).headers(headers).type('application/json; charset=utf-8').send({ error: { status, code: status === 401 ? 'unauthorized' : status === 503 ? 'redis_unavailable' : 'misdirected', message } });
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function guardDashboard(app: FastifyInstance, opts: DashboardGuardOptions): void {
  const allowed = new Set([...LOOPBACK_HOSTS, ...opts.allowedHosts.map((h) => h.toLowerCase())]);
  const expected = opts.credentials ? `Basic ${Buffer.from(`${opts.credentials.user}:${opts.credentials.password}`).toString('base64')}` : undefined;

  app.addHook('onRequest', async (request, reply) => {
    reply.headers(DASHBOARD_SECURITY_HEADERS);
    const host = hostName(request.headers.host);
    if (!allowed.has(host)) return refuse(reply, 421, `this dashboard does not serve the host '${host}'`);
    if (expected && !sameSecret(request.headers.authorization ?? '', expected)) {
      return refuse(reply, 401, 'credentials required', { 'www-authenticate': 'Basic realm="fruits dashboard", charset="UTF-8"' });
    }
    if (request.url.startsWith('/api/') && opts.redis.status !== 'ready') {
      return refuse(reply, 503, `Redis is unreachable (${opts.redis.status}); retry when it is back`, { 'retry-after': '5' });
    }
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    const type = String(reply.getHeader('content-type') ?? '');
    if (typeof payload === 'string' && type.startsWith('text/html')) return payload.replace(THIRD_PARTY_LINK, '');
    return payload;
  });
}
