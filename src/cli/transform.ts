// `fruits transform`: a fitted PCA applied to a features dataset (new images later).
import type { Command } from 'commander';
import { createProgress } from '../util/progress.js';
import type { Logger } from '../util/logger.js';
import { addPoolOptions, poolSize } from './flag-groups.js';

export function registerTransform(program: Command, log: () => Logger): void {
  const transform = program
    .command('transform')
    .description('apply a fitted PCA model to a features dataset (new images later): reduced Parquet parts, optionally CSV')
    .requiredOption('--pca <model>', 'the PCA model: a model.json file or the folder holding it (local or s3://)')
    .argument('<features>', 'a complete features dataset made with the same featurizer')
    .argument('<output>', 'folder or s3:// prefix for the reduced dataset')
    .option('--csv <folder>', 'also write path,label,pc_1..pc_k as CSV parts into this folder / s3:// prefix')
    .option('--overwrite', 'replace a previous output instead of resuming it')
    .option('--json', 'print the summary as JSON')
    .option('--quiet', 'no progress display');
  addPoolOptions(transform);
  transform.addHelpText('after', '\nExamples:\n  $ fruits transform --pca out/pca out/features out/reduced\n  $ fruits transform --pca out/pca/model.json new/features new/reduced --csv new/reduced-csv');
  transform.action(async (featuresArg: string, outputArg: string, o: Record<string, unknown>) => {
    const [{ openStore }, { LocalRunner }, { splitModelLocation, transformJob }] = await Promise.all([
      import('../storage/open.js'),
      import('../runner/local.js'),
      import('../pipeline/reduce.js'),
    ]);
    const { dir, file } = splitModelLocation(String(o.pca));
    const runner = new LocalRunner(poolSize(o.workers, o.threads));
    const progress = createProgress({ unit: 'parts', quiet: Boolean(o.quiet) });
    try {
      const r = await transformJob(openStore(featuresArg), { store: openStore(dir), file }, openStore(outputArg), {
        runner,
        progress,
        csv: o.csv ? openStore(String(o.csv)) : undefined,
        overwrite: Boolean(o.overwrite),
        samplePoints: 0,
      });
      progress.stop();
      const { sample: _s, ...summary } = r;
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(`transformed ${r.rows} rows in ${r.parts} parts to k = ${r.k} → ${r.output} (${r.seconds.toFixed(2)} s)\n`);
    } finally {
      await runner.close();
    }
  });
}
