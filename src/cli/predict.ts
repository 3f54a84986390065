// `fruits predict`: photos labelled with a bundle, as a table or JSON.
import type { Command } from 'commander';
// Value imports here are light: the commands load the classifier, the model and the pools when
// they run, so that `fruits --help` and the other commands do not pay for them.
import type { PredictRow } from '../classify/predict-files.js';
import { DEFAULT_MAX_PIXELS } from '../decode/limits.js';
import type { Logger } from '../util/logger.js';
import { flag, parseFlag, threadsFlag } from '../util/flags.js';
import { FEATURIZE_DEFAULTS, featurizerFileOption, threadsOption } from './flag-groups.js';

export function registerPredict(program: Command, log: () => Logger): void {
  program
    .command('predict')
    .description('label photos with a bundle: files or folders, as a table or JSON')
    .argument('<bundle>', 'a bundle folder or s3:// prefix (fruits train)')
    .argument('<images...>', 'image files and/or folders (searched recursively)')
    .option('--top <n>', 'labels per image (default 3)')
    .addOption(featurizerFileOption())
    .addOption(threadsOption())
    .option('--batch-size <n>', `images per inference call (default ${FEATURIZE_DEFAULTS.batchSize})`)
    .option('--max-pixels <n>', `reject images with more pixels than this (default ${DEFAULT_MAX_PIXELS})`)
    .option('--json', 'print one JSON array: [{ path, predictions: [{ label, score }], novelty, unknown } | { path, error }] (novelty and unknown only for bundles with novelty data)')
    .addHelpText('after', '\nExamples:\n  $ fruits predict out/bundle photo.jpg\n  $ fruits predict out/bundle photos/ --top 5 --json')
    .action(async (bundleDir: string, args: string[], o: Record<string, unknown>) => {
      const top = parseFlag(flag.positiveInt, o.top ?? '3', '--top');
      const threads = threadsFlag(o.threads);
      const batchSize = parseFlag(flag.positiveInt, o.batchSize ?? String(FEATURIZE_DEFAULTS.batchSize), '--batch-size');
      const maxPixels = parseFlag(flag.positiveInt, o.maxPixels ?? String(DEFAULT_MAX_PIXELS), '--max-pixels');
      const [{ readBundle }, { ImageClassifier }, { imageFiles, predictFiles }] = await Promise.all([import('../classify/bundle.js'), import('../classify/image-classifier.js'), import('../classify/predict-files.js')]);
      const bundle = await readBundle(bundleDir);
      const files = await imageFiles(args);
      const logger = log();
      const classifier = await ImageClassifier.load(bundle, { model: o.model as string | undefined, threads, log: (m) => logger.info(m) });
      let rows: PredictRow[];
      try {
        rows = await predictFiles(classifier, files, { top, batchSize, maxPixels });
      } finally {
        await classifier.release();
      }
      const failed = rows.filter((r) => r.error);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
      } else {
        const width = Math.min(60, Math.max(4, ...rows.map((r) => r.path.length)));
        const labelWidth = Math.max(5, ...rows.map((r) => r.predictions?.[0]?.label.length ?? 0));
        const lines = [`${'file'.padEnd(width)}  ${'label'.padEnd(labelWidth)}  score   ${top > 1 ? 'next' : ''}`.trimEnd()];
        for (const r of rows) {
          const name = r.path.length > width ? `…${r.path.slice(-(width - 1))}` : r.path.padEnd(width);
          if (!r.predictions) {
            lines.push(`${name}  ERROR: ${r.error}`);
            continue;
          }
          const [best, ...rest] = r.predictions;
          const alternatives = rest.map((p) => `${p.label} ${(p.score * 100).toFixed(1)}%`).join(', ');
          // An unknown photo is not named: the label would only be the nearest wrong fruit.
          if (r.unknown) lines.push(`${name}  ${'UNKNOWN'.padEnd(labelWidth)}  novelty ${r.novelty?.toFixed(2)} (nearest: ${best.label} ${(best.score * 100).toFixed(1)}%)`);
          else lines.push(`${name}  ${best.label.padEnd(labelWidth)}  ${(best.score * 100).toFixed(1).padStart(5)}%  ${alternatives}`.trimEnd());
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      for (const f of failed) process.stderr.write(`fruits: warning: ${f.path}: ${f.error}\n`);
      if (failed.length) process.exitCode = 1;
    });
}
