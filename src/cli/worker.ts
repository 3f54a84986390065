// `fruits worker`: a distributed worker process.
import type { Command } from 'commander';
import type { Logger } from '../util/logger.js';
import { flag, optionalFlag, parseFlag } from '../util/flags.js';
import { addRedisOptions, deviceOption, redisOptionsOf } from './flag-groups.js';

export function registerWorker(program: Command, log: () => Logger): void {
  const cmd = program
    .command('worker')
    .description('run tasks of distributed runs (`fruits run --engine distributed`) from the Redis queue; start as many as you like, anywhere')
    .option('--concurrency <n>', 'tasks run at once by this process (default 1)')
    .option('--threads <n>', 'ONNX Runtime threads per task (default: cores / concurrency)')
    .addOption(deviceOption())
    .option('--grace <seconds>', 'on SIGTERM/SIGINT, how long to let running tasks finish before handing them back to the queue (default 90)');
  addRedisOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ fruits worker --redis redis://127.0.0.1:6379
  $ FRUITS_REDIS_URL=rediss://:token@redis.internal:6379 fruits worker --concurrency 2

Stopping: the first SIGTERM or SIGINT stops taking tasks and lets the running ones finish (up to
--grace seconds); a second signal, or the end of the grace period, hands them back to the queue,
where another worker starts them over.`,
  );
  cmd.action(async (o: Record<string, unknown>) => {
    const redis = redisOptionsOf(o);
    const concurrency = optionalFlag(flag.workers, o.concurrency, '--concurrency') ?? 1;
    const threads = optionalFlag(flag.positiveInt, o.threads, '--threads');
    const device = parseFlag(flag.device, o.device ?? 'cpu', '--device');
    const graceMs = (optionalFlag(flag.nonNegativeInt, o.grace, '--grace') ?? 90) * 1000;
    const logger = log();
    const { startWorker } = await import('../runner/distributed/worker.js'); // BullMQ, ONNX Runtime: only for this command
    const worker = await startWorker({ redisUrl: redis.url, prefix: redis.prefix, concurrency, threads, device, log: logger });

    await new Promise<void>((resolve) => {
      let stopping = false;
      const handBack = async (why: string) => {
        // Bounded: with Redis unreachable the tasks cannot be handed back; their locks expire instead.
        const n = await Promise.race([worker.release(), new Promise<number>((r) => setTimeout(() => r(0), 5000).unref())]);
        logger.info(`${why}: handed ${n} running task${n === 1 ? '' : 's'} back to the queue`);
        // The released tasks' processors are still running here; nothing of theirs is wanted any more.
        process.exit(0);
      };
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) return void handBack(`${signal} again`);
        stopping = true;
        const n = worker.active();
        logger.info(`${signal}: stopping; ${n ? `finishing ${n} running task${n === 1 ? '' : 's'} (up to ${graceMs / 1000} s; signal again to hand ${n === 1 ? 'it' : 'them'} back now)` : 'no task running'}`);
        const timer = setTimeout(() => void handBack('grace period over'), graceMs);
        timer.unref();
        void worker.drain().then(() => {
          clearTimeout(timer);
          logger.info('worker stopped');
          resolve();
        });
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
  });
}
