// The manifest of a features dataset (`_manifest.json`): what was read, with which model and
// preprocessing, which partitions exist, counts and timings. Written as 'running' when a run
// starts (so a rerun can check it is the same job) and 'complete' at the end, before _SUCCESS.
import { z } from 'zod';
import { modelSpecSchema } from '../model/spec.js';
import type { Store } from '../storage/store.js';
import { UserError } from '../util/errors.js';
import { FEATURES_FORMAT, MANIFEST, indexChunkSchema, pendingSchema, readJson, versionSchema } from './formats.js';


const partitionEntry = z.object({
  index: z.number().int().nonnegative(),
  file: z.string(),
  rows: z.number().int().nonnegative(),
  rejects: z.number().int().nonnegative(),
  fingerprint: z.string(),
  bytes: z.number().int().nonnegative(),
});

/** What must be equal for a rerun to resume instead of starting over. */
export const jobConfigSchema = z.object({
  input: z.string(),
  partitionSize: z.number().int().positive(),
  limit: z.number().int().positive().nullable(),
  maxPixels: z.number().int().positive(),
  model: z.object({ id: z.string(), sha256: z.string(), spec: modelSpecSchema }),
  preprocessing: z.record(z.string(), z.union([z.string(), z.number()])),
});
export type JobConfig = z.infer<typeof jobConfigSchema>;

export const featuresManifestSchema = z.object({
  format: z.literal(FEATURES_FORMAT),
  formatVersion: z.literal(1),
  // 'committing': an update is committed (this manifest) and its parts are being moved into place.
  status: z.enum(['running', 'committing', 'complete', 'too_many_rejects']),
  software: z.object({ name: z.string(), version: z.string() }),
  createdAt: z.string(),
  updatedAt: z.string(),
  output: z.string(),
  config: jobConfigSchema,
  featureDim: z.number().int().positive(),
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  counts: z
    .object({
      listed: z.number().int(),
      rows: z.number().int(),
      rejects: z.number().int(),
      labels: z.number().int(),
      partitions: z.number().int(),
    })
    .optional(),
  rowsPerLabel: z.record(z.string(), z.number().int()).optional(),
  partitions: z.array(partitionEntry).optional(),
  timings: z
    .object({
      seconds: z.number(),
      imagesPerSecond: z.number(),
      resumedPartitions: z.number().int(),
      taskSeconds: z.object({ read: z.number(), decode: z.number(), infer: z.number(), write: z.number() }),
    })
    .optional(),
  /** The current version (absent while a first run is unfinished) and every version so far. */
  version: z.number().int().positive().optional(),
  versions: z.array(versionSchema).optional(),
  /** The index of images: chunk files under _index/, in key order. */
  index: z.array(indexChunkSchema).optional(),
  /** Set while a committed update is rolled forward. */
  pending: pendingSchema.optional(),
});
export type FeaturesManifest = z.infer<typeof featuresManifestSchema>;

export async function readFeaturesManifest(store: Store): Promise<FeaturesManifest | undefined> {
  return readJson(store, MANIFEST, featuresManifestSchema).catch((err: Error) => {
    throw new UserError(err.message.replace(/not the file fruits wrote/, 'not a fruits features manifest'));
  });
}

/** Names the first setting that differs, for the "use --overwrite" message. */
export function configDifference(a: JobConfig, b: JobConfig): string | undefined {
  if (a.input !== b.input) return `input ${a.input} vs ${b.input}`;
  const size = (c: JobConfig) => `${c.model.spec.input.width}×${c.model.spec.input.height}`;
  if (a.model.sha256 === b.model.sha256 && size(a) !== size(b)) return `input size ${size(a)} vs ${size(b)}`;
  if (a.model.sha256 !== b.model.sha256 || a.model.id !== b.model.id) return `model ${a.model.id} (${a.model.sha256.slice(0, 12)}…) vs ${b.model.id} (${b.model.sha256.slice(0, 12)}…)`;
  if (a.partitionSize !== b.partitionSize) return `partition size ${a.partitionSize} vs ${b.partitionSize}`;
  if (a.limit !== b.limit) return `limit ${a.limit ?? 'none'} vs ${b.limit ?? 'none'}`;
  if (a.maxPixels !== b.maxPixels) return `pixel limit ${a.maxPixels} vs ${b.maxPixels}`;
  if (JSON.stringify(a.preprocessing) !== JSON.stringify(b.preprocessing)) return 'preprocessing';
  return undefined;
}
