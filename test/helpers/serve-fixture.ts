// What the in-process tests of `fruits serve` share: a bundle trained on the mini dataset, one
// classifier (loaded once, on a worker thread) that their servers share, and the options of a
// test server (port 0, small bodies, no process-wide metrics).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readBundle, type Bundle } from '../../src/classify/bundle.js';
import { SERVE_DEFAULTS, type BuildOptions } from '../../src/serve/server.js';
import { WorkerClassifier } from '../../src/serve/worker-classifier.js';
import { miniFeatures, trainBundle } from '../classify-fixtures.js';
import { sharedModelPath } from './paths.js';

export interface ServeFixture {
  dir: string;
  bundle: Bundle;
  shared: WorkerClassifier;
  /** Options of a test server using the shared classifier, with `over` on top. */
  options(over?: Partial<BuildOptions>): BuildOptions;
  close(): Promise<void>;
}

export async function serveFixture(prefix: string): Promise<ServeFixture> {
  const data = await miniFeatures();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await trainBundle(data.train, path.join(dir, 'bundle'), ['--holdout', '0']);
  const bundle = await readBundle(path.join(dir, 'bundle'));
  const shared = await WorkerClassifier.start({ bundle: bundle.dir, threads: 2, model: sharedModelPath });
  return {
    dir,
    bundle,
    shared,
    options: (over = {}) => ({
      ...SERVE_DEFAULTS,
      port: 0,
      threads: 2,
      decodeSize: 'native',
      maxBodyBytes: 256 * 1024,
      defaultMetrics: false,
      model: sharedModelPath,
      classifier: shared,
      ...over,
    }),
    async close() {
      await shared.release();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
