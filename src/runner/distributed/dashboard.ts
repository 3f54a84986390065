// The queue dashboard: bull-board (on fastify) over the deployment's queues. Read-only unless
// asked otherwise: bull-board then refuses every change (retry, clean, pause…) on the server
// side, not just in the page. dashboard-guard.ts decides who may see it at all.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import type { Redis } from 'ioredis';
import { guardDashboard } from './dashboard-guard.js';
import { connectRedis } from './redis-connection.js';
import { QUEUE } from './jobs.js';

export interface DashboardOptions {
  redisUrl: string;
  prefix: string;
  host: string;
  port: number;
  readWrite: boolean;
  /** Host names it answers besides the loopback ones (and the address it listens on). */
  allowedHosts?: string[];
  /** Basic auth, from the environment (required by the CLI off loopback). */
  credentials?: { user: string; password: string };
}

export interface Dashboard {
  url: string;
  queues: string[];
  close(): Promise<void>;
}

/** The deployment's queues: every `<prefix>:<name>:meta` key, and the task queue even before its first job. */
async function queueNames(client: Redis, prefix: string): Promise<string[]> {
  const names = new Set<string>([QUEUE]);
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*:meta`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const name = k.slice(prefix.length + 1, -':meta'.length);
      if (name && !name.includes(':')) names.add(name);
    }
  } while (cursor !== '0');
  return [...names].sort();
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const client = await connectRedis(opts.redisUrl, 'dashboard');
  const names = await queueNames(client, opts.prefix);
  const queues = names.map((name) => new Queue(name, { connection: client, prefix: opts.prefix, skipMetasUpdate: true }));
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/');
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !opts.readWrite, allowRetries: opts.readWrite, displayName: `${opts.prefix}:${q.name}` })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'fruits' } },
  });
  const app = Fastify({ logger: false });
  const listening = /^(0\.0\.0\.0|::|\[::\])$/.test(opts.host) ? [] : [opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host];
  guardDashboard(app, { allowedHosts: [...listening, ...(opts.allowedHosts ?? [])], credentials: opts.credentials, redis: client });
  await app.register(serverAdapter.registerPlugin(), { prefix: '/' });
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/`,
    queues: names,
    async close() {
      await app.close();
      await Promise.allSettled(queues.map((q) => q.close()));
      client.disconnect();
    },
  };
}
