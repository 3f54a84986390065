// Queue depth for autoscaling: the deployment's waiting + active jobs, published as CloudWatch
// metrics (no dimensions) that the deploy/ stack scales the workers on, down to zero.
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { Queue } from 'bullmq';
import { UserError, errorMessage } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import { QUEUE } from './jobs.js';
import { connectRedis } from './redis-connection.js';
// A JSON file, not a constant here: the deploy/ stack (which cannot import src/) reads the same file
// for the alarms it scales the workers on.
import METRIC_NAMES from './metric-names.json' with { type: 'json' };

export interface QueueCounts {
  /** Jobs a worker could start now or soon: waiting, prioritized, and retries waiting out their backoff. */
  waiting: number;
  active: number;
}

/**
 * Stage barriers waiting for their tasks are not counted: no worker can run them until the
 * tasks are done, and counting them would keep a worker up for nothing.
 */
export async function readQueueCounts(queue: Queue): Promise<QueueCounts> {
  const c = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
  return { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0), active: c.active ?? 0 };
}

export function metricData(counts: QueueCounts, at: Date): MetricDatum[] {
  return [
    { MetricName: METRIC_NAMES.queueDepth, Value: counts.waiting + counts.active, Unit: 'Count', Timestamp: at },
    { MetricName: METRIC_NAMES.activeJobs, Value: counts.active, Unit: 'Count', Timestamp: at },
  ];
}

export async function putMetrics(client: CloudWatchClient, namespace: string, data: MetricDatum[]): Promise<void> {
  await client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data }));
}

export interface PublishOptions {
  redisUrl: string;
  prefix: string;
  namespace: string;
  intervalMs: number;
  /** Publish once and return; a failed publication is then an error (the exit status). */
  once: boolean;
  /** Print the metric data as JSON lines instead of sending them. */
  dryRun: boolean;
  log: Logger;
  /** Resolves when the loop should stop (a signal). */
  stopped: Promise<unknown>;
}

/** Publishes the queue's depth every interval until stopped; a failed publication is retried at the next one. */
export async function publishQueueMetrics(o: PublishOptions): Promise<void> {
  const client = await connectRedis(o.redisUrl, 'monitor');
  const queue = new Queue(QUEUE, { connection: client, prefix: o.prefix, skipMetasUpdate: true });
  const cloudwatch = o.dryRun ? undefined : new CloudWatchClient({});
  let stop = false;
  let wake: () => void = () => undefined;
  void o.stopped.then(() => {
    stop = true;
    wake();
  });
  try {
    do {
      const data = metricData(await readQueueCounts(queue), new Date());
      if (!cloudwatch) {
        process.stdout.write(`${JSON.stringify({ Namespace: o.namespace, MetricData: data })}\n`);
      } else {
        try {
          await putMetrics(cloudwatch, o.namespace, data);
          o.log.debug(`published ${data.map((d) => `${d.MetricName}=${d.Value}`).join(' ')} to ${o.namespace}`);
        } catch (err) {
          if (o.once) throw new UserError(`queue-metrics: cannot publish to CloudWatch: ${errorMessage(err)}`);
          o.log.warn(`queue-metrics: cannot publish to CloudWatch: ${errorMessage(err)}`);
        }
      }
      if (o.once || stop) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, o.intervalMs);
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
}
