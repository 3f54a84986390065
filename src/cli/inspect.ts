import type { Command } from 'commander';
import { z } from 'zod';
import type { DatasetVersion } from '../sink/formats.js';
import { flag, parseFlag } from './options.js';

// What inspect shows of a manifest (features or reduced); the rest is not needed here.
const inspectManifestSchema = z
  .object({
    format: z.string().optional(),
    config: z.object({ model: z.object({ id: z.string(), sha256: z.string() }).optional() }).passthrough().optional(),
    columns: z.array(z.object({ name: z.string(), type: z.string() })).optional(),
    version: z.number().int().optional(),
    versions: z.array(z.unknown()).optional(),
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
  const [{ openStore }, { MANIFEST, REJECTS, SUCCESS, readJson, versionSchema }, { noDatasetError }, { listPartFiles, readPart, readStringColumn }] = await Promise.all([
    import('../storage/open.js'),
    import('../sink/formats.js'),
    import('../sink/dataset.js'),
    import('../sink/read-dataset.js'),
  ]);
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
  // The first rows of the dataset, across parts: a partition whose images were all rejected is
  // an empty part, and a part may hold fewer rows than --head.
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
  const byReason: Record<string, number> = {};
  let total = 0;
  if (await store.exists(REJECTS)) {
    const lines = (await store.read(REJECTS)).toString('utf8').trim().split('\n').slice(1).filter(Boolean);
    for (const line of lines) {
      // The reason is the last field, quoted when it holds a comma or a quote (a path often
      // does); its kind is the text before the first ':'.
      const last = /(?:^|,)(?:"((?:[^"]|"")*)"|([^,"]*))$/.exec(line);
      const reason = last ? (last[1] !== undefined ? last[1].replace(/""/g, '"') : last[2]) : line;
      const kind = reason.split(':')[0];
      byReason[kind] = (byReason[kind] ?? 0) + 1;
      total++;
    }
  }
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
    rejects: { total, byReason },
    firstRows,
    version: manifest?.version,
    versions: manifest?.versions ? z.array(versionSchema).parse(manifest.versions) : undefined,
    featuresVersion: manifest?.featuresVersion,
  };
}

/** The version history, newest last: one line per version. */
export function versionLines(versions: readonly DatasetVersion[], last = 20): string[] {
  const shown = versions.slice(-last);
  const out = [`versions (${versions.length}${versions.length > shown.length ? `, last ${shown.length} shown` : ''}):`];
  for (const v of shown) {
    out.push(
      `  v${v.version}  ${v.time.replace('T', ' ').slice(0, 19)}  ${v.kind.padEnd(7)}  +${v.images.added} ~${v.images.changed} -${v.images.removed} images  ` +
        `parts +${v.parts.added.length} -${v.parts.removed.length}  ${v.rows} rows  ${v.featurizer.id}`,
    );
  }
  return out;
}

function printInspect(r: InspectReport, head: number): void {
  const out: string[] = [];
  out.push(`${r.location}  ${r.complete ? 'complete (_SUCCESS)' : 'INCOMPLETE (no _SUCCESS)'}${r.format ? `  ${r.format}` : ''}`);
  if (r.model) out.push(`model: ${r.model.id} (sha256 ${r.model.sha256.slice(0, 12)}…)`);
  if (r.version !== undefined) out.push(`version: ${r.version}`);
  if (r.featuresVersion !== undefined) out.push(`projected from features version ${r.featuresVersion}`);
  out.push(`parts: ${r.parts}   rows: ${r.rows}   labels: ${Object.keys(r.rowsPerLabel).length}   feature dim: ${r.featureDim}`);
  out.push('schema:');
  for (const c of r.schema) out.push(`  ${c.name.padEnd(10)} ${c.type}`);
  out.push('rows per label:');
  const labels = Object.entries(r.rowsPerLabel);
  const width = Math.max(...labels.map(([l]) => l.length), 5);
  for (const [l, c] of labels) out.push(`  ${l.padEnd(width)} ${String(c).padStart(7)}`);
  out.push(`rejects: ${r.rejects.total}${r.rejects.total ? ` (${Object.entries(r.rejects.byReason).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}`);
  if (r.versions) out.push(...versionLines(r.versions));
  out.push(`first ${Math.min(head, r.firstRows.length)} rows:`);
  for (const row of r.firstRows) {
    const preview = row.features.slice(0, 6).map((v) => v.toFixed(4)).join(', ');
    out.push(`  ${row.label} | ${row.path} | [${preview}${row.features.length > 6 ? ', …' : ''}] (${row.features.length})`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show a dataset: schema, row count, rows per label, rejects, version history, first rows')
    .argument('<dataset>', 'a features or reduced dataset folder / s3:// prefix')
    .option('--head <n>', 'how many first rows to show', '5')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  $ fruits inspect out/features\n  $ fruits inspect s3://my-bucket/results/features --json')
    .action(async (location: string, o: { head: string; json?: boolean }) => {
      const head = parseFlag(flag.nonNegativeInt, o.head, '--head');
      const report = await inspectDataset(location, head);
      if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else printInspect(report, head);
    });
}
