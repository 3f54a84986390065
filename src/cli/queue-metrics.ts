// `fruits queue-metrics`: the queue depth as CloudWatch metrics, for autoscaling workers to zero.
import type { Command } from 'commander';
import { z } from 'zod';
import { QUEUE } from '../runner/distributed/jobs.js';
import type { Logger } from '../util/logger.js';
import { UserError, errorMessage } from '../util/errors.js';
import { flag, optionalFlag, parseFlag } from './options.js';
import { addRedisOptions, redisOptionsOf } from './worker.js';
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
    const logger = log();
    // Loaded by this command only: `fruits --help` and the other commands start without them.
    const [{ CloudWatchClient }, { Queue }, { metricData, putMetrics, readQueueCounts }, { connectRedis }] = await Promise.all([
      import('@aws-sdk/client-cloudwatch'),
      import('bullmq'),
      import('../runner/distributed/queue-metrics.js'),
      import('../runner/distributed/redis-connection.js'),
    ]);
    const client = await connectRedis(redis.url, 'monitor');
    const queue = new Queue(QUEUE, { connection: client, prefix: redis.prefix, skipMetasUpdate: true });
    const cloudwatch = o.dryRun ? undefined : new CloudWatchClient({});
    let stop = false;
    let wake: () => void = () => undefined;
    void untilSignal().then(() => {
      stop = true;
      wake();
    });
    try {
      do {
        const data = metricData(await readQueueCounts(queue), new Date());
        if (!cloudwatch) {
          process.stdout.write(`${JSON.stringify({ Namespace: ns, MetricData: data })}\n`);
        } else {
          try {
            await putMetrics(cloudwatch, ns, data);
            logger.debug(`published ${data.map((d) => `${d.MetricName}=${d.Value}`).join(' ')} to ${ns}`);
          } catch (err) {
            // A failed publication is retried at the next interval; with --once it is the exit status.
            if (o.once) throw new UserError(`queue-metrics: cannot publish to CloudWatch: ${errorMessage(err)}`);
            logger.warn(`queue-metrics: cannot publish to CloudWatch: ${errorMessage(err)}`);
          }
        }
        if (o.once || stop) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, intervalMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      } while (!stop);
    } finally {
      await queue.close();
      client.disconnect();
      cloudwatch?.destroy();
    }
  });
}
