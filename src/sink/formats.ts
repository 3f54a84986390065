// The dataset formats in one place: format ids, the bookkeeping files beside the parts, and the
// zod schemas of every file the features and reduced datasets write and later trust. Files read
// back go through readJson(store, key, schema): a damaged or foreign file is one clear line.
import { z } from 'zod';
import type { Store } from '../storage/store.js';
import { UserError } from '../util/errors.js';
import { pcaSummarySchema } from '../pca/model.js';

export const FEATURES_FORMAT = 'fruits.features';
export const REDUCED_FORMAT = 'fruits.reduced';
export const RUN_FORMAT = 'fruits.run';

// Names starting with '_' are ignored by Spark's, pyarrow's and DuckDB-through-hive readers, so a
// reader pointed at a dataset folder sees only its part files.
export const SUCCESS = '_SUCCESS';
export const MANIFEST = '_manifest.json';
export const REJECTS = '_rejects.csv';
export const PARTS_DIR = '_parts';
export const PLAN_DIR = '_plan';
/** The dataset's index of images (sorted chunk files), readable without opening a part. */
export const INDEX_DIR = '_index';
/** Parts and plans of an update that is not committed yet. */
export const STAGING_DIR = '_staging';
/** Held by the run that writes the dataset. */
export const LOCK = '_lock.json';
export const RUN_MANIFEST = '_run.json';

/** A part file of a dataset: `part-00000.parquet` (first version), `part-v00002-00000.parquet` (later versions). */
export const PART_FILE = /^part-(?:v\d{5,}-)?\d{5,}\.parquet$/;

export function sidecarKey(partFile: string): string {
  return `${PARTS_DIR}/${partFile.replace(/\.parquet$/, '.json')}`;
}

