// A classifier bundle: one folder with everything needed to turn a photo into a label, checked
// on load so that a bundle is never applied to features it was not trained for.
//
//   bundle.json   manifest (written last): format + version, featurizer id/sha256/spec, PCA
//                 reference, standardiser and classifier settings, labels, array table of
//                 weights.bin (with its sha256), training metrics
//   weights.bin   the arrays, little-endian, concatenated (offsets in bundle.json)
//   pca.json      the PCA model, byte for byte as fitted (its sha256 identifies reduced datasets)
//
// A bundle is a local folder or an s3:// prefix, written through the Store: bundle.json is
// written last (and deleted first when replacing), so a crash never leaves something that reads
// as a complete bundle.
import { z } from 'zod';
import { isEmpty } from '../sink/dataset.js';
import { openStore } from '../storage/open.js';
import type { Store } from '../storage/store.js';
import { modelSpecSchema, type ModelSpec } from '../model/spec.js';
import { parsePcaModel, serializePcaModel, type PcaModel } from '../pca/index.js';
import { UserError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
import { SOFTWARE } from '../version.js';
import type { Classifier } from './classifier.js';
import { noveltyArrays, noveltyFromBundle, noveltyManifest, noveltyManifestSchema, type NoveltyModel } from './novelty.js';
import type { Standardizer } from './standardize.js';

export const BUNDLE_FORMAT = 'fruits.classifier-bundle';
export const BUNDLE_VERSION = 1;
export const BUNDLE_FILES = { manifest: 'bundle.json', weights: 'weights.bin', pca: 'pca.json' } as const;

export class BundleError extends UserError {}

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
const count = z.number().int().nonnegative();
const ratio = z.number().min(0).max(1);

const arrayRef = z.object({
  name: z.string().min(1),
  dtype: z.enum(['float32', 'float64', 'int32']),
  length: count,
  offset: count,
});
type ArrayRef = z.infer<typeof arrayRef>;

const accuracy = z.object({ rows: count, top1: ratio, top5: ratio, loss: z.number().optional() });

export const trainingInfoSchema = z.object({
  dataset: z.string(),
  datasetKind: z.enum(['features', 'reduced']),
  /** The version of the features dataset the model was trained on (which photos it has seen). */
  datasetVersion: z.number().int().positive().nullable().optional(),
  rows: count,
  classes: count,
  featureDim: count,
  inputDim: count,
  pca: z.object({ source: z.enum(['fitted', 'file', 'dataset']), k: count, scale: z.string(), varianceKept: ratio }).nullable(),
  l2: z
    .object({
      chosen: z.number().nonnegative(),
      candidates: z.array(z.object({ l2: z.number(), heldOutTop1: ratio, heldOutLoss: z.number() })).optional(),
    })
    .nullable(),
  knnK: count.nullable(),
  heldOut: accuracy.extend({ fraction: ratio }).nullable(),
  train: accuracy,
  optimizer: z.object({ iterations: count, evaluations: count, stop: z.string() }).nullable(),
  seconds: z.object({ load: z.number(), pca: z.number(), fit: z.number(), total: z.number() }),
});
export type TrainingInfo = z.infer<typeof trainingInfoSchema>;

const manifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  formatVersion: z.literal(BUNDLE_VERSION),
  createdAt: z.string(),
  software: z.object({ name: z.string(), version: z.string() }),
  featurizer: z.object({ id: z.string().min(1), sha256, spec: modelSpecSchema }),
  pca: z.object({ file: z.literal(BUNDLE_FILES.pca), sha256, k: z.number().int().positive(), dim: z.number().int().positive() }).nullable(),
  standardizer: z.object({ mode: z.enum(['per-feature', 'uniform', 'none']) }),
  classifier: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('logreg'), classes: z.number().int().min(2), dim: z.number().int().positive(), l2: z.number().nonnegative() }),
    z.object({ kind: z.literal('knn'), classes: z.number().int().min(2), dim: z.number().int().positive(), k: z.number().int().positive(), rows: z.number().int().positive() }),
  ]),
  labels: z.array(z.string().min(1)).min(2),
  weights: z.object({ file: z.literal(BUNDLE_FILES.weights), bytes: count, sha256, arrays: z.array(arrayRef) }),
  training: trainingInfoSchema,
  /** Absent in bundles trained before novelty scores existed: they load and serve without them. */
  novelty: noveltyManifestSchema.optional(),
});
export type BundleManifest = z.infer<typeof manifestSchema>;

