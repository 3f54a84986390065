// Names shared between the infrastructure and the `fruits` commands running in it: bucket
// prefixes, metric names, the container port. One place, so a rename cannot drift.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { REPO_ROOT } from './repo-root.js';

/** Top-level prefixes of the data bucket and who uses them. */
export const PREFIX = {
  /** Input photos, `images/<Split>/<Class>/*.jpg` (Fruits-360 layout). */
  images: 'images/',
  /** One folder per run: Parquet part files, `_SUCCESS`, manifest, PCA model, report. */
  results: 'results/',
  /** Bundles promoted for `fruits serve` and `fruits telegram`. */
  models: 'models/',
  /** Scratch objects that may be left behind by an interrupted run; expired by a lifecycle rule. */
  tmp: 'tmp/',
} as const;

/**
 * The names `fruits queue-metrics --namespace <ns>` publishes (no dimensions), read from the file
 * the command itself imports: this package cannot import the app's sources.
 */
const QUEUE_METRICS_FILE = path.join(REPO_ROOT, 'src/runner/distributed/metric-names.json');
const queueMetricsSchema = z.object({ queueDepth: z.string().min(1), activeJobs: z.string().min(1) });
const queueMetrics = queueMetricsSchema.safeParse(JSON.parse(readFileSync(QUEUE_METRICS_FILE, 'utf8')));
if (!queueMetrics.success) throw new Error(`fruits deploy: ${QUEUE_METRICS_FILE}: not the metric names the stack expects (${queueMetrics.error.issues[0]?.message})`);

export const METRIC = {
  ...queueMetrics.data,
  /** Derived in CloudWatch Logs from the workers' log lines (the metric filter in run-dashboard.ts). */
  imagesFeaturized: 'ImagesFeaturized',
} as const;

export const PORT = { serve: 8080, dashboard: 3000, telegramMetrics: 9464 } as const;

export const CONTAINER = { worker: 'worker', coordinator: 'coordinator', queueMetrics: 'queue-metrics', dashboard: 'dashboard', serve: 'serve', telegram: 'telegram' } as const;
