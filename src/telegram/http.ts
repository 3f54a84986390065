// The bot's small HTTP servers (webhook, metrics) on node:http, held to the project's rules for
// network surfaces: idle and slow connections are closed (header, body and keep-alive
// deadlines), bodies are bounded while they stream in, connections per client address are
// bounded, and every client error is a 4xx in the documented shape {error: {status, code, message}}.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const HTTP_LIMITS = {
  /** Headers must be complete this long after the connection opens (or the previous request ends). */
  headersTimeoutMs: 10_000,
  /** The body must have arrived this long after the headers: answered 408 and closed. */
  bodyTimeoutMs: 10_000,
  /** Node's own whole-request deadline, a backstop behind the body deadline. */
  requestTimeoutMs: 20_000,
  keepAliveTimeoutMs: 5_000,
  /** A socket with no traffic at all for this long is destroyed. */
  idleSocketMs: 30_000,
  connectionsPerAddress: 64,
  /** How long close() lets requests in progress finish before cutting their connections. */
  closeGraceMs: 5_000,
};

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { error: { status: err.status, code: err.code, message: err.message } }, err.headers);
}

/** The request's body, at most `maxBytes`, within the body deadline; 413 / 408 otherwise (nothing more is read). */
export function readBody(req: http.IncomingMessage, maxBytes: number, timeoutMs = HTTP_LIMITS.bodyTimeoutMs): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(new HttpError(413, 'payload_too_large', `the body is ${declared} bytes; the limit is ${maxBytes}`, { connection: 'close' }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (err?: HttpError) => {
      clearTimeout(timer);
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      if (err) {
        req.pause(); // the rest is not read: the connection is closed after the answer
        reject(err);
      } else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) finish(new HttpError(413, 'payload_too_large', `the body is over the limit of ${maxBytes} bytes`, { connection: 'close' }));
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = () => finish(new HttpError(400, 'aborted', 'the request body was cut off', { connection: 'close' }));
    const timer = setTimeout(() => finish(new HttpError(408, 'body_timeout', `the body did not arrive within ${timeoutMs / 1000} s`, { connection: 'close' })), timeoutMs);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

export interface Listening {
  url: string;
  port: number;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

/**
 * Listens on host:port. `handler` answers or throws: an HttpError becomes its 4xx/5xx answer,
 * anything else a 500 (reported through `onError`, which must not log the request's secrets).
 */
export function listen(handler: Handler, at: { host: string; port: number }, onError: (err: unknown) => void): Promise<Listening> {
  const server = http.createServer({ headersTimeout: HTTP_LIMITS.headersTimeoutMs, requestTimeout: HTTP_LIMITS.requestTimeoutMs, keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs }, (req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return sendError(res, err);
      onError(err);
      sendError(res, new HttpError(500, 'internal', 'the server failed to handle this request'));
    });
  });
  server.setTimeout(HTTP_LIMITS.idleSocketMs, (socket: Socket) => socket.destroy());
  const perAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = (perAddress.get(address) ?? 0) + 1;
    if (n > HTTP_LIMITS.connectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, n);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  });
  // Malformed requests (bad request lines, oversized headers) get a bare 400 and the socket closes.
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
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
            const cut = setTimeout(() => server.closeAllConnections(), HTTP_LIMITS.closeGraceMs);
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
