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
import { registerReduce } from './reduce.js';
import { registerRun } from './run.js';
import { UsageError } from './options.js';
import { TooManyRejectsError } from '../pipeline/featurize.js';

let logger: Logger | undefined;
const log = () => (logger ??= createLogger());

const program = new Command('fruits')
  .description('Fruit photos → MobileNetV2 features → standardisation + PCA, on one machine or a BullMQ cluster.')
  .version(SOFTWARE.version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerRun(program, log);
registerFeaturize(program, log);
registerReduce(program, log);
registerInspect(program);

function exitCodeOf(err: unknown): number {
  if (err instanceof TooManyRejectsError) return 3;
  if (err instanceof UsageError) return 2;
  return 1;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander printed its own message (or help/version); keep its exit code.
    process.exitCode = err.exitCode;
  } else if (err instanceof UserError || err instanceof StorageError || err instanceof TaskFailedError) {
    process.stderr.write(`fruits: error: ${err.message}\n`);
    process.exitCode = exitCodeOf(err);
  } else {
    process.stderr.write(`fruits: error: ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.FRUITS_LOG_LEVEL === 'debug') process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    process.exitCode = 1;
  }
}
