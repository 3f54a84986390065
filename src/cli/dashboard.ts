// `fruits dashboard`: bull-board in a browser for a deployment's queues (read-only by default).
import type { Command } from 'commander';
import { z } from 'zod';
import { redactRedisUrl } from '../runner/distributed/redis-url.js';
import type { Logger } from '../util/logger.js';
import { UserError, errorMessage } from '../util/errors.js';
import { flag, optionalFlag, parseFlag, UsageError } from '../util/flags.js';
import { addRedisOptions, redisOptionsOf } from './flag-groups.js';
import { untilSignal } from '../util/signals.js';

const host = z.string().trim().min(1, 'a host name or address');

const hostNames = z
  .string()
  .transform((s) => s.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^([a-z0-9-]+(\.[a-z0-9-]+)*|\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/, 'host names like dash.example.com')).min(1));

function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || address === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** Basic-auth credentials from the environment only (never a flag: flags end up in shell history and ps). */
function dashboardCredentials(env: NodeJS.ProcessEnv): { user: string; password: string } | undefined {
  const user = env.FRUITS_DASHBOARD_USER;
  const password = env.FRUITS_DASHBOARD_PASSWORD;
  if (!user && !password) return undefined;
  if (!user || !password || user.includes(':')) throw new UsageError('FRUITS_DASHBOARD_USER and FRUITS_DASHBOARD_PASSWORD: set both (the user without a colon), or neither');
  return { user, password };
}

export function registerDashboard(program: Command, log: () => Logger): void {
  const dash = program
    .command('dashboard')
    .description("serve bull-board for the deployment's queues (read-only unless --read-write)")
    .option('--port <n>', 'port to listen on (default 3000)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1: reach it through an SSH or ECS port forward)')
    .option('--read-write', 'allow retrying, cleaning, pausing… jobs from the page')
    .option('--allowed-host <names>', 'comma-separated host names the page is reached by, besides localhost, 127.0.0.1 and [::1] (other Host headers get 421)')
    .addHelpText(
      'after',
      '\nBasic auth: set FRUITS_DASHBOARD_USER and FRUITS_DASHBOARD_PASSWORD (required with a --host other than loopback).\n\nExamples:\n  $ fruits dashboard --redis redis://127.0.0.1:6379\n  $ FRUITS_DASHBOARD_USER=ops FRUITS_DASHBOARD_PASSWORD=… fruits dashboard --host 0.0.0.0 --allowed-host dash.internal.example.com',
    );
  addRedisOptions(dash);
  dash.action(async (o: Record<string, unknown>) => {
    const redis = redisOptionsOf(o);
    const port = optionalFlag(flag.port, o.port, '--port') ?? 3000;
    const listenHost = parseFlag(host, o.host ?? '127.0.0.1', '--host');
    const allowedHosts = optionalFlag(hostNames, o.allowedHost, '--allowed-host') ?? [];
    const credentials = dashboardCredentials(process.env);
    if (!credentials && !isLoopback(listenHost)) {
      throw new UsageError(`--host ${listenHost}: off loopback the dashboard needs basic auth: set FRUITS_DASHBOARD_USER and FRUITS_DASHBOARD_PASSWORD`);
    }
    const logger = log();
    const { startDashboard } = await import('../runner/distributed/dashboard.js'); // loaded by this command only
    const d = await startDashboard({ redisUrl: redis.url, prefix: redis.prefix, host: listenHost, port, readWrite: Boolean(o.readWrite), allowedHosts, credentials }).catch((err: unknown) => {
      if (err instanceof UserError) throw err;
      throw new UserError(`dashboard: ${errorMessage(err)}`);
    });
    logger.info(`dashboard ${d.url} (${o.readWrite ? 'read-write' : 'read-only'}${credentials ? ', basic auth' : ''}) for ${d.queues.map((q) => `${redis.prefix}:${q}`).join(', ')} at ${redactRedisUrl(redis.url)}`);
    await untilSignal();
    await d.close();
  });
}
