// Photos featurized with a bundle's model for `fruits evaluate` and `fruits drift`: a features
// dataset written by the local worker pool (kept with --features-out, else temporary), read back
// as labelled rows.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { featurizeJob } from '../pipeline/featurize.js';
import { LocalRunner } from '../runner/local.js';
import { openStore } from '../storage/open.js';
import type { Logger } from '../util/logger.js';
import { createProgress } from '../util/progress.js';
import type { Bundle } from './bundle.js';
import { loadDataset, type LabelledRows } from './dataset.js';
import { resolveBundleModel } from './model-file.js';

export interface PhotoFeaturizeOptions {
  /** The featurizer file, when not in FRUITS_MODEL_DIR or the cache. */
  model?: string;
  workers: number;
  threadsPerWorker: number;
  batchSize: number;
  partitionSize: number;
  maxPixels: number;
  /** Keep the features dataset here (a rerun resumes it); else a temporary folder, removed after. */
  featuresOut?: string;
  quiet: boolean;
}

export async function featurizePhotos(
  bundle: Pick<Bundle, 'dir' | 'featurizer'>,
  input: string,
  opts: PhotoFeaturizeOptions,
  logger: Logger,
): Promise<{ data: LabelledRows; rejects: number }> {
  const model = await resolveBundleModel(bundle, opts.model, (m) => logger.info(m));
  const keep = opts.featuresOut;
  const out = keep ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-evaluate-')));
  const runner = new LocalRunner({ workers: opts.workers, threadsPerWorker: opts.threadsPerWorker });
  try {
    logger.info(`featurizing ${input} with ${model.spec.id} (${opts.workers} workers) into ${keep ?? 'a temporary dataset'}`);
    const summary = await featurizeJob({
      input: openStore(input),
      output: openStore(out),
      model,
      batchSize: opts.batchSize,
      partitionSize: opts.partitionSize,
      maxPixels: opts.maxPixels,
      overwrite: false,
      runner,
      progress: createProgress({ unit: 'images', quiet: opts.quiet }),
      log: logger,
    });
    await runner.close(); // the workers' peak memory is read as they exit
    logger.info(`featurized ${summary.rows} images (${summary.rejects} rejected) in ${summary.seconds.toFixed(1)} s; peak worker RSS ${Math.max(...runner.peakRssBytes, 0) >> 20} MiB`);
    return { data: await loadDataset(out), rejects: summary.rejects };
  } finally {
    await runner.close();
    if (!keep) await fs.rm(out, { recursive: true, force: true });
  }
}
