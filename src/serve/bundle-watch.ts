// `fruits serve --watch`: follows the bundle location (a folder or an s3:// prefix). Every interval
// it reads bundle.json through the Store (one small object); when its sha256 is new, the bundle is
// read and checked in full (readBundle verifies every file against the manifest's checksums), its
// model is loaded on a worker of its own, and only then is it swapped in. Anything wrong — no
// manifest at two looks in a row (a write in progress on S3 deletes it first), a damaged file, a model that will not load —
// refuses that bundle with one warning, and the old one keeps serving. A refused manifest is not
// tried again until it changes.
import { BUNDLE_FILES, readBundle, type Bundle } from '../classify/bundle.js';
import { openStore } from '../storage/open.js';
import { StorageError } from '../storage/store.js';
import { errorMessage } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
import type { Logger } from '../util/logger.js';
import type { ServerMetrics } from './metrics.js';
import type { Generation, ServedBundle } from './served-bundle.js';

export interface WatchOptions {
  intervalMs: number;
  /** A loaded generation of `bundle` (its model ready), or a rejection saying why not. */
  load(bundle: Bundle): Promise<Generation>;
  log: Pick<Logger, 'info' | 'warn'>;
  metrics: ServerMetrics;
}

export type CheckResult = 'unchanged' | 'loaded' | 'refused';

export class BundleWatcher {
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<CheckResult> | undefined;
  private stopped = false;
  /** The manifest (sha256, or why none could be read) last refused: not retried, nor logged again. */
  private refused: string | undefined;
  private missedOnce = false;

  constructor(
    readonly location: string,
    private readonly served: ServedBundle,
    private readonly opts: WatchOptions,
  ) {}

  start(): void {
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.check().finally(() => {
          if (!this.stopped) tick();
        });
      }, this.opts.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** Stops polling; waits for a check under way (a bundle being loaded is then released). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.checking;
  }

  /** One look at the location (never overlapping another). */
  check(): Promise<CheckResult> {
    this.checking ??= this.look().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async look(): Promise<CheckResult> {
    const current = this.served.current;
    let sha: string;
    try {
      sha = sha256Hex(await openStore(this.location).read(BUNDLE_FILES.manifest));
    } catch (err) {
      const missing = err instanceof StorageError && err.code === 'not_found';
      // A bundle being published is briefly absent (between two renames locally; on S3 its manifest
      // is deleted first and written last): refused only when still absent at the next look.
      if (missing && !this.missedOnce) {
        this.missedOnce = true;
        return 'unchanged';
      }
      const why = missing ? `no ${BUNDLE_FILES.manifest} (a bundle being written, or none)` : errorMessage(err);
      return this.refuse(`unreadable:${why}`, why);
    }
    this.missedOnce = false;
    if (sha === current.bundle.manifestSha256 || sha === this.refused) return 'unchanged';
    let bundle: Bundle;
    try {
      bundle = await readBundle(this.location);
    } catch (err) {
      return this.refuse(sha, errorMessage(err));
    }
    // Replaced again while it was read: the next look sees the newest.
    if (bundle.manifestSha256 !== sha) return 'unchanged';
    const id = sha.slice(0, 12);
    if (bundle.featurizer.sha256 !== current.bundle.featurizer.sha256) {
      this.opts.log.info(`bundle ${id} at ${this.location} uses another featurizer (${bundle.featurizer.id}, was ${current.bundle.featurizer.id}); loading its model`);
    }
    let next: Generation;
    try {
      next = await this.opts.load(bundle);
    } catch (err) {
      return this.refuse(sha, `its model did not load: ${errorMessage(err)}`);
    }
    if (this.stopped) {
      await next.release();
      return 'unchanged';
    }
    this.served.swap(next);
    this.refused = undefined;
    this.opts.metrics.reloads.inc({ result: 'loaded' });
    this.opts.metrics.setBundle(next.id, bundle.featurizer.id, bundle.manifest.createdAt);
    this.opts.log.info(`serving bundle ${next.id} (trained ${bundle.manifest.createdAt}, ${bundle.labels.length} classes) from ${this.location}; bundle ${current.id} is released once its requests finish`);
    return 'loaded';
  }

  private refuse(key: string, why: string): CheckResult {
    if (key === this.refused) return 'unchanged';
    this.refused = key;
    this.served.failures++;
    this.opts.metrics.reloads.inc({ result: 'refused' });
    this.opts.log.warn(`bundle at ${this.location} not loaded: ${why}; still serving bundle ${this.served.current.id}`);
    return 'refused';
  }
}
