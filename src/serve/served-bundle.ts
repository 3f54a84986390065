// The bundle being served, and the swap to a new one (`fruits serve --watch`). Each loaded bundle
// is a generation with its own model and micro-batcher (a batch never mixes two bundles). A request
// takes the current generation when it starts and keeps it to the end; a swap only changes which
// generation new requests get, and the old one is released once its last request is done.
import type { Bundle } from '../classify/bundle.js';
import type { Classified } from '../classify/image-classifier.js';
import type { MicroBatcher } from './batcher.js';
import type { ClassifyJob } from './classify-batcher.js';
import { bundleIdOf, modelInfoOf, type ModelInfo, type ModelState } from './model-state.js';

export class Generation {
  /** Requests holding this generation. */
  private holders = 0;
  private retired = false;
  private released: Promise<void> | undefined;
  private onReleased: (() => void) | undefined;
  readonly id: string;
  readonly info: ModelInfo;

  constructor(
    readonly bundle: Bundle,
    readonly model: ModelState,
    readonly batcher: MicroBatcher<ClassifyJob, Classified>,
  ) {
    this.id = bundleIdOf(bundle);
    this.info = modelInfoOf(bundle);
  }

  hold(): void {
    this.holders++;
  }

  drop(): void {
    this.holders--;
    if (this.retired && this.holders === 0) void this.release();
  }

  /** No new requests: released now if idle, else when its last request is done. */
  retire(onReleased?: () => void): void {
    this.retired = true;
    this.onReleased = onReleased;
    if (this.holders === 0) void this.release();
  }

  /** Drains the batcher, then frees the model (once). */
  release(): Promise<void> {
    this.released ??= (async () => {
      await this.batcher.drain();
      await this.model.release();
      this.onReleased?.();
    })();
    return this.released;
  }
}

export class ServedBundle {
  /** Bundles swapped in since the start, and bundles refused. */
  reloads = 0;
  failures = 0;
  private retiring = new Set<Generation>();

  constructor(
    private current_: Generation,
    /** --model: the featurizer file of the first bundle; later bundles of another featurizer find their own. */
    private readonly modelFile?: string,
  ) {
    this.modelFeaturizer = current_.bundle.featurizer.sha256;
  }

  private readonly modelFeaturizer: string;

  /** The --model file when `bundle` was trained on its featurizer, else none (looked up as `predict` does). */
  modelFor(bundle: Bundle): string | undefined {
    return bundle.featurizer.sha256 === this.modelFeaturizer ? this.modelFile : undefined;
  }

  /** A value derived from the current bundle, made again only when the bundle changes (the page, the on-device model). */
  perBundle<T>(make: (g: Generation) => T): () => T {
    let made: { id: string; value: T } | undefined;
    return () => {
      const g = this.current_;
      if (made?.id !== g.id) made = { id: g.id, value: make(g) };
      return made.value;
    };
  }

  get current(): Generation {
    return this.current_;
  }

  /** What /healthz and /readyz say: the bundle served and the reloads so far. */
  status(): { bundle: { id: string; createdAt: string }; reloads: { done: number; refused: number } } {
    const { id, bundle } = this.current_;
    return { bundle: { id, createdAt: bundle.manifest.createdAt }, reloads: { done: this.reloads, refused: this.failures } };
  }

  /** The current generation, held until `drop()` (use in try/finally). */
  take(): Generation {
    const g = this.current_;
    g.hold();
    return g;
  }

  /** New requests go to `next` from now on; the old generation finishes what it holds. */
  swap(next: Generation): Generation {
    const old = this.current_;
    this.current_ = next;
    this.reloads++;
    this.retiring.add(old);
    old.retire(() => this.retiring.delete(old));
    return old;
  }

  /** Shutdown: every generation drained and released. */
  async close(): Promise<void> {
    const all = [...this.retiring, this.current_];
    this.retiring.clear();
    await Promise.all(all.map((g) => g.release()));
  }
}
