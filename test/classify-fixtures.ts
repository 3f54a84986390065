// Shared fixtures of the recognition tests (classify*, serve*): features of the mini Test split
// and of a Training subset, made with the real CLI. They live in one folder under the system's
// temporary directory (one per checkout) and are made by `fruits featurize` itself, so a second test file (or a
// rerun) resumes the finished dataset in a second instead of featurizing again.
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { featurize, runCli, show } from './helpers/cli.js';
import { createHash } from 'node:crypto';
import { miniTestDir, repoRoot, sharedDir } from './helpers/paths.js';
import type { BundleContents } from '../src/classify/bundle.js';
import { MOBILENET_V2_SHARED } from '../src/model/registry.js';
import { gaussian, mulberry32 } from './helpers/random.js';

export const miniTrainingDir = path.join(sharedDir, 'data', 'fruits360-mini', 'Training');
// One folder per checkout: two checkouts testing at once must not finish each other's datasets.
const ROOT = path.join(os.tmpdir(), `fruits-classify-fixtures-${createHash('sha256').update(repoRoot).digest('hex').slice(0, 8)}`);

/**
 * Every `k`-th image of the Training split (byte-wise listing order, as `fruits featurize`
 * lists): consecutive frames are near-duplicates, so a stride samples every class and every
 * part of each rotation, where the first n images would not.
 */
export const TRAINING_STRIDE = 4;

async function listRelative(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory()) out.push(...(await listRelative(dir, rel)));
    else if (/\.(jpe?g|png|webp)$/i.test(e.name)) out.push(rel);
  }
  return out;
}

/** A folder of symlinks to every `stride`-th image of `source`; made once (atomically). */
export async function strideSubset(source: string, stride: number, target: string): Promise<{ dir: string; images: number }> {
  const marker = path.join(target, '.complete');
  const all = (await listRelative(source)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const chosen = all.filter((_, i) => i % stride === 0);
  if (existsSync(marker)) return { dir: target, images: chosen.length };
  const tmp = `${target}.tmp-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  for (const rel of chosen) {
    await fs.mkdir(path.dirname(path.join(tmp, rel)), { recursive: true });
    await fs.symlink(path.join(source, rel), path.join(tmp, rel));
  }
  await fs.writeFile(path.join(tmp, '.complete'), '');
  await fs.rm(target, { recursive: true, force: true });
  await fs.rename(tmp, target);
  return { dir: target, images: chosen.length };
}

export interface MiniFeatures {
  /** Features dataset of the whole mini Test split (1,200 images, 120 classes). */
  test: string;
  /** Features dataset of every TRAINING_STRIDE-th Training image. */
  train: string;
  trainImages: number;
}

/** Resumes the fixture; one left by a build with other settings (model, preprocessing) is redone. */
async function featurizeOrRedo(input: string, output: string): Promise<void> {
  try {
    await featurize([input, output]);
  } catch (err) {
    if (!/other settings/.test((err as Error).message)) throw err;
    await featurize([input, output, '--overwrite']);
  }
}

let cached: Promise<MiniFeatures> | undefined;

/** The two features datasets (featurized by the CLI, or resumed when already complete). */
export function miniFeatures(): Promise<MiniFeatures> {
  cached ??= (async () => {
    await fs.mkdir(ROOT, { recursive: true });
    const subset = await strideSubset(miniTrainingDir, TRAINING_STRIDE, path.join(ROOT, `training-every-${TRAINING_STRIDE}`));
    const train = path.join(ROOT, `features-training-every-${TRAINING_STRIDE}`);
    const test = path.join(ROOT, 'features-test');
    await featurizeOrRedo(miniTestDir, test);
    await featurizeOrRedo(subset.dir, train);
    return { test, train, trainImages: subset.images };
  })();
  return cached;
}

/** Trains a bundle with the CLI (`fruits train … --json`) and returns its summary. */
export async function trainBundle(dataset: string, bundle: string, extra: string[] = []): Promise<Record<string, unknown>> {
  const r = await runCli(['train', dataset, bundle, '--json', '--quiet', ...extra]);
  if (r.code !== 0) throw new Error(`fruits train failed:\n${show(r)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
}

/** A small logistic-regression bundle on the shared network's features (3 classes, random weights), for format tests. */
export function tinyContents(overrides: Partial<BundleContents> = {}): BundleContents {
  const dim = MOBILENET_V2_SHARED.feature.dim;
  const classes = 3;
  const rand = mulberry32(5);
  const weights = Float32Array.from({ length: classes * dim }, () => gaussian(rand) * 0.05);
  return {
    featurizer: { id: MOBILENET_V2_SHARED.id, sha256: MOBILENET_V2_SHARED.sha256!, spec: MOBILENET_V2_SHARED },
    standardizer: { mode: 'per-feature', mean: new Float64Array(dim).fill(0.5), scale: new Float64Array(dim).fill(2) },
    classifier: { kind: 'logreg', classes, dim, weights, bias: Float32Array.from([0.1, -0.2, 0.3]), l2: 1e-4 },
    labels: ['Apple <b>Red</b>', 'Banana', 'Pêche "plate"'],
    training: {
      dataset: '/data/features',
      datasetKind: 'features',
      rows: 30,
      classes,
      featureDim: dim,
      inputDim: dim,
      pca: null,
      l2: { chosen: 1e-4 },
      knnK: null,
      heldOut: null,
      train: { rows: 30, top1: 1, top5: 1, loss: 0.01 },
      optimizer: { iterations: 10, evaluations: 11, stop: 'value' },
      seconds: { load: 0, pca: 0, fit: 0, total: 0 },
    },
    ...overrides,
  };
}
