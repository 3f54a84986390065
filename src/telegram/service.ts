// `fruits telegram`: loads the bundle's model once (on the inference thread of `fruits serve`),
// runs the bot by long polling or behind a webhook, serves metrics if asked, and stops
// gracefully: no new updates, the photos in flight answered (up to the grace period), then the
// model released.
import sharp from 'sharp';
import { GrammyError } from 'grammy';
import type { Bundle } from '../classify/bundle.js';
import { resolveBundleModel } from '../classify/model-file.js';
import { decodeImage } from '../decode/decode.js';
import { createClassifyBatcher } from '../serve/classify-batcher.js';
import { WorkerClassifier } from '../serve/worker-classifier.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { FruitBot } from './bot.js';
import { listen, type Listening } from './http.js';
import { createBotMetrics } from './metrics.js';
import { startMetricsServer } from './metrics-server.js';
import { DEFAULT_API_ROOT, ENV, type TelegramOptions } from './options.js';
import type { Redactor } from './redact.js';
import { webhookHandler } from './webhook.js';

const DOWNLOAD_TIMEOUT_MS = 30_000;

/** The Bot API's refusals that end the bot, in words an operator can act on. */
function fatalMessage(err: unknown, redactor: Redactor): string {
  if (err instanceof GrammyError && err.error_code === 401) return `the Bot API refused the token (401 Unauthorized): check ${ENV.token}`;
  if (err instanceof GrammyError && err.error_code === 409) return 'another process is already receiving this bot\'s updates (409 Conflict): stop it first, or use a webhook';
  return `telegram: ${redactor.describe(err)}`;
}

export interface RunOptions extends TelegramOptions {
  logger: Logger;
  redactor: Redactor;
  /** Resolves (with a reason to log) when the bot should stop. */
  stopSignal: Promise<string>;
  /** Keep prom-client's process metrics off (tests running several bots in one process). */
  defaultMetrics?: boolean;
}

export async function runTelegramBot(bundle: Bundle, opts: RunOptions): Promise<void> {
  const { logger, redactor } = opts;
  // Every photo is a new image: libvips' operation cache would only hold memory.
  sharp.cache(false);
  const model = await resolveBundleModel(bundle, opts.model, (m) => logger.info(m));
  const metrics = createBotMetrics({ defaultMetrics: opts.defaultMetrics });
  // Assigned once the model is loaded; the bot takes no update before.
  let batcher: ReturnType<typeof createClassifyBatcher> | undefined;
  const input = bundle.featurizer.spec.input;
  const bot = new FruitBot(
    {
      token: opts.token,
      apiRoot: opts.apiRoot,
      classes: bundle.labels.length,
      maxFileBytes: opts.maxFileBytes,
      maxInFlight: opts.maxQueue,
      rateLimit: opts.rateLimit,
      downloadTimeoutMs: DOWNLOAD_TIMEOUT_MS,
    },
    {
      decode: (bytes) => decodeImage(bytes, input, { maxPixels: opts.maxPixels }),
      recognise: async (image) => {
        metrics.queueDepth.set(batcher!.queued);
        // Bundles with novelty data mark a photo unlike their training photos `unknown`.
        const { value } = await batcher!.submit({ image, top: opts.top });
        return value;
      },
      metrics,
      logger,
      redactor,
    },
  );
  // A wrong token fails here, in a second, before the model is loaded.
  const username = await bot.identify().catch((err: unknown) => {
    throw new UserError(fatalMessage(err, redactor));
  });
  logger.info(`bot @${username}; loading ${bundle.featurizer.id} for ${bundle.dir} (${bundle.labels.length} classes)…`);
  const classifier = await WorkerClassifier.start({ bundle: bundle.dir, model: model.path, threads: opts.threads });
  batcher = createClassifyBatcher(() => classifier, { maxBatch: opts.maxBatch, maxWaitMs: opts.maxWaitMs, maxQueue: opts.maxQueue }, metrics);
  const servers: Listening[] = [];
  let polling: Promise<void> | undefined;
  const describe = (err: unknown) => redactor.describe(err);
  try {
    if (opts.metrics) {
      const m = await startMetricsServer(metrics.registry, opts.metrics, () => bot.running, logger, describe);
      servers.push(m);
      logger.info(`metrics on ${m.url}/metrics`);
    }
    if (opts.webhook) {
      const { url, secret, host, port } = opts.webhook;
      let stopping = false;
      const handler = webhookHandler({
        path: url.pathname,
        secret,
        accepting: () => !stopping,
        onUpdate: (update) => bot.handleUpdate(update),
        onStatus: (status) => metrics.webhookRequests.inc({ status: String(status) }),
      });
      const server = await listen(handler, { host, port }, logger, describe);
      servers.unshift(server); // closed first on the way out
      await bot.setWebhook(url.href, secret).catch((err: unknown) => {
        throw new UserError(fatalMessage(err, redactor));
      });
      logger.info(`@${username} ready: Telegram posts updates to ${url.origin}${url.pathname}, received on ${server.url}${url.pathname}`);
      const reason = await opts.stopSignal;
      logger.info(`${reason}: stopping (the webhook stays set; updates wait at Telegram until the bot is back)`);
      stopping = true; // from now on 503: Telegram delivers again later
      await server.close();
      servers.shift();
    } else {
      polling = bot.poll(() => logger.info(`@${username} ready (long polling ${opts.apiRoot === DEFAULT_API_ROOT ? 'Telegram' : opts.apiRoot})`));
      const ended = await Promise.race([polling.then(() => undefined), opts.stopSignal]).catch((err: unknown) => {
        throw new UserError(fatalMessage(err, redactor));
      });
      if (ended === undefined) throw new UserError('telegram: the long poll ended on its own');
      logger.info(`${ended}: stopping`);
    }
    const inFlight = bot.inFlight;
    if (inFlight) logger.info(`answering ${inFlight} photo${inFlight === 1 ? '' : 's'} in flight (up to ${opts.graceMs / 1000} s)`);
    const left = await bot.stop(opts.graceMs);
    if (left) logger.warn(`${left} photo${left === 1 ? '' : 's'} left unanswered after ${opts.graceMs / 1000} s`);
    else logger.info('stopped');
  } finally {
    await bot.stop(0);
    await polling?.catch(() => undefined);
    for (const s of servers) await s.close();
    await batcher.drain();
    await classifier.release();
  }
}
