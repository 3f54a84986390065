// `fruits evaluate`: a bundle measured on a labelled dataset or an image folder (featurized first).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
// Value imports here are light: the commands load the classifier, the model and the pools when
// they run, so that `fruits --help` and the other commands do not pay for them.
import type { LabelledRows } from '../classify/dataset.js';
import type { Evaluation } from '../classify/evaluate.js';
import { DEFAULT_MAX_PIXELS } from '../decode/limits.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { percentText as pct } from '../report/format.js';
import { flag, parseFlag } from '../util/flags.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { FEATURIZE_DEFAULTS, addPoolOptions, featurizerFileOption, photoFeaturizeOptionsOf } from './flag-groups.js';

/** Mistakes shown (with thumbnails) in the evaluation report by default. */
const DEFAULT_CARDS = 60;

function printEvaluation(e: Evaluation, reportFile: string | undefined, rejects: number): void {
  const out: string[] = [];
  out.push(`evaluated ${e.rows} rows of ${e.labelsEvaluated} classes: ${e.bundle.dir} (${e.bundle.classifier}, ${e.bundle.classes} classes) on ${e.dataset}`);
  out.push(`trained on ${e.bundle.trainedOn}${e.bundle.trainedOnVersion ? ` (dataset version ${e.bundle.trainedOnVersion})` : ''}${e.datasetVersion ? `; evaluated on dataset version ${e.datasetVersion}` : ''}`);
  if (rejects) out.push(`${rejects} images could not be read and were skipped (see the dataset's _rejects.csv)`);
  for (const x of e.excluded) out.push(`excluded: ${x.label} (${x.rows} rows): not a class of the bundle`);
  out.push(`top-1 ${pct(e.accuracy.top1)}   top-5 ${pct(e.accuracy.top5)}   log-loss ${e.accuracy.loss.toFixed(4)}   misclassified ${e.mistakes.length}`);
  const weak = e.perClass.filter((c) => c.support > 0 && (c.recall ?? 1) < 1).sort((a, b) => (a.recall ?? 0) - (b.recall ?? 0)).slice(0, 8);
  if (weak.length) {
    out.push('lowest recall:');
    const w = Math.max(...weak.map((c) => c.label.length));
    for (const c of weak) out.push(`  ${c.label.padEnd(w)}  recall ${pct(c.recall ?? 0).padStart(8)}  precision ${c.precision === null ? '–' : pct(c.precision).padStart(8)}  (${c.correct}/${c.support})`);
  }
  if (e.pairs.length) {
    out.push('most confused (actual → predicted):');
    for (const p of e.pairs.slice(0, 8)) out.push(`  ${p.actual} → ${p.predicted}: ${p.count} (${pct(p.share)} of ${p.actual})`);
  }
  if (e.novelty) {
    const n = e.novelty;
    out.push(`unknown (novelty > ${n.threshold.toFixed(2)}): ${n.known.unknown} of ${n.known.rows} photos of known classes (${pct(n.known.rate)})${n.excluded ? `, ${n.excluded.unknown} of ${n.excluded.rows} photos of excluded labels (${pct(n.excluded.rate)})` : ''}`);
  } else {
    out.push('unknown rate: n/a (the bundle has no novelty data, or the rows are PCA-reduced)');
  }
  if (e.mistakes.length) {
    out.push('most confident mistakes:');
    for (const m of e.mistakes.slice(0, 5)) out.push(`  ${m.path}: ${m.actual} → ${m.predicted} (${pct(m.score)})`);
  }
  if (reportFile) out.push(`report: ${reportFile}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerEvaluate(program: Command, log: () => Logger): void {
  const cmd = program
    .command('evaluate')
    .description('measure a bundle on a labelled dataset or image folder: accuracy, per-class precision/recall, confusions, mistakes (terminal + HTML report)')
    .argument('<bundle>', 'a bundle folder or s3:// prefix (fruits train)')
    .argument('<data>', 'a features / reduced dataset or fruits run folder, or a folder of <label>/<image> files (featurized first)')
    .option('--report <file.html>', 'where to write the HTML report (default evaluation.html)')
    .option('--no-report', 'no HTML report')
    .option('--thumbnails <n>', `misclassified examples shown with thumbnails in the report (default ${DEFAULT_CARDS})`)
    .option('--features-out <dir>', 'image folder: keep the featurized dataset here (and resume it on a rerun)')
    .addOption(featurizerFileOption('image folder'))
    .option('--batch-size <n>', `image folder: images per inference call (default ${FEATURIZE_DEFAULTS.batchSize})`)
    .option('--max-pixels <n>', `image folder: reject images with more pixels than this (default ${DEFAULT_MAX_PIXELS})`)
    .option('--json', 'print the evaluation as JSON')
    .option('--quiet', 'no progress display');
  addPoolOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ fruits evaluate out/bundle out/test-features
  $ fruits evaluate out/bundle ../shared/data/fruits360-mini/Test --report out/eval.html
  $ fruits evaluate out/bundle out/test-features --json --no-report`,
  );
  cmd.action(async (bundleDir: string, dataArg: string, o: Record<string, unknown>) => {
    const thumbs = parseFlag(flag.nonNegativeInt, o.thumbnails ?? String(DEFAULT_CARDS), '--thumbnails');
    const [{ readBundle }, { datasetsAt, loadDataset, readFeatureSpace }, { BundleMismatchError, checkFeatureSpace }, { evaluateBundle }] = await Promise.all([
      import('../classify/bundle.js'),
      import('../classify/dataset.js'),
      import('../classify/inputs.js'),
      import('../classify/evaluate.js'),
    ]);
    const bundle = await readBundle(bundleDir);
    const logger = log();
    const choice = await datasetsAt(dataArg).catch((err) => {
      // A plain folder of images has no manifest: anything else is a real error.
      if (err instanceof UserError) throw err;
      return undefined;
    });
    let data: LabelledRows;
    let rejects = 0;
    if (choice) {
      // A run offers both: the reduced rows when they match the bundle's PCA, else the features.
      let location = choice.features ?? choice.reduced!;
      if (choice.reduced && bundle.pca) {
        try {
          checkFeatureSpace(bundle, await readFeatureSpace(choice.reduced), choice.reduced);
          location = choice.reduced;
        } catch (err) {
          if (!(err instanceof BundleMismatchError) || !choice.features) throw err;
        }
      }
      // Refused from the manifest, before reading any row.
      checkFeatureSpace(bundle, await readFeatureSpace(location), location);
      data = await loadDataset(location);
    } else {
      if (!existsSync(dataArg)) throw new UserError(`${dataArg}: no such dataset or image folder`);
      const { featurizePhotos } = await import('../classify/featurize-photos.js');
      ({ data, rejects } = await featurizePhotos(bundle, dataArg, photoFeaturizeOptionsOf(o), logger));
    }
    const evaluation = await evaluateBundle(bundle, data);
    let reportFile: string | undefined;
    if (o.report !== false) {
      reportFile = path.resolve(typeof o.report === 'string' ? o.report : 'evaluation.html');
      // Loaded only when a report is written: the chart compiler is the CLI's heaviest import.
      const [{ renderEvaluationHtml }, { thumbnailsFor }] = await Promise.all([import('../classify/report.js'), import('../classify/thumbnails.js')]);
      const thumbnails = await thumbnailsFor(data.imageRoot, evaluation.mistakes.map((m) => m.path), thumbs);
      await writeFileAtomic(reportFile, renderEvaluationHtml(evaluation, thumbnails, { maxCards: thumbs }));
    }
    if (o.json) process.stdout.write(`${JSON.stringify({ ...evaluation, rejects, report: reportFile ?? null })}\n`);
    else printEvaluation(evaluation, reportFile, rejects);
  });
}
