// What `fruits inspect` shows of a features or reduced dataset, read from its parts, manifest and
// _rejects.csv: enough to check a dataset without Spark or pandas.
import { z } from 'zod';
import { openStore } from '../storage/open.js';
import type { Store } from '../storage/store.js';
import { parseCsv } from './csv.js';
import { noDatasetError } from './dataset.js';
import { MANIFEST, REJECTS, SUCCESS, readJson, versionSchema, type DatasetVersion } from './formats.js';
import { listPartFiles, readPart, readStringColumn } from './read-dataset.js';

// What inspect shows of a manifest (features or reduced); the rest is not needed here.
const inspectManifestSchema = z
  .object({
    format: z.string().optional(),
    config: z.object({ model: z.object({ id: z.string(), sha256: z.string() }).optional() }).passthrough().optional(),
    columns: z.array(z.object({ name: z.string(), type: z.string() })).optional(),
    version: z.number().int().optional(),
    versions: z.array(versionSchema).optional(),
    /** Reduced datasets: the features version they were projected from. */
    featuresVersion: z.number().int().optional(),
  })
  .passthrough();

export interface InspectReport {
  location: string;
  complete: boolean;
  format?: string;
  model?: { id: string; sha256: string };
  parts: number;
  rows: number;
  schema: { name: string; type: string }[];
  featureDim: number;
  rowsPerLabel: Record<string, number>;
  rejects: { total: number; byReason: Record<string, number> };
  firstRows: { path: string; label: string; features: number[] }[];
  /** Features datasets: the current version and the history; reduced: the features version. */
  version?: number;
  versions?: DatasetVersion[];
  featuresVersion?: number;
}

export async function inspectDataset(location: string, head: number): Promise<InspectReport> {
  const store = openStore(location);
  const parts = await listPartFiles(store);
  const manifest = await readJson(store, MANIFEST, inspectManifestSchema);
  if (parts.length === 0 && !manifest) throw await noDatasetError(store, 'no dataset here (no part-*.parquet files)');
  const rowsPerLabel: Record<string, number> = {};
  let rows = 0;
  for (const key of parts) {
    for (const l of await readStringColumn(store, key, 'label')) {
      rowsPerLabel[l] = (rowsPerLabel[l] ?? 0) + 1;
      rows++;
    }
  }
  const { featureDim, firstRows } = await readFirstRows(store, parts, head);
  return {
    location: store.root,
    complete: await store.exists(SUCCESS),
    format: manifest?.format,
    model: manifest?.config?.model ? { id: manifest.config.model.id, sha256: manifest.config.model.sha256 } : undefined,
    parts: parts.length,
    rows,
    schema: manifest?.columns ?? [],
    featureDim,
    rowsPerLabel: Object.fromEntries(Object.entries(rowsPerLabel).sort(([a], [b]) => (a < b ? -1 : 1))),
    rejects: await countRejects(store),
    firstRows,
    version: manifest?.version,
    versions: manifest?.versions,
    featuresVersion: manifest?.featuresVersion,
  };
}

/**
 * The first rows of the dataset, across parts: a partition whose images were all rejected is an
 * empty part, and a part may hold fewer rows than `head`.
 */
async function readFirstRows(store: Store, parts: string[], head: number): Promise<Pick<InspectReport, 'featureDim' | 'firstRows'>> {
  const firstRows: InspectReport['firstRows'] = [];
  let featureDim = 0;
  for (const key of parts) {
    if (featureDim > 0 && firstRows.length >= head) break;
    const part = await readPart(store, key);
    if (part.path.length > 0) featureDim ||= part.dim;
    part.path.slice(0, head - firstRows.length).forEach((p, i) => {
      firstRows.push({ path: p, label: part.label[i], features: Array.from(part.features.subarray(i * part.dim, (i + 1) * part.dim)) });
    });
  }
  return { featureDim, firstRows };
}

/** The rejects of _rejects.csv (path,label,reason) by kind: the reason's text before its first ':'. */
async function countRejects(store: Store): Promise<InspectReport['rejects']> {
  const byReason: Record<string, number> = {};
  let total = 0;
  if (await store.exists(REJECTS)) {
    for (const record of parseCsv((await store.read(REJECTS)).toString('utf8')).slice(1)) {
      const kind = record[record.length - 1].split(':')[0];
      byReason[kind] = (byReason[kind] ?? 0) + 1;
      total++;
    }
  }
  return { total, byReason };
}