export interface FeaturizerRef {
  id: string;
  sha256: string;
  spec: ModelSpec;
}

/** What a bundle holds, in memory. */
export interface BundleContents {
  featurizer: FeaturizerRef;
  /** The PCA model and the exact bytes of its file (their sha256 identifies reduced datasets). */
  pca?: { model: PcaModel; text: string };
  standardizer: Standardizer;
  classifier: Classifier;
  labels: string[];
  training: TrainingInfo;
  /** What the bundle keeps of its training data to tell unknown photos (see novelty.ts). */
  novelty?: NoveltyModel;
}

export interface Bundle extends BundleContents {
  dir: string;
  manifest: BundleManifest;
  /** sha256 of the bundle.json bytes: the bundle's identity (`fruits serve --watch` compares it). */
  manifestSha256: string;
  pcaSha256?: string;
}

type TypedArray = Float32Array | Float64Array | Int32Array;

function dtypeOf(a: TypedArray): ArrayRef['dtype'] {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  return 'int32';
}

function arraysOf(c: BundleContents): Record<string, TypedArray> {
  const common = { 'standardizer.mean': c.standardizer.mean, 'standardizer.scale': c.standardizer.scale };
  const novelty = c.novelty ? noveltyArrays(c.novelty) : {};
  if (c.classifier.kind === 'logreg') return { ...common, 'logreg.weights': c.classifier.weights, 'logreg.bias': c.classifier.bias, ...novelty };
  return { ...common, 'knn.rows': c.classifier.rows, 'knn.labels': c.classifier.labels, ...novelty };
}

/** Checks the parts agree with each other (sizes, label count, PCA identity) before writing. */
function checkContents(c: BundleContents): void {
  const { classifier: m, standardizer: s } = c;
  const fail = (why: string): never => {
    throw new Error(`internal: inconsistent bundle: ${why}`);
  };
  if (c.labels.length !== m.classes) fail(`${c.labels.length} labels for ${m.classes} classes`);
  if (new Set(c.labels).size !== c.labels.length) fail('duplicate labels');
  if (s.mean.length !== m.dim || s.scale.length !== m.dim) fail('standardiser and classifier dimensions differ');
  const inputDim = c.pca ? c.pca.model.k : c.featurizer.spec.feature.dim;
  if (inputDim !== m.dim) fail(`classifier dimension ${m.dim}, inputs have ${inputDim}`);
  if (c.pca && (c.pca.model.featurizer.sha256 !== c.featurizer.sha256 || c.pca.model.dim !== c.featurizer.spec.feature.dim)) {
    fail('the PCA model was fitted on another featurizer');
  }
  if (c.novelty && (c.novelty.inputDim !== c.featurizer.spec.feature.dim || c.novelty.classes !== m.classes)) fail('novelty data of another feature dimension or class count');
}

/** Refuses a location a bundle must not be written to; `train` asks before it trains. */
export async function checkBundleLocation(store: Store, overwrite: boolean): Promise<void> {
  if (await isEmpty(store)) return;
  if (!(await store.exists(BUNDLE_FILES.manifest))) throw new BundleError(`${store.root} is not empty and is not a fruits bundle; choose another location`);
  if (!overwrite) throw new BundleError(`${store.root} already holds a bundle; pass --overwrite to replace it`);
}

