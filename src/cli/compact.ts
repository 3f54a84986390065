import type { Command } from 'commander';
import type { Logger } from '../util/logger.js';
import { createProgress } from '../util/progress.js';
import { addPoolOptions, poolSize } from './flag-groups.js';

export function registerCompact(program: Command, log: () => Logger): void {
  const cmd = program
    .command('compact')
    .description('pack the parts of a features dataset that are not full into full-size parts (no inference), as a new version')
    .argument('<dataset>', 'a features dataset folder / s3:// prefix (or the features/ of a run)')
    .option('--json', 'print the summary as JSON')
    .option('--quiet', 'no progress display');
  addPoolOptions(cmd);
  cmd.addHelpText('after', '\nExamples:\n  $ fruits compact out/features\n  $ fruits compact s3://my-bucket/results/features --workers 2');
  cmd.action(async (location: string, o: Record<string, unknown>) => {
    const [{ openStore }, { LocalRunner }, { completeFeatures }, { compactDataset }, { withLock }, { featuresFooter }, { UserError }] = await Promise.all([
      import('../storage/open.js'),
      import('../runner/local.js'),
      import('../pipeline/reduce.js'),
      import('../pipeline/update.js'),
      import('../sink/lock.js'),
      import('../pipeline/featurize.js'),
      import('../util/errors.js'),
    ]);
    const logger = log();
    const store = openStore(location);
    await completeFeatures(store); // a wrong location is one line before workers start
    const runner = new LocalRunner(poolSize(o.workers, o.threads));
    try {
      const change = await withLock(store, 'fruits compact', logger, async (lock) => {
        // Read again under the lock: another run may have committed meanwhile.
        const current = await completeFeatures(store);
        if (!current.index || current.version === undefined) throw new UserError(`${store.root}: a dataset of an earlier fruits build (no index of images); rerun its featurize with --overwrite once`);
        return compactDataset({
          output: store,
          previous: current,
          metadata: featuresFooter(current.config, current.featureDim),
          runner,
          progress: createProgress({ unit: 'parts', quiet: Boolean(o.quiet) }),
          log: logger,
          lock,
        });
      });
      if (o.json) process.stdout.write(`${JSON.stringify(change)}\n`);
      else if (change.unchanged) process.stdout.write(`${store.root}: nothing to compact (at most one part is not full); version ${change.version} kept\n`);
      else process.stdout.write(`${store.root}: version ${change.version}: ${change.partsRemoved.length} parts packed into ${change.partsAdded.length}\n`);
    } finally {
      await runner.close();
    }
  });
}
