import type { Command } from 'commander';
import { z } from 'zod';
import type { Runner } from '../runner/runner.js';
import type { RunSummary } from '../pipeline/run.js';
import { createProgress } from '../util/progress.js';
import type { Logger } from '../util/logger.js';
import { parseFlag } from '../util/flags.js';
import { memoryUse, openJobInputs, updateLine, type MemoryUse } from './featurize.js';
import { addFeaturizeOptions, addModelOptions, addPcaOptions, addPoolOptions, addRedisOptions, featurizeOptionsOf, pcaOptionsOf, poolSize, redisOptionsOf } from './flag-groups.js';

function printRunSummary(s: RunSummary, json: boolean, memory?: MemoryUse): void {
  if (json) {
    const { manifest: _m, rejectList: _r, ...featurize } = s.featurize;
    process.stdout.write(`${JSON.stringify({ ...s, featurize, memory })}\n`);
    return;
  }
  const f = s.featurize;
  process.stdout.write(
    [
      `run ${s.runId} → ${s.output}`,
      `  featurize  ${f.rows} images, ${f.rejects} rejected, ${f.labels} labels, ${f.seconds.toFixed(1)} s (${f.imagesPerSecond.toFixed(1)} images/s)${f.resumedPartitions ? `, ${f.resumedPartitions}/${f.partitions} partitions resumed` : ''}`,
      ...(f.update ? [`             ${updateLine(f)}`] : []),
      `  statistics ${s.statistics.rows} rows × ${s.statistics.dim}, ${s.statistics.seconds.toFixed(2)} s${s.statistics.resumed ? ' (resumed)' : s.statistics.parts ? ` (${s.statistics.computedParts} of ${s.statistics.parts} parts computed)` : ''}`,
      `  fit        k = ${s.fit.k}, ${(100 * s.fit.explainedVariance).toFixed(2)}% of the variance, ${s.fit.seconds.toFixed(2)} s${s.fit.resumed ? ' (resumed)' : ''}`,
      `  transform  ${s.transform.rows} rows → ${s.transform.k} components, ${s.transform.seconds.toFixed(2)} s${s.transform.resumedParts ? ` (${s.transform.resumedParts} parts resumed)` : ''}`,
      `  report     ${s.report}`,
      `total ${s.seconds.toFixed(1)} s`,
    ].join('\n') + '\n',
  );
}

export function registerRun(program: Command, log: () => Logger): void {
  const cmd = program
    .command('run')
    .description('the whole job: featurize → statistics → PCA fit → transform → report.html (resumable stage by stage)')
    .argument('<input>', 'folder or s3://bucket/prefix of <label>/<image> files')
    .argument('<output>', 'folder or s3:// prefix: features/, pca/, reduced/, report.html')
    .option('--csv', 'also write the reduced vectors as CSV (reduced-csv/)')
    .option('--run-id <id>', 'name of this run (default: kept from a previous run in <output>, else a timestamp)')
    .option('--overwrite', 'replace a previous run in <output> instead of resuming or updating it')
    .option('--keep-pca', 'on an update, keep the fitted PCA model and project only new and changed rows (default: refit from the merged statistics, re-project every row)')
    .option('--engine <local|distributed>', 'run tasks in local worker processes, or on `fruits worker` processes through a Redis queue', 'local')
    .option('--json', 'print the summary as JSON')
    .option('--quiet', 'no progress display');
  addRedisOptions(addPcaOptions(addFeaturizeOptions(addPoolOptions(addModelOptions(cmd)))));
  cmd.addHelpText(
    'after',
    `
Examples:
  $ fruits run ../shared/data/fruits360-mini/Training out --variance 0.95
  $ fruits run photos/ out --k 200 --scale minmax --csv
  $ fruits run s3://my-bucket/Test s3://my-bucket/Results/run-1
  $ fruits run photos/ out --input-size 128    # 100×100 photos: ~3× faster, ~1 point of top-1
  $ fruits run photos/ out --keep-pca          # again after new photos: only they are featurized and projected
  $ fruits run photos/ out --engine distributed --redis redis://10.0.0.5:6379 --run-id nightly-42`,
  );
  cmd.action(async (inputArg: string, outputArg: string, o: Record<string, unknown>) => {
    const fopts = featurizeOptionsOf(o);
    const popts = pcaOptionsOf(o);
    const pool = poolSize(o.workers, o.threads);
    const engine = parseFlag(z.enum(['local', 'distributed']), o.engine ?? 'local', '--engine');
    // Local workers start first: they load their modules (~1 s) while this process loads its own,
    // lists the input and merges the index. A run refused before any stage stops them unused.
    // (Loaded here, not at start-up: `fruits --help` should not pay for sharp, ONNX Runtime, BullMQ…)
    const local = engine === 'local' ? new (await import('../runner/local.js')).LocalRunner({ ...pool, device: fopts.device }) : undefined;
    local?.start();
    let runner: Runner | undefined = local;
    let summary: RunSummary;
    try {
      const [{ runJob }, { checkComponentCount }] = await Promise.all([import('../pipeline/run.js'), import('../pipeline/reduce.js')]);
      const logger = log();
      const { input, output, model } = await openJobInputs(inputArg, outputArg, o, logger);
      checkComponentCount(popts.components, model.spec.feature.dim);
      let runId = o.runId as string | undefined;
      if (engine === 'distributed') {
        const [{ DistributedRunner }, { chooseRunId }, { redactRedisUrl }] = await Promise.all([
          import('../runner/distributed/coordinator.js'),
          import('../pipeline/run-id.js'),
          import('../runner/distributed/redis-url.js'),
        ]);
        const redis = redisOptionsOf(o);
        // The runner needs the run id before the job starts: the one runJob would choose.
        runId = await chooseRunId(output, runId, Boolean(o.overwrite));
        runner = new DistributedRunner({ redisUrl: redis.url, prefix: redis.prefix, runId, fresh: Boolean(o.overwrite), log: logger });
        if (o.workers !== undefined || o.threads !== undefined) logger.warn('--workers/--threads size the local engine; size distributed workers with `fruits worker --concurrency/--threads`');
        logger.info(`distributed run ${runId} on ${redactRedisUrl(redis.url)} (queue prefix ${redis.prefix})`);
      } else {
        logger.debug(`${pool.workers} workers × ${pool.threadsPerWorker} threads`);
      }
      summary = await runJob({
        input,
        output,
        model,
        ...fopts,
        ...popts,
        csv: Boolean(o.csv),
        keepPca: Boolean(o.keepPca),
        runId,
        overwrite: Boolean(o.overwrite),
        runner: runner!,
        progress: createProgress({ unit: 'images', quiet: Boolean(o.quiet) }),
        log: logger,
      });
    } finally {
      await runner?.close();
    }
    printRunSummary(summary, Boolean(o.json), local ? memoryUse(local) : undefined);
  });
}
