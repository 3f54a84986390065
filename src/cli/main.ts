#!/usr/bin/env node
// The `fruits` command line: one subcommand per job; errors meant for the user are one line.
import { Command, CommanderError } from 'commander';
import { createLogger, type Logger } from '../util/logger.js';
import { UserError } from '../util/errors.js';
import { StorageError } from '../storage/store.js';
import { TaskFailedError } from '../runner/runner.js';
import { SOFTWARE } from '../version.js';
import { registerFeaturize } from './featurize.js';
import { registerInspect } from './inspect.js';
import { registerTrain } from './train.js';
import { registerEvaluate } from './evaluate.js';
import { registerPredict } from './predict.js';
import { registerServe } from './serve.js';
import { registerFit } from './fit.js';
import { registerTransform } from './transform.js';
import { registerRun } from './run.js';
import { registerWorker } from './worker.js';
import { registerDashboard } from './dashboard.js';
import { registerQueueMetrics } from './queue-metrics.js';
import { registerExport } from './export.js';
import { registerDrift } from './drift.js';
import { registerCompact } from './compact.js';
import { registerTelegram } from './telegram.js';
import { flag, parseFlag, UsageError } from '../util/flags.js';
import { z } from 'zod';

let logger: Logger | undefined;
const log = () => (logger ??= createLogger());

const program = new Command('fruits')
  .description('Fruit photos → MobileNetV2 features → standardisation + PCA, on one machine or a BullMQ cluster.')
  .version(SOFTWARE.version)
  .option('--s3-force-path-style', 'path-style S3 addressing, for MinIO, Ceph RGW, s3rver (env FRUITS_S3_FORCE_PATH_STYLE)')
  .option('--s3-checksums <mode>', 'when_supported (default) or when_required, for stores that reject CRC trailers (env FRUITS_S3_CHECKSUMS)')
  .option('--s3-max-attempts <n>', 'attempts per S3 request, with jittered backoff (env FRUITS_S3_MAX_ATTEMPTS)')
  .exitOverride()
  // S3 settings travel as environment variables so worker processes get them too.
  .hook('preAction', async (cmd) => {
    const o = cmd.opts();
    if (o.s3ForcePathStyle === undefined && o.s3Checksums === undefined && o.s3MaxAttempts === undefined) return;
    const { s3OptionsToEnv } = await import('../storage/s3-config.js'); // the AWS SDK only when needed
    Object.assign(
      process.env,
      s3OptionsToEnv({
        forcePathStyle: o.s3ForcePathStyle ? true : undefined,
        checksums: o.s3Checksums === undefined ? undefined : parseFlag(z.enum(['when_supported', 'when_required']), o.s3Checksums, '--s3-checksums'),
        maxAttempts: o.s3MaxAttempts === undefined ? undefined : parseFlag(flag.positiveInt, o.s3MaxAttempts, '--s3-max-attempts'),
      }),
    );
  });

registerRun(program, log);
registerFeaturize(program, log);
registerFit(program, log);
registerTransform(program, log);
registerCompact(program, log);
registerInspect(program);
registerTrain(program, log);
registerEvaluate(program, log);
registerPredict(program, log);
registerDrift(program, log);
registerServe(program, log);
registerExport(program, log);
registerTelegram(program, log);
registerWorker(program, log);
registerDashboard(program, log);
registerQueueMetrics(program, log);

function exitCodeOf(err: unknown): number {
  return err instanceof UserError ? err.exitCode : 1;
}

/** Usage errors get one line in the house style, naming the help of the command that refused them. */
const usageHint = new Map<string, string>();
function routeUsageErrors(cmd: Command, path: string): void {
  cmd.configureOutput({ outputError: () => undefined }); // printed below, once, as `fruits: error:`
  for (const sub of cmd.commands) routeUsageErrors(sub, `${path} ${sub.name()}`);
  cmd.hook('preSubcommand', (_parent, sub) => {
    lastCommand = `${path} ${sub.name()}`;
  });
  usageHint.set(path, `run '${path} --help' for usage`);
}
let lastCommand = 'fruits';
routeUsageErrors(program, 'fruits');

const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.version']);

// Output piped into a reader that stops early (`fruits run --help | head`): the reader has what it
// wanted, so end quietly as other command-line tools do, instead of an EPIPE stack.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    if (NOT_ERRORS.has(err.code)) {
      process.exitCode = err.exitCode;
    } else {
      // Unknown option or command, missing or excess argument…: a usage error, exit 2.
      const message = err.code === 'commander.help' ? 'no command given' : err.message.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ');
      process.stderr.write(`fruits: error: ${message} (${usageHint.get(lastCommand)})\n`);
      process.exitCode = 2;
    }
  } else if (err instanceof UsageError) {
    process.stderr.write(`fruits: error: ${err.message} (${usageHint.get(lastCommand)})\n`);
    process.exitCode = 2;
  } else if (err instanceof UserError || err instanceof StorageError || err instanceof TaskFailedError) {
    process.stderr.write(`fruits: error: ${err.message}\n`);
    process.exitCode = exitCodeOf(err);
  } else {
    process.stderr.write(`fruits: error: ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.FRUITS_LOG_LEVEL === 'debug') process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    process.exitCode = 1;
  }
}
