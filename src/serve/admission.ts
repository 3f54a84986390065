// Admission of classify requests: an upload announced larger than the limit is refused unread
// (413), and only `maxQueue` requests are handled at once (503 beyond), which bounds memory
// by maxQueue × maxBodyBytes. The routes it guards say so with `config: { admission: true }`.
import { serverWide } from './context.js';
import { sendError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Count this route's requests against --max-queue. */
    admission?: boolean;
  }
}

export const admissionPlugin = serverWide(async (app, { opts, metrics }) => {
  let admitted = 0;
  app.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.config.admission) return;
    const length = Number(request.headers['content-length']);
    // Multipart framing adds a little; anything further over the limit is refused unread.
    if (Number.isFinite(length) && length > opts.maxBodyBytes + 64 * 1024) {
      metrics.rejectedImages.inc({ reason: 'too_large' });
      return sendError(reply, 413, 'payload_too_large', `the upload is ${length} bytes; the limit is ${opts.maxBodyBytes}`, { connection: 'close' });
    }
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
});
