// Admission of classify requests, once their body has arrived. An upload announced larger than
// the limit is refused unread (413); the body must then arrive within --body-timeout (Node's
// request timeout answers 408, see errors.ts) and is read outside any slot, so slow senders hold
// a connection but never the capacity of the others. Only then does the request take one of the
// `maxQueue` slots (decode, wait, infer; 503 beyond). On shutdown, uploads still arriving are
// answered 503 and closed at once, and whatever is admitted gets --drain-timeout to finish.
// The routes it guards say so with `config: { admission: true }`.
import type { Socket } from 'node:net';
import { serverWide } from './context.js';
import { answerAndClose, sendError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Count this route's requests against --max-queue, once their body is complete. */
    admission?: boolean;
  }
}

export const admissionPlugin = serverWide(async (app, { opts, metrics }) => {
  let admitted = 0;
  /** Sockets of guarded requests whose body is still arriving. */
  const receiving = new Set<Socket>();

  app.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.config.admission) return;
    const length = Number(request.headers['content-length']);
    // Multipart framing adds a little; anything further over the limit is refused unread.
    if (Number.isFinite(length) && length > opts.maxBodyBytes + 64 * 1024) {
      metrics.rejectedImages.inc({ reason: 'too_large' });
      return sendError(reply, 413, 'payload_too_large', `the upload is ${length} bytes; the limit is ${opts.maxBodyBytes}`, { connection: 'close' });
    }
    const socket = request.raw.socket;
    receiving.add(socket);
    reply.raw.once('close', () => receiving.delete(socket));
  });

  // preHandler: after the body parser and the upload reader (preValidation) are done.
  app.addHook('preHandler', async (request, reply) => {
    if (!request.routeOptions.config.admission) return;
    receiving.delete(request.raw.socket);
    if (admitted >= opts.maxQueue) {
      metrics.shed.inc();
      return sendError(reply, 503, 'overloaded', `the server is busy (${admitted} requests in progress); retry shortly`, { 'retry-after': '1' });
    }
    admitted++;
    metrics.inFlight.inc();
    reply.raw.once('close', () => {
      admitted--;
      metrics.inFlight.dec();
    });
  });

  let drainTimer: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    for (const socket of receiving) answerAndClose(socket, 503, 'shutting_down', 'the server is shutting down; retry on another instance');
    receiving.clear();
    // Admitted requests finish; past the drain time every connection is cut, so that shutdown is bounded.
    drainTimer = setTimeout(() => app.server.closeAllConnections(), opts.drainTimeoutMs);
    drainTimer.unref();
  });
  app.addHook('onClose', async () => clearTimeout(drainTimer));
});