/** Reads and checks a JSON file; undefined when it does not exist. */
export async function readJson<S extends z.ZodTypeAny>(store: Store, key: string, schema: S): Promise<z.infer<S> | undefined> {
  if (!(await store.exists(key))) return undefined;
  const text = (await store.read(key)).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UserError(`${store.uriOf(key)}: not valid JSON`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${store.uriOf(key)}: not the file fruits wrote (${issue.path.join('.') || 'root'}: ${issue.message})`);
  }
  return r.data;
}

/** readJson for files a rerun may find damaged or from an older build: those count as missing. */
export async function readJsonOrNothing<S extends z.ZodTypeAny>(store: Store, key: string, schema: S): Promise<z.infer<S> | undefined> {
  return readJson(store, key, schema).catch(() => undefined);
}

export async function writeJson(store: Store, key: string, value: unknown): Promise<void> {
  await store.write(key, `${JSON.stringify(value, null, 2)}\n`);
}

// --- features dataset ------------------------------------------------------------------------

export const rejectSchema = z.object({ path: z.string(), label: z.string(), reason: z.string() });

/** One image of the dataset's index: key, label, size and version (mtime or ETag) as listed, its
 * sha256, and the part that holds its row, or why it was rejected. */
export const indexEntrySchema = z.object({
  k: z.string(),
  l: z.string(),
  s: z.number().int(),
  v: z.string().optional(),
  h: z.string().optional(),
  p: z.string().optional(),
  r: z.string().optional(),
});
export type IndexEntry = z.infer<typeof indexEntrySchema>;

/** The summary a featurize task writes beside its part (`_parts/<part>.json`). */
export const partSummarySchema = z.object({
  kind: z.literal('featurize'),
  index: z.number().int().nonnegative(),
  file: z.string(),
  fingerprint: z.string(),
  rows: z.number().int().nonnegative(),
  labels: z.record(z.string(), z.number().int()),
  rejects: z.array(rejectSchema),
  bytes: z.number().int().nonnegative(),
  seconds: z.object({ read: z.number(), decode: z.number(), infer: z.number(), write: z.number(), total: z.number() }),
  /** The partition's images in plan order, as index entries (without the part). */
  entries: z.array(indexEntrySchema).optional(),
});

/** The summary a compaction task writes beside its part. */
export const compactSummarySchema = z.object({
  kind: z.literal('compact'),
  file: z.string(),
  rows: z.number().int().nonnegative(),
  labels: z.record(z.string(), z.number().int()),
  fingerprint: z.string(),
  planFingerprint: z.string(),
  bytes: z.number().int().nonnegative(),
  seconds: z.number(),
});

export const imageRefSchema = z.object({ key: z.string(), label: z.string(), size: z.number().int(), version: z.string().optional() });
export const planSchema = z.object({ index: z.number().int().nonnegative(), images: z.array(imageRefSchema), fingerprint: z.string(), file: z.string().optional() });

/** A chunk of the index: entries with keys in [first, last], in byte-wise key order. */
export const indexChunkSchema = z.object({ file: z.string(), first: z.string(), last: z.string(), count: z.number().int().nonnegative() });
export type IndexChunk = z.infer<typeof indexChunkSchema>;

/** One version of a dataset, as `fruits inspect` shows it. */
export const versionSchema = z.object({
  version: z.number().int().positive(),
  time: z.string(),
  images: z.object({ added: z.number().int(), changed: z.number().int(), removed: z.number().int() }),
  parts: z.object({ added: z.array(z.string()), removed: z.array(z.string()) }),
  rows: z.number().int(),
  featurizer: z.object({ id: z.string(), sha256: z.string() }),
  /** What made it: a run, or a compaction. */
  kind: z.enum(['full', 'update', 'compact']),
});
export type DatasetVersion = z.infer<typeof versionSchema>;

/** Parts moved into place and parts removed when a committed update is rolled forward. */
export const pendingSchema = z.object({ staging: z.string(), moves: z.array(z.string()), removals: z.array(z.string()) });

export const lockSchema = z.object({
  owner: z.string(),
  host: z.string(),
  pid: z.number().int(),
  command: z.string(),
  createdAt: z.string(),
  heartbeatAt: z.string(),
});
export type LockInfo = z.infer<typeof lockSchema>;

// --- statistics, fit, reduced ----------------------------------------------------------------

export const statsSummarySchema = z.object({
  rows: z.number().int(),
  dim: z.number().int(),
  fingerprint: z.string(),
  seconds: z.number(),
  resumed: z.boolean(),
  /** Parts whose statistics this run computed (the others were kept). */
  computedParts: z.number().int().optional(),
  parts: z.number().int().optional(),
});

export const fitInfoSchema = z.object({
  kind: z.literal('fit'),
  modelFile: z.string(),
  k: z.number().int(),
  dim: z.number().int(),
  rows: z.number().int(),
  explainedVariance: z.number(),
  seconds: z.number(),
  key: z.string(),
  // Absent from _fit.json files written before they existed: the model file is parsed instead.
  modelSha256: z.string().optional(),
  summary: pcaSummarySchema.optional(),
});

export const transformSummarySchema = z.object({
  kind: z.literal('transform'),
  part: z.string(),
  rows: z.number().int(),
  k: z.number().int(),
  fingerprint: z.string(),
  pcaSha256: z.string(),
  sample: z.array(z.object({ pc1: z.number(), pc2: z.number(), label: z.string(), path: z.string() })),
  seconds: z.number(),
});

/** A reduced dataset's manifest, as its readers (train, evaluate, drift) trust it. */
export const reducedManifestSchema = z.object({
  format: z.literal(REDUCED_FORMAT),
  status: z.string(),
  features: z.string(),
  pca: z.string(),
  pcaSha256: z.string(),
  k: z.number().int().positive(),
  featurizer: z.object({ modelId: z.string(), sha256: z.string() }),
  featuresVersion: z.number().int().positive().optional(),
});

/** Where a run keeps its datasets (`_run.json`'s layout), for readers that take a run folder. */
export const runLayoutSchema = z.object({
  format: z.literal(RUN_FORMAT),
  layout: z.object({ features: z.string(), reduced: z.string(), pca: z.string() }),
});

/** What a rerun needs of a reduced manifest (the rest is for readers). */
export const reducedManifestHeadSchema = z.object({ format: z.literal(REDUCED_FORMAT), pcaSha256: z.string().optional() }).passthrough();

export const runManifestHeadSchema = z.object({ format: z.literal(RUN_FORMAT), runId: z.string().optional(), createdAt: z.string().optional(), status: z.string().optional() }).passthrough();

/** The head of any manifest: enough to tell which format a folder holds. */
export const anyManifestSchema = z.object({ format: z.string().optional() }).passthrough();
