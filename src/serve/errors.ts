// Every answer that is not a success is JSON of one shape, {error: {status, code, message}}:
// the error handler maps thrown errors to it, and unknown URLs get 404 — or 405 with an Allow
// header when the path exists with other methods, read from the routes actually registered.
import type { FastifyReply } from 'fastify';
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

export function sendError(reply: FastifyReply, status: number, code: string, message: string, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(status).headers(headers).type('application/json; charset=utf-8').send({ error: { status, code, message } });
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
    if (err instanceof HttpError) return sendError(reply, err.statusCode, err.code, err.message, err.headers);
    const status = err.statusCode ?? 500;
    if (status === 413 || err.code === 'FST_REQ_FILE_TOO_LARGE' || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      metrics.rejectedImages.inc({ reason: 'too_large' });
      return sendError(reply, 413, 'payload_too_large', `the upload is larger than ${opts.maxBodyBytes} bytes`, { connection: 'close' });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
      metrics.rejectedImages.inc({ reason: 'media_type' });
      return sendError(reply, 415, 'unsupported_media_type', `send the image as the body with an image/* content type, or as a file in multipart/form-data (got ${request.headers['content-type'] ?? 'no content type'})`);
    }
    if (status === 429) return sendError(reply, 429, 'rate_limited', err.message);
    if (status >= 400 && status < 500) return sendError(reply, status, (err.code ?? 'bad_request').toLowerCase(), err.message);
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
