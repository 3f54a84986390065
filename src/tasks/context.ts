// What a task may use besides its input: stores and model sessions cached for the life of the
// worker process (one ONNX Runtime session per worker, created once), and a progress callback.
import { openStore } from '../storage/open.js';
import type { Store } from '../storage/store.js';
import type { Device } from '../model/device.js';
import { Featurizer } from '../model/featurizer.js';
import { locateModel, type ModelRef } from '../model/resolve.js';
import { setTaskThreads } from '../kernels/ort-graph.js';
import { preloadDecoder } from '../decode/jpeg-fast.js';
import { encodeFeatures } from '../sink/parquet.js';
import { statsOfRows } from '../stats/index.js';
import { warmUpPca } from '../pca/warm-up.js';

export type { ModelRef };

export type WarmUpStep = () => Promise<void>;

export interface TaskContext {
  store(uri: string): Store;
  featurizer(model: ModelRef): Promise<Featurizer>;
  /** Reports finished items (images, rows) for the progress display. */
  progress(items: number): void;
  /** A value computed once per worker process (a parsed PCA model, …), keyed by its identity. */
  memo<T>(key: string, make: () => Promise<T>): Promise<T>;
  /**
   * What tasks would pay for on their first call, as steps to take ahead of them while the worker
   * is idle (the coordinator lists the input): the model's session and its first run, the JPEG
   * decoder's module, the first calls of the Parquet writer and the statistics kernels (together
   * ~0.25 s of a featurize task's first part), and with `reduce` (a fit and projections follow)
   * the PCA's kernels: a fresh worker's first fit took ~0.1 s longer than a second one (+1 %
   * update of 20,000 photos, five alternated runs each: fit 0.71–0.82 → 0.66–0.75 s).
   */
  warmUpSteps(model: ModelRef, reduce?: boolean): WarmUpStep[];
}

export interface WorkerResources {
  threads: number;
  device: Device;
}

export function createTaskContext(resources: WorkerResources, progress: (items: number) => void = () => undefined): TaskContext {
  const stores = new Map<string, Store>();
  const featurizers = new Map<string, Promise<Featurizer>>();
  const memos = new Map<string, Promise<unknown>>();
  // The per-part linear algebra (projection, a part's statistics) gets the task's share too.
  setTaskThreads(resources.threads);
  return {
    store(uri) {
      let s = stores.get(uri);
      if (!s) stores.set(uri, (s = openStore(uri)));
      return s;
    },
    featurizer(model) {
      // The id names the input size too (`<id>@<n>`): one session per weights and size.
      const key = `${model.sha256}:${model.spec.id}`;
      let f = featurizers.get(key);
      if (!f) {
        f = locateModel(model).then((resolved) => Featurizer.load(resolved, resources));
        f.catch(() => featurizers.delete(key));
        featurizers.set(key, f);
      }
      return f;
    },
    progress,
    warmUpSteps(model, reduce = false) {
      const dim = model.spec.feature.dim;
      const rows = new Float32Array(2 * dim);
      return [
        async () => (await this.featurizer(model)).warmUp(),
        preloadDecoder,
        async () => {
          encodeFeatures({ path: ['a', 'b'], label: ['a', 'a'], dim, features: rows }, {});
          await statsOfRows(rows, 2, dim);
        },
        ...(reduce ? [() => warmUpPca(dim)] : []),
      ];
    },
    memo<T>(key: string, make: () => Promise<T>): Promise<T> {
      let p = memos.get(key) as Promise<T> | undefined;
      if (!p) {
        p = make();
        p.catch(() => memos.delete(key));
        memos.set(key, p);
      }
      return p;
    },
  };
}
