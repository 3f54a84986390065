// `fruits telegram <bundle>`: the bundle as a Telegram bot. The token comes from the environment
// only, and from the moment it is read every line the process writes is filtered for it.
import type { Command } from 'commander';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { ENV, TELEGRAM_DEFAULTS, telegramOptionsOf } from '../telegram/options.js';
import { Redactor, guardOutput } from '../telegram/redact.js';
import { featurizerFileOption, threadsOption } from './flag-groups.js';

/** Resolves on the first SIGTERM or SIGINT; a second one ends the process at once. */
function untilSignal(logger: () => Logger): Promise<string> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      process.removeListener('SIGTERM', first);
      process.removeListener('SIGINT', first);
      const again = () => {
        logger().warn(`${signal} again: stopping now, without waiting for the photos in flight`);
        process.exit(1);
      };
      process.once('SIGTERM', again);
      process.once('SIGINT', again);
      resolve(signal);
    };
    process.on('SIGTERM', first);
    process.on('SIGINT', first);
  });
}

export function registerTelegram(program: Command, log: () => Logger): void {
  const d = TELEGRAM_DEFAULTS;
  program
    .command('telegram')
    .description('run a bundle as a Telegram bot: send it a photo of a fruit, it answers what it is (token from $TELEGRAM_BOT_TOKEN)')
    .argument('<bundle>', 'a bundle folder or s3:// prefix (fruits train)')
    .option('--webhook <url>', `receive updates at this public https:// URL instead of long polling (needs $${ENV.webhookSecret})`)
    .option('--host <address>', `webhook mode: address the bot's HTTP server listens on, behind the TLS proxy (default ${d.host})`)
    .option('--port <n>', `webhook mode: port of that server (default ${d.port})`)
    .option('--metrics-port <n>', 'serve Prometheus metrics (GET /metrics) and GET /healthz on this port (default: off)')
    .option('--metrics-host <address>', `address of the metrics server (default ${d.metricsHost})`)
    .addOption(featurizerFileOption())
    .addOption(threadsOption())
    .option('--top <n>', `the answer plus runners-up shown, at most (default ${d.top})`)
    .option('--max-file-size <bytes>', `largest photo or image file taken, checked from Telegram's file_size before downloading (default ${d.maxFileBytes})`)
    .option('--max-pixels <n>', `largest image in pixels, checked from its header before decoding (default ${d.maxPixels})`)
    .option('--rate-limit <n>', `messages per chat per minute; past it the chat is told once to wait (default ${d.rateLimit})`)
    .option('--max-batch <n>', `images per inference call (default ${d.maxBatch})`)
    .option('--max-wait-ms <ms>', `how long the first image of a batch waits for others (default ${d.maxWaitMs})`)
    .option('--max-queue <n>', `photos handled at once; more are answered "busy, send it again" (default ${d.maxQueue})`)
    .option('--grace <seconds>', `on SIGTERM/SIGINT, how long to let the photos in flight be answered (default ${d.graceSeconds})`)
    .addHelpText(
      'after',
      `
Environment:
  ${ENV.token}       the bot's token from @BotFather (required; never a flag, never printed)
  ${ENV.webhookSecret}  with --webhook: the secret Telegram sends back in X-Telegram-Bot-Api-Secret-Token
  ${ENV.apiRoot}        a self-hosted Bot API server (default https://api.telegram.org)

Examples:
  $ TELEGRAM_BOT_TOKEN=... fruits telegram out/bundle
  $ fruits telegram s3://fruits-data/models/current --metrics-port 9464
  $ fruits telegram out/bundle --webhook https://bot.example.com/telegram --port 8081`,
    )
    .action(async (bundleDir: string, o: Record<string, unknown>) => {
      const opts = telegramOptionsOf(o, process.env);
      const redactor = new Redactor([opts.token, opts.webhook?.secret]);
      guardOutput(redactor);
      // Node prints an uncaught error itself, past the guarded streams: print it here instead.
      process.on('uncaughtException', (err) => {
        process.stderr.write(`fruits: error: ${redactor.describe(err)}\n`);
        process.exit(1);
      });
      try {
        const [{ readBundle }, { runTelegramBot }] = await Promise.all([import('../classify/bundle.js'), import('../telegram/service.js')]);
        const bundle = await readBundle(bundleDir);
        const logger = log();
        await runTelegramBot(bundle, { ...opts, logger, redactor, stopSignal: untilSignal(log) });
      } catch (err) {
        if (!(err instanceof UserError)) throw new UserError(redactor.describe(err));
        err.message = redactor.text(err.message);
        throw err;
      }
      // grammY's keep-alive agents would hold the event loop open.
      process.exit(0);
    });
}
