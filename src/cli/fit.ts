// `fruits fit`: a PCA fitted on a features dataset, without touching images.
import type { Command } from 'commander';
import { createProgress } from '../util/progress.js';
import type { Logger } from '../util/logger.js';
import { addPcaOptions, addPoolOptions, pcaOptionsOf, poolSize } from './flag-groups.js';

export function registerFit(program: Command, log: () => Logger): void {
  const fit = program
    .command('fit')
    .description('fit a PCA on a features dataset: merge-able statistics per group of parts, merged as a tree, then the eigendecomposition')
    .argument('<features>', 'a complete features dataset (folder or s3:// prefix)')
    .argument('<pca-out>', 'folder or s3:// prefix for stats.bin and model.json')
    .option('--json', 'print the summary as JSON')
    .option('--quiet', 'no progress display');
  addPoolOptions(addPcaOptions(fit));
  fit.addHelpText('after', '\nExamples:\n  $ fruits fit out/features out/pca --variance 0.95\n  $ fruits fit out/features out/pca-200 --k 200 --scale none');
  fit.action(async (featuresArg: string, pcaArg: string, o: Record<string, unknown>) => {
    const [{ openStore }, { LocalRunner }, { checkComponentCount, completeFeatures, fitJob, statisticsJob }] = await Promise.all([
      import('../storage/open.js'),
      import('../runner/local.js'),
      import('../pipeline/reduce.js'),
    ]);
    const { scale, components } = pcaOptionsOf(o);
    const features = openStore(featuresArg);
    const pca = openStore(pcaArg);
    const manifest = await completeFeatures(features);
    checkComponentCount(components, manifest.featureDim);
    const runner = new LocalRunner(poolSize(o.workers, o.threads));
    const progress = createProgress({ unit: 'parts', quiet: Boolean(o.quiet) });
    try {
      const stats = await statisticsJob(features, pca, { runner, progress });
      const r = await fitJob(pca, { runner, progress, scale, components, featurizer: { modelId: manifest.config.model.id, sha256: manifest.config.model.sha256 } });
      progress.stop();
      const summary = { pca: pca.uriOf('model.json'), rows: stats.rows, dim: r.dim, k: r.k, explainedVariance: r.explainedVariance, scale, statisticsSeconds: stats.seconds, fitSeconds: r.seconds };
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else
        process.stdout.write(
          `PCA on ${stats.rows} rows × ${r.dim}: k = ${r.k} (${(100 * r.explainedVariance).toFixed(2)}% of the variance, scale ${scale}) → ${summary.pca}\n` +
            `statistics ${stats.seconds.toFixed(2)} s, fit ${r.seconds.toFixed(2)} s\n`,
        );
    } finally {
      await runner.close();
      void log;
    }
  });
}
