// `fruits train`: a classifier bundle from a features (or reduced) dataset.
import type { Command } from 'commander';
import { z } from 'zod';
// Value imports here are light: the commands load the classifier, the model and the pools when
// they run, so that `fruits --help` and the other commands do not pay for them.
import { CLASSIFIER_KINDS, TRAIN_DEFAULTS } from '../classify/train-options.js';
import type { ClassifierKind } from '../classify/classifier.js';
import type { Logger } from '../util/logger.js';
import { createProgress } from '../util/progress.js';
import { percentText as pct } from '../report/format.js';
import { flag, optionalFlag, parseFlag } from '../util/flags.js';

const l2Flag = z.union([
  z.literal('auto'),
  z
    .string()
    .trim()
    .regex(/^(\d+(\.\d*)?|\.\d+)(e-?\d+)?$/i, 'a non-negative number or auto')
    .transform(Number),
]);
const holdoutFlag = z.string().trim().regex(/^(0(\.\d+)?|\.\d+)$/, 'a number from 0 to below 1').transform(Number).pipe(z.number().min(0).lt(1));
const classifierFlag = z.enum(CLASSIFIER_KINDS as [ClassifierKind, ...ClassifierKind[]]);

export function registerTrain(program: Command, log: () => Logger): void {
  program
    .command('train')
    .description('train a fruit classifier on a features (or reduced) dataset and save it as a bundle folder')
    .argument('<dataset>', 'a features dataset (fruits featurize), a reduced dataset (fruits transform) or a fruits run folder')
    .argument('<bundle-out>', 'bundle folder or s3:// prefix to write (bundle.json, weights.bin, pca.json)')
    .option('--classifier <logreg|knn>', `multinomial logistic regression (L2, L-BFGS) or k-nearest neighbours (cosine) (default ${TRAIN_DEFAULTS.classifier})`)
    .option('--pca <model.json>', 'reduce raw features with this PCA model first (from fruits fit / fruits run)')
    .option('--pca-k <n>', 'fit a PCA with n components on the training features first and keep it in the bundle')
    .option('--l2 <lambda|auto>', `L2 penalty λ of the logistic regression; auto picks it from ${TRAIN_DEFAULTS.l2Grid.join(', ')} on the held-out slice (default ${TRAIN_DEFAULTS.l2})`)
    .option('--k <n>', `neighbours for k-NN (default ${TRAIN_DEFAULTS.knnK})`)
    .option('--holdout <ratio>', `share of each class (its last images in path order) held out to measure the fit, then refitted on all; 0 for none (default ${TRAIN_DEFAULTS.holdout})`)
    .option('--max-iterations <n>', `L-BFGS iterations at most (default ${TRAIN_DEFAULTS.maxIterations})`)
    .option('--overwrite', 'replace an existing bundle')
    .option('--json', 'print the training summary as JSON')
    .option('--quiet', 'no progress display')
    .addHelpText(
      'after',
      `
Examples:
  $ fruits train out/train-features out/bundle
  $ fruits train out/train-features out/bundle --pca-k 200 --l2 auto
  $ fruits train out/run out/bundle            # a fruits run: its reduced dataset and PCA
  $ fruits train out/train-features out/knn --classifier knn --k 5`,
    )
    .action(async (dataset: string, bundleOut: string, o: Record<string, unknown>) => {
      const classifier = parseFlag(classifierFlag, o.classifier ?? TRAIN_DEFAULTS.classifier, '--classifier');
      const l2 = parseFlag(l2Flag, o.l2 ?? String(TRAIN_DEFAULTS.l2), '--l2');
      const knnK = parseFlag(flag.positiveInt, o.k ?? String(TRAIN_DEFAULTS.knnK), '--k');
      const holdout = parseFlag(holdoutFlag, o.holdout ?? String(TRAIN_DEFAULTS.holdout), '--holdout');
      const maxIterations = parseFlag(flag.positiveInt, o.maxIterations ?? String(TRAIN_DEFAULTS.maxIterations), '--max-iterations');
      const pcaK = optionalFlag(flag.positiveInt, o.pcaK, '--pca-k');
      const [{ openStore }, { trainBundle }, { checkBundleLocation, writeBundle }] = await Promise.all([import('../storage/open.js'), import('../classify/train.js'), import('../classify/bundle.js')]);
      const out = openStore(bundleOut);
      await checkBundleLocation(out, Boolean(o.overwrite)); // before training, not after
      const logger = log();
      const contents = await trainBundle({
        dataset,
        classifier,
        pcaFile: o.pca as string | undefined,
        pcaK,
        l2,
        knnK,
        holdout,
        maxIterations,
        tolerance: TRAIN_DEFAULTS.tolerance,
        log: logger,
        progress: createProgress({ unit: 'iterations', quiet: Boolean(o.quiet) }),
      });
      await writeBundle(bundleOut, contents, { overwrite: Boolean(o.overwrite) });
      const t = contents.training;
      const summary = { bundle: out.root, classifier, labels: contents.labels.length, ...t };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      const lines = [
        `trained ${classifier === 'logreg' ? `logistic regression (λ = ${t.l2?.chosen})` : `k-NN (k = ${t.knnK})`} on ${t.rows} rows, ${t.classes} classes, ${t.inputDim} inputs${t.pca ? ` (PCA ${t.featureDim} → ${t.pca.k}, ${pct(t.pca.varianceKept)} of the variance)` : ''} → ${summary.bundle}`,
        `training rows: top-1 ${pct(t.train.top1)}, top-5 ${pct(t.train.top5)}, log-loss ${(t.train.loss ?? 0).toFixed(4)}`,
      ];
      if (t.heldOut) lines.push(`held-out slice (${t.heldOut.rows} rows, last ${Math.round(t.heldOut.fraction * 100)} % of each class): top-1 ${pct(t.heldOut.top1)}, top-5 ${pct(t.heldOut.top5)}`);
      if (t.l2?.candidates) lines.push(`λ grid (held-out top-1): ${t.l2.candidates.map((c) => `${c.l2}: ${pct(c.heldOutTop1)}`).join(', ')}`);
      lines.push(`${t.seconds.total.toFixed(1)} s (fit ${t.seconds.fit.toFixed(1)} s${t.pca?.source === 'fitted' ? `, PCA ${t.seconds.pca.toFixed(1)} s` : ''})`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
