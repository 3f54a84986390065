// `fruits queue-metrics`: the queue depth as CloudWatch metrics, for autoscaling workers to zero.
import type { Command } from 'commander';
import { z } from 'zod';
import type { Logger } from '../util/logger.js';
import { flag, optionalFlag, parseFlag } from '../util/flags.js';
import { addRedisOptions, redisOptionsOf } from './flag-groups.js';
import { untilSignal } from '../util/signals.js';

const namespace = z
  .string()
  .regex(/^[A-Za-z0-9.\-_/#:]{1,255}$/, 'letters, digits and . - _ / # :')
  .refine((s) => !s.startsWith('AWS/'), 'a namespace of your own, not AWS/…');

export function registerQueueMetrics(program: Command, log: () => Logger): void {
  const metrics = program
    .command('queue-metrics')
    .description('publish the queue depth (waiting + active jobs) as CloudWatch metrics QueueDepth and ActiveJobs, for autoscaling workers')
    .requiredOption('--namespace <ns>', 'CloudWatch namespace (e.g. Fruits)')
    .option('--interval <seconds>', 'seconds between two publications (default 60)')
    .option('--once', 'publish once and exit')
    .option('--dry-run', 'print the metric data as JSON lines on stdout instead of sending them');
  addRedisOptions(metrics);
  metrics.action(async (o: Record<string, unknown>) => {
    const redis = redisOptionsOf(o);
    const ns = parseFlag(namespace, o.namespace, '--namespace');
    const intervalMs = (optionalFlag(flag.positiveInt, o.interval, '--interval') ?? 60) * 1000;
    // Loaded by this command only: `fruits --help` and the other commands start without them.
    const { publishQueueMetrics } = await import('../runner/distributed/queue-metrics.js');
    await publishQueueMetrics({ redisUrl: redis.url, prefix: redis.prefix, namespace: ns, intervalMs, once: Boolean(o.once), dryRun: Boolean(o.dryRun), log: log(), stopped: untilSignal() });
  });
}
