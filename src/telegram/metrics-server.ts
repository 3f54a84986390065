// The bot's metrics endpoint (optional, loopback by default): GET /metrics in the Prometheus
// text format, GET /healthz (200 while the bot runs, 503 once it is stopping).
import type http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../util/logger.js';
import { HttpError, listen, sendJson, type Listening } from './http.js';

export function startMetricsServer(registry: Registry, at: { host: string; port: number }, running: () => boolean, logger: Logger, describe: (err: unknown) => string): Promise<Listening> {
  return listen(
    async (req: http.IncomingMessage, res: http.ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' && path !== '/healthz') throw new HttpError(404, 'not_found', `no route ${req.method} ${path}`);
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${path} (allowed: GET, HEAD)`, { allow: 'GET, HEAD' });
      if (path === '/healthz') {
        if (!running()) throw new HttpError(503, 'stopping', 'the bot is stopping');
        return sendJson(res, 200, { status: 'ok' });
      }
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
    at,
    logger,
    describe,
  );
}
