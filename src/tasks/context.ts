// What a task may use besides its input: stores and model sessions cached for the life of the
// worker process (one ONNX Runtime session per worker, created once), and a progress callback.
import { openStore } from '../storage/open.js';
import type { Store } from '../storage/store.js';
import { Featurizer, type Device } from '../model/featurizer.js';
import { resolveModel, type ResolvedModel } from '../model/resolve.js';
import type { ModelSpec } from '../model/spec.js';

/** How a task names its model: by spec and checksum, so any machine can find and verify it. */
export interface ModelRef {
  spec: ModelSpec;
  sha256: string;
  /** Where the coordinator found it; a worker elsewhere resolves the spec itself. */
  path?: string;
}

export interface TaskContext {
  store(uri: string): Store;
  featurizer(model: ModelRef): Promise<Featurizer>;
  /** Reports finished items (images, rows) for the progress display. */
  progress(items: number): void;
  /** A value computed once per worker process (a parsed PCA model, …), keyed by its identity. */
  memo<T>(key: string, make: () => Promise<T>): Promise<T>;
}

export interface WorkerResources {
  threads: number;
  device: Device;
}

export function createTaskContext(resources: WorkerResources, progress: (items: number) => void = () => undefined): TaskContext {
  const stores = new Map<string, Store>();
  const featurizers = new Map<string, Promise<Featurizer>>();
  const memos = new Map<string, Promise<unknown>>();
  return {
    store(uri) {
      let s = stores.get(uri);
      if (!s) stores.set(uri, (s = openStore(uri)));
      return s;
    },
    featurizer(model) {
      let f = featurizers.get(model.sha256);
      if (!f) {
        f = (async () => {
          let resolved: ResolvedModel;
          try {
            resolved = await resolveModel({ model: model.path });
          } catch {
            resolved = await resolveModel({ model: model.spec.id });
          }
          if (resolved.sha256 !== model.sha256) {
            throw new Error(`model ${model.spec.id}: this worker has sha256 ${resolved.sha256}, the run uses ${model.sha256}`);
          }
          return Featurizer.load({ ...resolved, spec: model.spec }, resources);
        })();
        f.catch(() => featurizers.delete(model.sha256));
        featurizers.set(model.sha256, f);
      }
      return f;
    },
    progress,
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
