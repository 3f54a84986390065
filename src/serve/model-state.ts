// The bundle's model as the server sees it: loading (on a worker thread, or given ready by the
// caller), loaded, or failed. /readyz and the classify route read it; close() releases it.
import type { Bundle } from '../classify/bundle.js';
import { WorkerClassifier, type ImagesClassifier } from './worker-classifier.js';

export class ModelState {
  classifier: ImagesClassifier | undefined;
  loadError: Error | undefined;
  /** Resolves once the model is loaded; rejects if it fails to load. */
  readonly ready: Promise<void>;

  constructor(
    loading: Promise<ImagesClassifier>,
    /** Whether release() frees the classifier (it was loaded here, not given). */
    private readonly owned: boolean,
  ) {
    this.ready = loading.then(
      (c) => {
        this.classifier = c;
      },
      (err: Error) => {
        this.loadError = err;
        throw err;
      },
    );
    this.ready.catch(() => undefined);
  }

  /** The given classifier, or the bundle's model loaded on a worker thread. */
  static load(bundle: Bundle, opts: { model?: string; threads: number; classifier?: ImagesClassifier | Promise<ImagesClassifier> }): ModelState {
    if (opts.classifier) return new ModelState(Promise.resolve(opts.classifier), false);
    return new ModelState(WorkerClassifier.start({ bundle: bundle.dir, model: opts.model, threads: opts.threads, manifestSha256: bundle.manifestSha256 }), true);
  }

  async release(): Promise<void> {
    if (this.owned && this.classifier) await this.classifier.release();
  }
}

/** What the server says about its model (/readyz, every classify answer). */
export function modelInfoOf(bundle: Bundle) {
  return {
    /** Which bundle answered: the first 12 hex digits of its bundle.json's sha256. */
    bundle: bundleIdOf(bundle),
    id: bundle.featurizer.id,
    sha256: bundle.featurizer.sha256,
    classifier: bundle.classifier.kind,
    classes: bundle.labels.length,
    pcaK: bundle.pca?.model.k ?? null,
    trainedAt: bundle.manifest.createdAt,
  };
}
export type ModelInfo = ReturnType<typeof modelInfoOf>;

/** A bundle's short id: what the logs, /readyz, the answers and the metrics name it by. */
export function bundleIdOf(bundle: Pick<Bundle, 'manifestSha256'>): string {
  return bundle.manifestSha256.slice(0, 12);
}
