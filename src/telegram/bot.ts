// The conversation: /start and /help explain, a photo (or an image sent as a file) gets the
// bundle's answer, anything else a short hint. Every message passes the per-chat rate limit first.
//
// grammY hands updates to the middleware one at a time, so a photo is not answered inside the
// middleware: it becomes a tracked task (download → decode → the shared inference batcher →
// reply) and the middleware returns at once. Photos from many chats are then in flight
// together and share inference batches; stop() waits for the tasks in flight.
import { Bot, type Context } from 'grammy';
import type { Message } from 'grammy/types';
import type { Classified } from '../classify/image-classifier.js';
import { DecodeError, type DecodedImage } from '../decode/decode.js';
import { QueueFullError } from '../serve/batcher.js';
import type { Logger } from '../util/logger.js';
import { DownloadError, FileTooLargeError, downloadFile, imageFileOf, type ImageFile } from './files.js';
import { langOf, replyText, type Answer, type Lang } from './messages.js';
import type { BotMetrics } from './metrics.js';
import { ChatRateLimiter } from './rate-limit.js';
import type { Redactor } from './redact.js';

export interface FruitBotOptions {
  token: string;
  apiRoot: string;
  /** Classes the bundle knows (said in /help). */
  classes: number;
  maxFileBytes: number;
  /** Photos handled at once (downloading, decoding, waiting, inferring); more are answered "busy". */
  maxInFlight: number;
  rateLimit: number;
  downloadTimeoutMs: number;
}

export interface FruitBotDeps {
  decode: (bytes: Buffer) => Promise<DecodedImage>;
  /** The bundle's verdict: labels, and `unknown` from bundles that measure novelty. */
  recognise: (image: DecodedImage) => Promise<Classified>;
  metrics: BotMetrics;
  logger: Logger;
  redactor: Redactor;
}

// Bot API calls of the middleware get up to this long (grammY's default is 500 s).
const API_TIMEOUT_SECONDS = 60;
const UPDATES = ['message'] as const;
/** Calls grammY repeats on network errors (polling and start-up). */
const RETRIED = new Set(['getUpdates', 'getMe', 'deleteWebhook']);

function kindOf(m: Message): string {
  if (m.photo) return 'photo';
  if (m.document) return 'document';
  if (m.entities?.some((e) => e.type === 'bot_command' && e.offset === 0)) return 'command';
  return 'other';
}

export class FruitBot {
  readonly bot: Bot;
  private readonly limiter: ChatRateLimiter;
  private readonly tasks = new Set<Promise<void>>();
  private stopping = false;
  private apiFailing = false;
  private polling = false;

  constructor(
    private readonly opts: FruitBotOptions,
    private readonly deps: FruitBotDeps,
  ) {
    this.limiter = new ChatRateLimiter(opts.rateLimit);
    this.bot = new Bot(opts.token, { client: { apiRoot: opts.apiRoot, timeoutSeconds: API_TIMEOUT_SECONDS } });
    this.bot.api.config.use(async (prev, method, payload, signal) => {
      try {
        const res = await prev(method, payload, signal);
        if (!res.ok) deps.metrics.apiErrors.inc({ method });
        else if (this.apiFailing && RETRIED.has(method)) {
          this.apiFailing = false;
          deps.logger.info('the Bot API answers again');
        }
        return res;
      } catch (err) {
        // The long poll cancelled by stop() is no failure.
        if (method === 'getUpdates' && this.stopping) throw err;
        deps.metrics.apiErrors.inc({ method });
        // grammY retries these quietly: say once that the API is out of reach (the callers of
        // the other methods log their own failures).
        if (RETRIED.has(method) && !this.apiFailing) {
          this.apiFailing = true;
          deps.logger.warn(`Bot API call ${method} failed: ${deps.redactor.describe(err)} (grammY retries)`);
        }
        throw err;
      }
    });
    this.bot.catch((err) => deps.logger.error(`update ${err.ctx.update.update_id}: ${deps.redactor.describe(err.error)}`));
    this.bot.on('message', (ctx, next) => {
      deps.metrics.messages.inc({ kind: kindOf(ctx.message) });
      const decision = this.limiter.take(ctx.chat.id);
      if (decision.allowed) return next();
      if (decision.notify) return this.reply(ctx, { outcome: 'rate_limited', retrySeconds: decision.retrySeconds }, performance.now());
    });
    this.bot.command(['start', 'help'], (ctx) => this.reply(ctx, { outcome: 'help', start: ctx.message?.text?.startsWith('/start') ?? false }, performance.now()));
    this.bot.on('message', (ctx) => this.onMessage(ctx, ctx.message));
  }

