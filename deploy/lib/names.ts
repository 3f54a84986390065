// Names shared between the infrastructure and the `fruits` commands running in it: bucket
// prefixes, metric names, the container port. One place, so a rename cannot drift.

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

/** Published by `fruits queue-metrics --namespace <ns>` (no dimensions). */
export const METRIC = {
  queueDepth: 'QueueDepth',
  activeJobs: 'ActiveJobs',
  /** Derived in CloudWatch Logs from the workers' log lines (the metric filter in run-dashboard.ts). */
  imagesFeaturized: 'ImagesFeaturized',
} as const;

export const PORT = { serve: 8080, dashboard: 3000, telegramMetrics: 9464 } as const;

export const CONTAINER = { worker: 'worker', coordinator: 'coordinator', queueMetrics: 'queue-metrics', dashboard: 'dashboard', serve: 'serve', telegram: 'telegram' } as const;
