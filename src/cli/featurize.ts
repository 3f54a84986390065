// `fruits featurize`: images into a features dataset; also the job's inputs, memory use and
// summary lines that `fruits run` shares.
import type { Command } from 'commander';
import type { FeaturizeSummary } from '../pipeline/featurize.js';
import type { LocalRunner } from '../runner/local.js';
import { createProgress } from '../util/progress.js';
import type { Logger } from '../util/logger.js';
import { flag, optionalFlag } from '../util/flags.js';
import { addFeaturizeOptions, addModelOptions, addPoolOptions, featurizeOptionsOf, poolSize } from './flag-groups.js';
import { withInputSize } from '../model/spec.js';

export interface MemoryUse {
  /** Peak resident set of this (coordinating) process and of each worker process, bytes. */
  coordinatorPeakRss: number;
  workerPeakRss: number[];
}

export function memoryUse(runner: LocalRunner): MemoryUse {
  return { coordinatorPeakRss: process.resourceUsage().maxRSS * 1024, workerPeakRss: [...runner.peakRssBytes] };
}

/**
 * The stores and the model of a command that featurizes. The input is checked before the model is
 * resolved: a wrong path should be one line, not wait for a model download first.
 */
export async function openJobInputs(inputArg: string, outputArg: string, o: Record<string, unknown>, logger: Logger) {
  const [{ resolveModel }, { openStore }, { assertHasImages }] = await Promise.all([
    import('../model/resolve.js'),
    import('../storage/open.js'),
    import('../source/listing.js'),
  ]);
  const inputSize = optionalFlag(flag.inputSize, o.inputSize, '--input-size');
  const input = openStore(inputArg);
  const output = openStore(outputArg);
  await assertHasImages(input);
  const resolved = await resolveModel({ model: o.model as string | undefined, specFile: o.modelSpec as string | undefined, log: (m) => logger.info(m) });
  const model = { ...resolved, spec: withInputSize(resolved.spec, inputSize) };
  return { input, output, model };
}

export function printFeaturizeSummary(s: FeaturizeSummary, json: boolean, memory?: MemoryUse): void {
  if (json) {
    const { manifest: _m, rejectList: _r, ...rest } = s;
    process.stdout.write(`${JSON.stringify({ ...rest, memory })}\n`);
    return;
  }
  const resumed = s.resumedPartitions ? ` (${s.resumedPartitions} of ${s.partitions} partitions resumed)` : '';
  process.stdout.write(
    `featurized ${s.rows} images, ${s.rejects} rejected, ${s.labels} labels, ${s.partitions} partitions → ${s.output}\n` +
      (s.update ? `${updateLine(s)}\n` : '') +
      `${s.seconds.toFixed(1)} s, ${s.imagesPerSecond.toFixed(1)} images/s${resumed}\n`,
  );
}

/** What an update did, in one line. */
export function updateLine(s: FeaturizeSummary): string {
  const u = s.update!;
  if (u.unchanged) return `version ${s.version}: nothing new, changed or removed${u.touched ? ` (${u.touched} images touched, same bytes)` : ''}`;
  return `version ${s.version}: +${u.added} new, ~${u.changed} changed, -${u.removed} removed images; ${u.featurized} featurized; parts +${u.partsAdded.length} -${u.partsRemoved.length}`;
}

export function registerFeaturize(program: Command, log: () => Logger): void {
  const cmd = program
    .command('featurize')
    .description('featurize a folder (or s3:// prefix) of images into a Parquet dataset of MobileNetV2 features')
    .argument('<input>', 'folder or s3://bucket/prefix with <label>/<image> files (searched recursively)')
    .argument('<output>', 'dataset folder or s3:// prefix to write (part-*.parquet, _manifest.json, _rejects.csv, _SUCCESS)')
    .option('--overwrite', 'replace a previous output instead of resuming or updating it')
    .option('--json', 'print the summary as JSON')
    .option('--quiet', 'no progress display');
  addFeaturizeOptions(addPoolOptions(addModelOptions(cmd)));
  cmd.addHelpText(
    'after',
    `
Examples:
  $ fruits featurize ../shared/data/fruits360-mini/Test out/features
  $ fruits featurize photos/ s3://my-bucket/features --workers 2 --batch-size 32
  $ fruits featurize ../shared/data/fruits360-mini/Test out/features128 --input-size 128
  $ fruits featurize photos/ out/features          # again, later: only new and changed photos
  $ fruits featurize photos/ out --model resnet50.onnx --model-spec resnet50.json`,
  );
  cmd.action(async (inputArg: string, outputArg: string, o: Record<string, unknown>) => {
    const opts = featurizeOptionsOf(o);
    const pool = poolSize(o.workers, o.threads);
    // Workers start first and load their modules while this process loads its own and lists the
    // input (as `fruits run` does). Loaded here, not at start-up: `fruits --help` should not pay for them.
    const runner = new (await import('../runner/local.js')).LocalRunner({ ...pool, device: opts.device });
    runner.start();
    let summary: FeaturizeSummary;
    try {
      const { featurizeJob } = await import('../pipeline/featurize.js');
      const logger = log();
      const { input, output, model } = await openJobInputs(inputArg, outputArg, o, logger);
      // The job logs the model once the input and output are known to be fine (bad input: one line).
      logger.debug(`${pool.workers} workers × ${pool.threadsPerWorker} threads`);
      summary = await featurizeJob({
        input,
        output,
        model,
        ...opts,
        overwrite: Boolean(o.overwrite),
        runner,
        progress: createProgress({ unit: 'images', quiet: Boolean(o.quiet) }),
        log: logger,
      });
    } finally {
      await runner.close();
    }
    printFeaturizeSummary(summary, Boolean(o.json), memoryUse(runner));
  });
}
