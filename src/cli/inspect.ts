// `fruits inspect`: a dataset's schema, rows, rejects and versions, as text or JSON.
import type { Command } from 'commander';
import type { DatasetVersion } from '../sink/formats.js';
import type { InspectReport } from '../sink/inspect.js';
import { flag, parseFlag } from '../util/flags.js';

/** The version history, newest last: one line per version. */
function versionLines(versions: readonly DatasetVersion[], last = 20): string[] {
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
      // Loaded by this command only: `fruits --help` and the other commands start without it.
      const { inspectDataset } = await import('../sink/inspect.js');
      const report = await inspectDataset(location, head);
      if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else printInspect(report, head);
    });
}
