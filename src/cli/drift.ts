// `fruits drift <reference> <batch>`: is a batch of photos still like what the model was trained
// on? Verdict ok (exit 0) or drift (exit 4), for cron and CI; --json; an HTML report.
import path from 'node:path';
import type { Command } from 'commander';
import type { DriftResult } from '../drift/drift.js';
import type { Logger } from '../util/logger.js';
import { percentText } from '../report/format.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { FEATURIZE_DEFAULTS, addPoolOptions, featurizerFileOption, photoFeaturizeOptionsOf } from './flag-groups.js';

/** Exit code of a drift verdict. */
export const DRIFT_EXIT = 4;

const pct = (v: number): string => percentText(v, 1);

function printDrift(r: DriftResult, report: string | undefined): void {
  const out = [
    `${r.verdict === 'ok' ? 'ok' : 'DRIFT'}: ${r.batch.rows} photos of ${r.batch.location} against ${r.reference.kind} ${r.reference.location}`,
    ...r.reasons.map((x) => `  - ${x}`),
    `unknown: ${r.unknown.rows} (${pct(r.unknown.share)}; limit ${pct(r.unknown.limit)})`,
    `domain AUC (same predicted class, ${r.domainAuc.classes} classes compared): ${r.domainAuc.value === null ? 'n/a (too few rows per class)' : r.domainAuc.value.toFixed(3)} (limit ${r.domainAuc.limit})`,
    `variance the reference components capture: batch ${pct(r.varianceKept.batch)}, reference ${pct(r.varianceKept.reference)} (ratio ${r.varianceKept.ratio.toFixed(2)})`,
  ];
  if (r.accuracy) out.push(`accuracy on ${r.accuracy.rows} labelled photos: ${pct(r.accuracy.top1)}`);
  const top = r.classes.filter((c) => c.auc !== null).slice(0, 8);
  if (top.length) {
    out.push('classes most unlike the reference (domain AUC, shift in within-class sd, unknown share, rows):');
    const w = Math.max(...top.map((c) => c.label.length));
    for (const c of top) out.push(`  ${c.label.padEnd(w)}  AUC ${c.auc!.toFixed(2)}  shift ${c.shift!.toFixed(2)}  unknown ${pct(c.unknownShare).padStart(7)}  ${c.batchRows} vs ${c.referenceRows}`);
  }
  if (report) out.push(`report: ${report}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerDrift(program: Command, log: () => Logger): void {
  const cmd = program
    .command('drift')
    .description('compare a batch of photos with what a bundle (or a features dataset) was trained on, per class: unknown share, domain classifier AUC, PCA shift, variance captured; exit 4 on drift')
    .argument('<reference>', 'a bundle (fruits train, with novelty data) or a features dataset')
    .argument('<batch>', 'a features dataset (fruits featurize, or serve --log-features), or a folder / s3:// prefix of <label>/<image> photos (featurized first)')
    .option('--json', 'print the result as JSON')
    .option('--report <file.html>', 'where to write the HTML report (default drift.html)')
    .option('--no-report', 'no HTML report')
    .option('--features-out <dir>', "photos: keep the batch's features dataset here (and resume it on a rerun)")
    .addOption(featurizerFileOption('photos', 'reference'))
    .option('--batch-size <n>', `photos: images per inference call (default ${FEATURIZE_DEFAULTS.batchSize})`)
    .option('--quiet', 'no progress display');
  addPoolOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Exit codes: 0 ok, 4 drift, 1 error, 2 bad usage.

Examples:
  $ fruits drift out/bundle out/new-features
  $ fruits drift out/bundle s3://fruits-incoming/2026-12/ --json --no-report
  $ fruits drift out/train-features out/new-features --report out/drift.html
  $ fruits drift out/bundle s3://bucket/serve-log/     # what fruits serve --log-features logged`,
  );
  cmd.action(async (referenceArg: string, batchArg: string, o: Record<string, unknown>) => {
    const [{ loadDriftReference }, { loadDriftBatch }, { measureDrift }] = await Promise.all([import('../drift/reference.js'), import('../drift/batch.js'), import('../drift/drift.js')]);
    const logger = log();
    const { reference, featurizer } = await loadDriftReference(referenceArg, (m) => logger.info(m));
    const batch = await loadDriftBatch(batchArg, reference, featurizer, async (bundle, input) => {
      const { featurizePhotos } = await import('../classify/featurize-photos.js'); // the model and the worker pool: only for photos
      return (await featurizePhotos(bundle, input, photoFeaturizeOptionsOf(o), logger)).data;
    });
    const result = await measureDrift(reference, { location: batch.location, n: batch.n, dim: batch.space.dim, features: batch.rows, labels: batch.labels });
    let reportFile: string | undefined;
    if (o.report !== false) {
      reportFile = path.resolve(typeof o.report === 'string' ? o.report : 'drift.html');
      const { renderDriftHtml } = await import('../drift/report.js');
      await writeFileAtomic(reportFile, renderDriftHtml(result));
    }
    if (o.json) process.stdout.write(`${JSON.stringify({ ...result, report: reportFile ?? null })}\n`);
    else printDrift(result, reportFile);
    if (result.verdict === 'drift') process.exitCode = DRIFT_EXIT;
  });
}
