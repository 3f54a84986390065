// Queue depth for autoscaling: the deployment's waiting + active jobs, published as CloudWatch
// metrics (no dimensions) that the deploy/ stack scales the workers on, down to zero.
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { Queue } from 'bullmq';

export const METRIC_NAMES = { queueDepth: 'QueueDepth', activeJobs: 'ActiveJobs' } as const;

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
