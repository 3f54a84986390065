// Webhook mode: Telegram POSTs each update as JSON to the bot's public HTTPS address (a proxy or
// load balancer terminates TLS and forwards here). Only requests carrying the secret set with
// setWebhook are Telegram's: the header is checked before the body is read, in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { z } from 'zod';
import type { Update } from 'grammy/types';
import { HttpError, readBody, sendJson, type Handler } from './http.js';

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';
/** An update is a few KB at most (a 4,096-character message with its entities). */
export const WEBHOOK_MAX_BODY = 1024 * 1024;

// Enough to route it: grammY reads the rest, and ignores what it does not know.
const updateSchema = z.looseObject({ update_id: z.number().int().nonnegative() });

export interface WebhookHandlerOptions {
  path: string;
  secret: string;
  /** False while the bot stops: Telegram gets a 503 and delivers the update again later. */
  accepting: () => boolean;
  onUpdate: (update: Update) => Promise<void>;
  onStatus?: (status: number) => void;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function webhookHandler(opts: WebhookHandlerOptions): Handler {
  const expected = digest(opts.secret);
  return async (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.once('finish', () => opts.onStatus?.(res.statusCode));
    const path = (req.url ?? '/').split('?')[0];
    if (path !== opts.path) throw new HttpError(404, 'not_found', `no route ${req.method} ${path}`);
    if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here (allowed: POST)`, { allow: 'POST' });
    const given = req.headers[SECRET_HEADER];
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) {
      throw new HttpError(401, 'unauthorized', `missing or wrong ${SECRET_HEADER} header`, { connection: 'close' });
    }
    if (!opts.accepting()) throw new HttpError(503, 'stopping', 'the bot is stopping; deliver this update again later', { 'retry-after': '5', connection: 'close' });
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      throw new HttpError(415, 'unsupported_media_type', `send the update as application/json (got ${req.headers['content-type'] ?? 'no content type'})`, { connection: 'close' });
    }
    const body = await readBody(req, WEBHOOK_MAX_BODY);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpError(400, 'bad_json', 'the body is not JSON');
    }
    const update = updateSchema.safeParse(json);
    if (!update.success) throw new HttpError(400, 'bad_update', 'the body is not a Telegram update (no update_id)');
    await opts.onUpdate(update.data as unknown as Update);
    sendJson(res, 200, { ok: true });
  };
}
