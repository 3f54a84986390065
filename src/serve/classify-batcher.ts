// One model, many callers: the HTTP server and the Telegram bot hand decoded photos to this
// batcher, which gathers concurrent ones into one inference call of the loaded classifier.
import type { Classified } from '../classify/image-classifier.js';
import type { DecodedImage } from '../decode/decode.js';
import { MicroBatcher, type BatcherOptions } from './batcher.js';
import type { InferenceMetrics } from './metrics.js';
import type { ImagesClassifier } from './worker-classifier.js';

export interface ClassifyJob {
  image: DecodedImage;
  /** How many labels this caller wants, best first. */
  top: number;
}

/**
 * `classifier` is read at each batch (the server starts batching before its model is loaded and
 * admits jobs only once it is); each job gets its own `top` from one ranking of the batch, with
 * the novelty and `unknown` verdict of bundles that carry novelty data (and, with `features`, the
 * photo's features, for serve --log-features).
 */
export function createClassifyBatcher(classifier: () => ImagesClassifier, opts: BatcherOptions & { features?: boolean }, metrics?: InferenceMetrics): MicroBatcher<ClassifyJob, Classified> {
  const batcher = new MicroBatcher<ClassifyJob, Classified>(async (jobs) => {
    const top = Math.max(...jobs.map((j) => j.top));
    const ranked = await classifier().classify(
      jobs.map((j) => j.image),
      top,
      { features: opts.features },
    );
    return ranked.map((r, i) => ({ ...r, predictions: r.predictions.slice(0, jobs[i].top) }));
  }, opts);
  if (metrics) {
    batcher.onBatch = (size, runMs) => {
      metrics.batchSize.observe(size);
      metrics.inferSeconds.observe(runMs / 1000);
    };
  }
  return batcher;
}