export async function writeBundle(location: string, contents: BundleContents, opts: { overwrite?: boolean } = {}): Promise<BundleManifest> {
  checkContents(contents);
  const store = openStore(location);
  await checkBundleLocation(store, Boolean(opts.overwrite));
  const arrays = arraysOf(contents);
  const refs: ArrayRef[] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) {
    refs.push({ name, dtype: dtypeOf(a), length: a.length, offset });
    // 8-byte alignment keeps every array readable as a typed-array view.
    offset += Math.ceil(a.byteLength / 8) * 8;
  }
  const weights = Buffer.alloc(offset);
  for (const ref of refs) {
    const a = arrays[ref.name];
    // Little-endian on disk: x86 and ARM are little-endian, so the bytes are the memory's.
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(weights, ref.offset);
  }
  const { classifier: m } = contents;
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_VERSION,
    createdAt: new Date().toISOString(),
    software: SOFTWARE,
    featurizer: { id: contents.featurizer.id, sha256: contents.featurizer.sha256, spec: contents.featurizer.spec },
    pca: contents.pca ? { file: BUNDLE_FILES.pca, sha256: sha256Hex(contents.pca.text), k: contents.pca.model.k, dim: contents.pca.model.dim } : null,
    standardizer: { mode: contents.standardizer.mode },
    classifier:
      m.kind === 'logreg'
        ? { kind: 'logreg', classes: m.classes, dim: m.dim, l2: m.l2 }
        : { kind: 'knn', classes: m.classes, dim: m.dim, k: m.k, rows: m.labels.length },
    labels: contents.labels,
    weights: { file: BUNDLE_FILES.weights, bytes: weights.length, sha256: sha256Hex(weights), arrays: refs },
    training: contents.training,
    ...(contents.novelty ? { novelty: noveltyManifest(contents.novelty) } : {}),
  };
  const files: [string, Uint8Array | string][] = [[BUNDLE_FILES.weights, weights]];
  if (contents.pca) files.push([BUNDLE_FILES.pca, contents.pca.text]);
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;

  // One protocol for folders and object stores alike (the Store's, no renames of folders): the
  // manifest goes first on the way out and last on the way in, so a reader (or `serve --watch`)
  // sees the old bundle, no bundle, or the new one, never a mix: the manifest names the weights'
  // sha256 and readBundle checks it.
  await store.deletePrefix(BUNDLE_FILES.manifest);
  if (!contents.pca) await store.deletePrefix(BUNDLE_FILES.pca);
  for (const [key, data] of files) await store.write(key, data);
  await store.write(BUNDLE_FILES.manifest, manifestText);
  return manifest;
}

/** Serialises a PCA model fitted in memory, so that its bytes (and sha256) are fixed once. */
export function pcaText(model: PcaModel): string {
  return serializePcaModel(model);
}

async function readKey(store: Store, key: string, what: string): Promise<Buffer> {
  try {
    return await store.read(key);
  } catch (err) {
    throw new BundleError(`${what}: cannot read ${store.uriOf(key)} (${(err as Error).message})`);
  }
}