  /** Photos (and image files) being handled now. */
  get inFlight(): number {
    return this.tasks.size;
  }

  get running(): boolean {
    return !this.stopping;
  }

  private async onMessage(ctx: Context, message: Message): Promise<void> {
    const received = performance.now();
    const file = imageFileOf(message, this.opts.maxFileBytes);
    if (file === null) return this.reply(ctx, { outcome: 'hint' }, received);
    if (file === undefined) return this.reply(ctx, { outcome: 'not_image' }, received);
    if (this.tasks.size >= this.opts.maxInFlight) return this.reply(ctx, { outcome: 'busy' }, received);
    const task = this.answerImage(ctx, file, received).finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  private async answerImage(ctx: Context, file: ImageFile, received: number): Promise<void> {
    const { metrics, logger, redactor } = this.deps;
    metrics.photos.inc({ source: file.source });
    metrics.inFlight.inc();
    try {
      await this.reply(ctx, await this.recognise(file), received);
    } catch (err) {
      // recognise() turns every error into an answer; this is a bug, and the bot goes on.
      logger.error(`photo: ${redactor.describe(err)}`);
    } finally {
      metrics.inFlight.dec();
    }
  }

  private async recognise(file: ImageFile): Promise<Answer> {
    const { logger, redactor } = this.deps;
    try {
      const bytes = await downloadFile(file, { api: this.bot.api, apiRoot: this.opts.apiRoot, token: this.opts.token, maxBytes: this.opts.maxFileBytes, timeoutMs: this.opts.downloadTimeoutMs });
      const result = await this.deps.recognise(await this.deps.decode(bytes));
      return result.unknown ? { outcome: 'unknown' } : { outcome: 'recognised', predictions: result.predictions };
    } catch (err) {
      if (err instanceof FileTooLargeError) return { outcome: 'too_large', limitBytes: err.limitBytes };
      if (err instanceof DecodeError) {
        logger.info(`an image that cannot be read: ${err.reason}`);
        return { outcome: 'not_image' };
      }
      if (err instanceof DownloadError) {
        logger.warn(`a photo could not be fetched: ${redactor.describe(err)}`);
        return { outcome: 'download_failed' };
      }
      if (err instanceof QueueFullError) return { outcome: 'busy' };
      logger.error(`a photo could not be classified: ${redactor.describe(err)}`);
      return { outcome: 'failed' };
    }
  }

  /** Sends the answer as a reply to the message; a failure to send is logged, never thrown. */
  private async reply(ctx: Context, answer: Answer, received: number): Promise<void> {
    const lang: Lang = langOf(ctx.from?.language_code);
    const text = replyText(answer, lang, this.opts.classes);
    const messageId = ctx.message?.message_id;
    try {
      await ctx.reply(text, messageId === undefined ? {} : { reply_parameters: { message_id: messageId, allow_sending_without_reply: true } });
      this.deps.metrics.answers.inc({ outcome: answer.outcome });
      this.deps.metrics.answerSeconds.observe({ outcome: answer.outcome }, (performance.now() - received) / 1000);
    } catch (err) {
      this.deps.logger.warn(`could not send a reply (${answer.outcome}): ${this.deps.redactor.describe(err)}`);
    }
  }

  /** getMe: the bot's username; rejects on a refused token. */
  async identify(): Promise<string> {
    await this.bot.init();
    return this.bot.botInfo.username;
  }

  /** Long polling until stop(); rejects if the Bot API refuses the bot (401 token, 409 another poller). */
  async poll(onStart: () => void): Promise<void> {
    this.polling = true;
    await this.bot.start({ allowed_updates: [...UPDATES], onStart });
  }

  /** Webhook mode: points Telegram at `url`, with the secret it must send back. */
  async setWebhook(url: string, secret: string): Promise<void> {
    await this.bot.api.setWebhook(url, { secret_token: secret, allowed_updates: [...UPDATES] });
  }

  handleUpdate(update: Parameters<Bot['handleUpdate']>[0]): Promise<void> {
    return this.bot.handleUpdate(update);
  }

  /**
   * Stops taking updates (polling: confirms the ones handled) and waits up to `graceMs` for the
   * photos in flight to be answered. Returns how many were left unanswered.
   */
  async stop(graceMs: number): Promise<number> {
    this.stopping = true;
    if (this.polling) {
      await this.bot.stop().catch((err: unknown) => this.deps.logger.warn(`stopping the long poll: ${this.deps.redactor.describe(err)}`));
    }
    if (this.tasks.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      Promise.allSettled([...this.tasks]).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    return done ? 0 : this.tasks.size;
  }
}
