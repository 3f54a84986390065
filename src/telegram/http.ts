// The bot's small HTTP servers (webhook, metrics) on node:http, held to the rules of `fruits
// serve` and with its pieces (src/serve/errors.ts, connections.ts): the request (headers and
// body) must arrive within a deadline (408), idle keep-alive connections close, bodies are
// bounded while they stream in (413, the rest unread), connections per client address are
// bounded (429), and every error is a 4xx/5xx in the one shape {error: {status, code, message}}.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { boundConnectionsPerAddress } from '../serve/connections.js';
import { HttpError, clientErrorHandler, errorBody } from '../serve/errors.js';
import type { Logger } from '../util/logger.js';

export { HttpError } from '../serve/errors.js';

export const HTTP_LIMITS = {
  /** Headers and body must have arrived this long after the request starts (or the connection opens). */
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  connectionsPerAddress: 64,
  /** How long close() lets requests in progress finish before cutting their connections. */
  closeGraceMs: 5_000,
};

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(text);
}

/** The request's body, at most `maxBytes` (413 at once otherwise; nothing more is read). */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(new HttpError(413, 'payload_too_large', `the body is ${declared} bytes; the limit is ${maxBytes}`, { connection: 'close' }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (err?: HttpError) => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('close', onClose);
      if (!err) return resolve(Buffer.concat(chunks));
      req.pause(); // the rest is not read: the connection closes after the answer
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) finish(new HttpError(413, 'payload_too_large', `the body is over the limit of ${maxBytes} bytes`, { connection: 'close' }));
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    // Cut off, or timed out (Node then answers 408 itself, through clientErrorHandler).
    const onClose = () => finish(new HttpError(400, 'client_closed', 'the request body was cut off'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  });
}

export interface Listening {
  url: string;
  port: number;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

/**
 * Listens on host:port. `handler` answers or throws: an HttpError becomes its answer (logged at
 * info), anything else a 500 (logged at error by `describe`, which must leave out secrets).
 */
export function listen(handler: Handler, at: { host: string; port: number }, logger: Logger, describe: (err: unknown) => string): Promise<Listening> {
  const limits = HTTP_LIMITS;
  const server = http.createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often Node looks for requests past their deadline.
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      handler(req, res).catch((err: unknown) => {
        if (res.headersSent || req.socket.destroyed) return;
        if (err instanceof HttpError) {
          logger.info({ status: err.statusCode, remote: req.socket.remoteAddress }, `refused: ${err.message}`);
          return sendJson(res, err.statusCode, errorBody(err.statusCode, err.code, err.message), err.headers);
        }
        logger.error(`http: ${describe(err)}`);
        sendJson(res, 500, errorBody(500, 'internal', 'the server failed to handle this request'));
      });
    },
  );
  boundConnectionsPerAddress(server, limits.connectionsPerAddress, logger);
  const onClientError = clientErrorHandler(logger, limits.requestTimeoutMs);
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => onClientError(err, socket));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.removeListener('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = at.host.includes(':') ? `[${at.host}]` : at.host;
      resolve({
        url: `http://${host}:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            const cut = setTimeout(() => server.closeAllConnections(), limits.closeGraceMs);
            server.close(() => {
              clearTimeout(cut);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}