export async function readBundle(location: string): Promise<Bundle> {
  const store = openStore(location);
  const root = store.root;
  if (!(await store.exists(BUNDLE_FILES.manifest))) {
    const empty = await isEmpty(store);
    throw new BundleError(
      empty ? `bundle ${root}: no such bundle (nothing there)` : `bundle ${root}: not a fruits classifier bundle (no ${BUNDLE_FILES.manifest}; an unfinished write leaves none)`,
    );
  }
  let raw: unknown;
  let manifestSha256 = '';
  try {
    const bytes = await readKey(store, BUNDLE_FILES.manifest, `bundle ${root}`);
    manifestSha256 = sha256Hex(bytes);
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`bundle ${root}: ${BUNDLE_FILES.manifest} is not valid JSON`);
  }
  const head = raw as { format?: unknown; formatVersion?: unknown };
  if (head?.format !== BUNDLE_FORMAT) throw new BundleError(`bundle ${root}: not a fruits classifier bundle (format ${JSON.stringify(head?.format)})`);
  if (head.formatVersion !== BUNDLE_VERSION) {
    throw new BundleError(`bundle ${root}: format version ${JSON.stringify(head.formatVersion)} is not supported (this build reads version ${BUNDLE_VERSION})`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BundleError(`bundle ${root}: invalid ${BUNDLE_FILES.manifest}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const manifest = parsed.data;
  const fail = (why: string): never => {
    throw new BundleError(`bundle ${root}: ${why}`);
  };

  const weights = await readKey(store, BUNDLE_FILES.weights, `bundle ${root}`);
  if (weights.length !== manifest.weights.bytes || sha256Hex(weights) !== manifest.weights.sha256) {
    fail(`${BUNDLE_FILES.weights} does not match its checksum in ${BUNDLE_FILES.manifest} (damaged or replaced)`);
  }
  const array = <T extends TypedArray>(name: string, dtype: ArrayRef['dtype'], length: number): T => {
    const ref = manifest.weights.arrays.find((a) => a.name === name);
    if (!ref) return fail(`${BUNDLE_FILES.weights} has no array '${name}'`);
    if (ref.dtype !== dtype || ref.length !== length) return fail(`array '${name}' is ${ref.dtype}[${ref.length}], expected ${dtype}[${length}]`);
    const Ctor = dtype === 'float32' ? Float32Array : dtype === 'float64' ? Float64Array : Int32Array;
    const bytes = length * Ctor.BYTES_PER_ELEMENT;
    if (ref.offset + bytes > weights.length) return fail(`array '${name}' runs past the end of ${BUNDLE_FILES.weights}`);
    // A copy: aligned, and independent of the file buffer.
    const copy = new ArrayBuffer(bytes);
    new Uint8Array(copy).set(weights.subarray(ref.offset, ref.offset + bytes));
    return new Ctor(copy) as T;
  };

  const c = manifest.classifier;
  if (manifest.labels.length !== c.classes) fail(`${manifest.labels.length} labels for ${c.classes} classes`);
  if (manifest.featurizer.spec.id !== manifest.featurizer.id) fail('featurizer id and spec id differ');
  let pca: BundleContents['pca'];
  if (manifest.pca) {
    const text = (await readKey(store, BUNDLE_FILES.pca, `bundle ${root}`)).toString('utf8');
    if (sha256Hex(text) !== manifest.pca.sha256) fail(`${BUNDLE_FILES.pca} does not match its checksum in ${BUNDLE_FILES.manifest}`);
    let model: PcaModel;
    try {
      model = parsePcaModel(text, `bundle ${root}: ${BUNDLE_FILES.pca}`);
    } catch (err) {
      return fail((err as Error).message);
    }
    if (model.featurizer.sha256 !== manifest.featurizer.sha256) fail('its PCA model was fitted on features of another featurizer');
    if (model.k !== c.dim) fail(`its PCA keeps ${model.k} components but the classifier takes ${c.dim} inputs`);
    pca = { model, text };
  } else if (c.dim !== manifest.featurizer.spec.feature.dim) {
    fail(`the classifier takes ${c.dim} inputs but the featurizer gives ${manifest.featurizer.spec.feature.dim}`);
  }
  const standardizer: Standardizer = {
    mode: manifest.standardizer.mode,
    mean: array<Float64Array>('standardizer.mean', 'float64', c.dim),
    scale: array<Float64Array>('standardizer.scale', 'float64', c.dim),
  };
  let classifier: Classifier;
  if (c.kind === 'logreg') {
    classifier = {
      kind: 'logreg',
      classes: c.classes,
      dim: c.dim,
      l2: c.l2,
      weights: array<Float32Array>('logreg.weights', 'float32', c.classes * c.dim),
      bias: array<Float32Array>('logreg.bias', 'float32', c.classes),
    };
  } else {
    const labels = array<Int32Array>('knn.labels', 'int32', c.rows);
    if (labels.some((l) => l < 0 || l >= c.classes)) fail('k-NN row labels outside the label list');
    classifier = { kind: 'knn', classes: c.classes, dim: c.dim, k: c.k, rows: array<Float32Array>('knn.rows', 'float32', c.rows * c.dim), labels };
  }
  let novelty: NoveltyModel | undefined;
  if (manifest.novelty) {
    if (manifest.novelty.inputDim !== manifest.featurizer.spec.feature.dim) fail(`its novelty data take ${manifest.novelty.inputDim} features but the featurizer gives ${manifest.featurizer.spec.feature.dim}`);
    try {
      novelty = noveltyFromBundle(manifest.novelty, c.classes, array);
    } catch (err) {
      if (err instanceof BundleError) throw err;
      fail((err as Error).message);
    }
  }
  return {
    dir: root,
    manifest,
    manifestSha256,
    novelty,
    featurizer: manifest.featurizer,
    pca,
    pcaSha256: manifest.pca?.sha256,
    standardizer,
    classifier,
    labels: manifest.labels,
    training: manifest.training,
  };
}
