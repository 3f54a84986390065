// Every answer that is not a success is JSON of one shape, {error: {status, code, message}}:
// the error handler maps thrown errors to it, and unknown URLs get 404 — or 405 with an Allow
// header when the path exists with other methods, read from the routes actually registered.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { serverWide } from './context.js';

/** An error answered as JSON with its status. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The one shape of every error answer. */
export function errorBody(status: number, code: string, message: string): { error: { status: number; code: string; message: string } } {
  return { error: { status, code, message } };
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(status).headers(headers).type('application/json; charset=utf-8').send(errorBody(status, code, message));
}

/**
 * An error answered straight on the socket, then the connection closed: for what happens outside
 * a Fastify request (a malformed or late request, a connection over the per-client bound, an
 * upload cut short by shutdown). Nothing is written once a response has begun.
 */
export function answerAndClose(socket: Socket, status: number, code: string, message: string): void {
  const response = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (!socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(status, code, message));
  const head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`;
  socket.end(head + body, () => socket.destroy());
}

/** Malformed requests, headers too large, requests too slow to arrive: Node's clientError, answered in the error shape. */
export function clientErrorHandler(log: FastifyBaseLogger, bodyTimeoutMs: number): (err: Error & { code?: string }, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', `the request did not arrive within ${bodyTimeoutMs / 1000} s`]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers_too_large', 'the request headers are too large']
          : [400, 'bad_request', 'malformed HTTP request'];
    log.info({ status, code: err.code, remote: socket.remoteAddress }, `client error: ${message}`);
    answerAndClose(socket, status, code, message);
  };
}

/** 'Length Required' → 'length_required'. */
function statusCode(status: number): string {
  return (http.STATUS_CODES[status] ?? 'bad_request').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

/** Whether the client has gone (an aborted upload, a closed socket): nobody to answer. */
function clientGone(request: FastifyRequest): boolean {
  // (request.raw itself is destroyed as soon as its body has been read: that says nothing.)
  return request.raw.socket?.destroyed !== false;
}

type ThrownError = Error & { statusCode?: number; code?: string };

export const errorsPlugin = serverWide(async (app, { opts, metrics }) => {
  // Path → methods, as routes are registered (HEAD routes Fastify adds for GET included).
  const methods = new Map<string, string[]>();
  app.addHook('onRoute', (route) => {
    if (route.url.includes('*') || route.url.includes(':')) return;
    const list = methods.get(route.url) ?? [];
    for (const m of [route.method].flat()) if (!list.includes(m)) list.push(m);
    methods.set(route.url, list);
  });

  app.setErrorHandler((err: ThrownError, request, reply) => {
    const status = err instanceof HttpError ? err.statusCode : (err.statusCode ?? 500);
    if (clientGone(request)) {
      // Nobody to answer: a client that went away is not the server's fault.
      request.log.info({ remote: request.ip, url: request.url }, `client went away: ${err.message}`);
      return sendError(reply, 400, 'client_closed', 'the client closed the connection');
    }
    if (status < 500) request.log.info({ status, code: err.code, remote: request.ip, url: request.url }, `refused: ${err.message}`);
    if (err instanceof HttpError) return sendError(reply, err.statusCode, err.code, err.message, err.headers);
    if (status === 413 || err.code === 'FST_REQ_FILE_TOO_LARGE' || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      metrics.rejectedImages.inc({ reason: 'too_large' });
      return sendError(reply, 413, 'payload_too_large', `the upload is larger than ${opts.maxBodyBytes} bytes`, { connection: 'close' });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
      metrics.rejectedImages.inc({ reason: 'media_type' });
      return sendError(reply, 415, 'unsupported_media_type', `send the image as the body with an image/* content type, or as a file in multipart/form-data (got ${request.headers['content-type'] ?? 'no content type'})`);
    }
    if (status === 429) return sendError(reply, 429, 'rate_limited', err.message);
    // Other client errors (Fastify's own: a bad Content-Length, a bad URL…): the status's name as the code.
    if (status >= 400 && status < 500) return sendError(reply, status, statusCode(status), err.message);
    request.log.error({ err }, 'request failed');
    return sendError(reply, 500, 'internal', 'the server failed to handle this request');
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const allowed = methods.get(path);
    if (allowed) return sendError(reply, 405, 'method_not_allowed', `${request.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, { allow: allowed.join(', ') });
    return sendError(reply, 404, 'not_found', `no route ${request.method} ${path}`);
  });
});
