// Labelled rows for training and evaluation, read whole from a features dataset (`fruits
// featurize`), a reduced dataset (`fruits transform`) or a `fruits run` output (its reduced
// dataset, or its features), with the identity of the feature space they live in.
import { z } from 'zod';
import { FEATURES_FORMAT, MANIFEST, REDUCED_FORMAT, RUN_MANIFEST, SUCCESS, anyManifestSchema, readJson, reducedManifestSchema, runLayoutSchema } from '../sink/formats.js';
import { readFeaturesManifest } from '../sink/manifest.js';
import { listPartFiles, readPart } from '../sink/read-dataset.js';
import { modelSpecSchema, inputSizeOfId, withInputSize, type ModelSpec } from '../model/spec.js';
import { registryEntry } from '../model/registry.js';
import { openStore } from '../storage/open.js';
import type { Store } from '../storage/store.js';
import { UserError } from '../util/errors.js';

export interface FeatureSpace {
  /** The network (and weights file) that produced the features. */
  featurizer: { id: string; sha256: string; spec?: ModelSpec };
  kind: 'features' | 'reduced';
  /** Reduced datasets: sha256 of the PCA model file that projected them, and where it is. */
  pcaSha256?: string;
  pcaLocation?: string;
  dim: number;
  /** The features dataset's version the rows come from (absent for datasets of earlier builds). */
  datasetVersion?: number;
}

export interface LabelledRows {
  location: string;
  space: FeatureSpace;
  n: number;
  /** n × space.dim, row-major. */
  rows: Float32Array;
  paths: string[];
  labels: string[];
  /** Where the images were read from (from the features manifest), for thumbnails. */
  imageRoot?: string;
}

/** The datasets a location offers: itself, or the features and reduced datasets of a run. */
export interface DatasetChoice {
  features?: string;
  reduced?: string;
}

function join(root: string, sub: string): string {
  return `${root.replace(/\/+$/, '')}/${sub}`;
}

/** What kind of dataset `location` is; undefined when it holds no fruits dataset at all. */
export async function datasetsAt(location: string): Promise<DatasetChoice | undefined> {
  const store = openStore(location);
  const run = await readJson(store, RUN_MANIFEST, z.unknown()).catch(() => undefined);
  if (run !== undefined) {
    const r = runLayoutSchema.safeParse(run);
    if (!r.success) throw new UserError(`${store.uriOf(RUN_MANIFEST)}: not a fruits run manifest`);
    const reduced = store.sub(r.data.layout.reduced);
    return {
      features: join(store.root, r.data.layout.features),
      reduced: (await reduced.exists(SUCCESS)) ? join(store.root, r.data.layout.reduced) : undefined,
    };
  }
  const manifest = await readJson(store, MANIFEST, anyManifestSchema).catch((err) => {
    throw err instanceof UserError ? err : new UserError(`${store.root}: ${(err as Error).message}`);
  });
  if (manifest === undefined) return undefined;
  if (manifest.format === FEATURES_FORMAT) return { features: store.root };
  if (manifest.format === REDUCED_FORMAT) return { reduced: store.root };
  throw new UserError(`${store.uriOf(MANIFEST)}: format ${JSON.stringify(manifest.format)} is neither a features nor a reduced dataset`);
}

async function featureSpaceOf(store: Store): Promise<{ space: FeatureSpace; imageRoot?: string }> {
  const raw = await readJson(store, MANIFEST, anyManifestSchema);
  if (!raw) throw new UserError(`${store.root}: not a fruits dataset (no ${MANIFEST})`);
  if (!(await store.exists(SUCCESS))) throw new UserError(`${store.root}: the dataset is not complete (no ${SUCCESS}); finish or rerun the job that writes it`);
  if (raw.format === FEATURES_FORMAT) {
    const m = await readFeaturesManifest(store);
    if (!m || m.status !== 'complete') throw new UserError(`${store.root}: the features dataset is not complete`);
    return {
      space: { kind: 'features', featurizer: { id: m.config.model.id, sha256: m.config.model.sha256, spec: m.config.model.spec }, dim: m.featureDim, datasetVersion: m.version },
      imageRoot: m.config.input,
    };
  }
  const r = reducedManifestSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${store.uriOf(MANIFEST)}: not a fruits features or reduced manifest (${issue.path.join('.') || 'root'}: ${issue.message})`);
  }
  const m = r.data;
  if (m.status !== 'complete') throw new UserError(`${store.root}: the reduced dataset is not complete`);
  // The spec of the network is in the features manifest the reduced dataset came from; the
  // registry knows the common ones if that dataset has moved.
  let spec: ModelSpec | undefined;
  let imageRoot: string | undefined;
  const features = await readFeaturesManifest(openStore(m.features)).catch(() => undefined);
  if (features && features.config.model.sha256 === m.featurizer.sha256 && features.config.model.id === m.featurizer.modelId) {
    spec = features.config.model.spec;
    imageRoot = features.config.input;
  } else {
    // The registry's spec, at the input size the featurizer id names (`<id>@<n>`).
    const known = registryEntry(m.featurizer.sha256);
    spec = known && withInputSize(modelSpecSchema.parse(known), inputSizeOfId(m.featurizer.modelId));
  }
  return {
    space: { kind: 'reduced', featurizer: { id: m.featurizer.modelId, sha256: m.featurizer.sha256, spec }, pcaSha256: m.pcaSha256, pcaLocation: m.pca, dim: m.k, datasetVersion: m.featuresVersion },
    imageRoot,
  };
}

/** The feature space of a complete dataset, from its manifest alone (no rows read). */
export async function readFeatureSpace(location: string): Promise<FeatureSpace> {
  return (await featureSpaceOf(openStore(location))).space;
}

/** Every row of a complete features or reduced dataset, in part order. */
export async function loadDataset(location: string): Promise<LabelledRows> {
  const store = openStore(location);
  const { space, imageRoot } = await featureSpaceOf(store);
  const parts = await listPartFiles(store);
  const contents = [];
  let n = 0;
  for (const key of parts) {
    const part = await readPart(store, key);
    if (part.path.length > 0 && part.dim !== space.dim) {
      throw new UserError(`${store.uriOf(key)}: rows have ${part.dim} features, the manifest says ${space.dim}`);
    }
    contents.push(part);
    n += part.path.length;
  }
  if (n === 0) throw new UserError(`${store.root}: the dataset has no rows`);
  const rows = new Float32Array(n * space.dim);
  const paths: string[] = [];
  const labels: string[] = [];
  let at = 0;
  for (const part of contents) {
    rows.set(part.features, at * space.dim);
    at += part.path.length;
    paths.push(...part.path);
    labels.push(...part.label);
  }
  return { location: store.root, space, n, rows, paths, labels, imageRoot };
}

/** The given rows only (in the given order), as a new LabelledRows. */
export function selectRows(data: LabelledRows, indices: readonly number[]): LabelledRows {
  const d = data.space.dim;
  const rows = new Float32Array(indices.length * d);
  indices.forEach((r, i) => rows.set(data.rows.subarray(r * d, (r + 1) * d), i * d));
  return {
    ...data,
    n: indices.length,
    rows,
    paths: indices.map((i) => data.paths[i]),
    labels: indices.map((i) => data.labels[i]),
  };
}
