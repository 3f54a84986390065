// A bound on the connections one client address may hold open (--max-client-connections): past
// it a new connection is answered 429 and closed, so that one client cannot take every socket
// with slow or idle connections. The address is the TCP peer's; behind a trusted proxy (whose
// own addresses every connection comes from) the bound is off and the proxy does that job.
// Once the server is closing, a request on a kept-alive connection is answered 503 and closed.
// The counting is shared with the Telegram bot's servers (plain node:http).
import type { Server, Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { serverWide } from './context.js';
import { answerAndClose, sendError } from './errors.js';

/** Counts the open connections of each client address on `server`; a connection over `limit` is answered 429 and closed. */
export function boundConnectionsPerAddress(server: Server, limit: number, log: FastifyBaseLogger): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = (open.get(address) ?? 0) + 1;
    if (count > limit) {
      log.info({ remote: address, open: limit }, 'refused a connection: too many from this address');
      answerAndClose(socket, 429, 'too_many_connections', `more than ${limit} open connections from this address; close some and retry`);
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}

export const connectionsPlugin = serverWide(async (app, { opts }) => {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) return sendError(reply, 503, 'shutting_down', 'the server is shutting down; retry on another instance', { connection: 'close' });
  });

  const limit = opts.trustProxy ? 0 : opts.maxClientConnections;
  if (limit > 0) boundConnectionsPerAddress(app.server, limit, app.log);
});
