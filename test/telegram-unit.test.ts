// The parts of `fruits telegram` that need no process or server: settings from flags and the
// environment, redaction, the per-chat rate limit (on a clock the test moves), the choice of
// file in a message, and the replies in both languages.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Message } from 'grammy/types';
import { imageFileOf } from '../src/telegram/files.js';
import { langOf, replyText } from '../src/telegram/messages.js';
import { telegramOptionsOf, TELEGRAM_DEFAULTS } from '../src/telegram/options.js';
import { ChatRateLimiter } from '../src/telegram/rate-limit.js';
import { Redactor } from '../src/telegram/redact.js';

const TOKEN = '5123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0';

describe('telegram options', () => {
  test('long polling by default, token from the environment', () => {
    const o = telegramOptionsOf({}, { TELEGRAM_BOT_TOKEN: TOKEN });
    assert.equal(o.token, TOKEN);
    assert.equal(o.apiRoot, 'https://api.telegram.org');
    assert.equal(o.webhook, undefined);
    assert.equal(o.metrics, undefined);
    assert.equal(o.maxFileBytes, TELEGRAM_DEFAULTS.maxFileBytes);
    assert.equal(o.graceMs, 25_000);
  });

  test('the API root loses its trailing slash; a bad one is refused', () => {
    assert.equal(telegramOptionsOf({}, { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: 'http://127.0.0.1:8081/' }).apiRoot, 'http://127.0.0.1:8081');
    assert.throws(() => telegramOptionsOf({}, { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: 'ftp://x' }), /TELEGRAM_API_ROOT/);
  });

  test('webhook: https, the secret required, listening on loopback by default', () => {
    const env = { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: 'a'.repeat(32) };
    const o = telegramOptionsOf({ webhook: 'https://bot.example.com/tg' }, env);
    assert.equal(o.webhook?.url.pathname, '/tg');
    assert.equal(o.webhook?.host, '127.0.0.1');
    assert.equal(o.webhook?.port, 8081);
    assert.throws(() => telegramOptionsOf({ webhook: 'https://bot.example.com/tg' }, { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: 'short' }), /16 to 256/);
    assert.throws(() => telegramOptionsOf({ webhook: 'http://bot.example.com/tg' }, env), /only to https/);
    assert.equal(telegramOptionsOf({ webhook: 'http://127.0.0.1:8081/tg' }, env).webhook?.url.hostname, '127.0.0.1');
  });

  test('messages about a bad token never quote it', () => {
    const bad = `${TOKEN}!`;
    assert.throws(
      () => telegramOptionsOf({}, { TELEGRAM_BOT_TOKEN: bad }),
      (err: Error) => !err.message.includes('AAHfiqks') && /does not look like a bot token/.test(err.message),
    );
  });
});

describe('Redactor', () => {
  const r = new Redactor([TOKEN, 'webhook-secret-123456']);

  test('removes the token, its URL-encoded form, token-shaped strings and the secret', () => {
    const text = `request to http://h/bot${TOKEN}/getMe failed; ${encodeURIComponent(TOKEN)}; other 987654321:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ; webhook-secret-123456`;
    const out = r.text(text);
    assert.ok(!out.includes('AAHfiqks'));
    assert.ok(!out.includes('ZZZZZZZZ'));
    assert.ok(!out.includes('webhook-secret'));
    assert.match(out, /bot<redacted>\/getMe/);
  });

  test('describes an error with its inner errors, redacted', () => {
    const inner = new Error(`request to http://127.0.0.1/bot${TOKEN}/sendMessage failed, reason: socket hang up`);
    const outer = Object.assign(new Error("Network request for 'sendMessage' failed!"), { error: inner });
    assert.equal(r.describe(outer), "Network request for 'sendMessage' failed!: request to http://127.0.0.1/bot<redacted>/sendMessage failed, reason: socket hang up");
    assert.equal(r.describe(new Error('a', { cause: new Error(`b ${TOKEN}`) })), 'a: b <redacted>');
  });
});

describe('ChatRateLimiter', () => {
  test('a full bucket per chat, refilled evenly; told once, then silence', () => {
    let now = 0;
    const limiter = new ChatRateLimiter(3, 100, () => now);
    for (let i = 0; i < 3; i++) assert.deepEqual(limiter.take(1), { allowed: true });
    assert.deepEqual(limiter.take(1), { allowed: false, retrySeconds: 20, notify: true });
    assert.equal((limiter.take(1) as { notify: boolean }).notify, false);
    assert.deepEqual(limiter.take(2), { allowed: true }, 'another chat has its own bucket');
    now += 20_000; // one message's worth
    assert.deepEqual(limiter.take(1), { allowed: true });
    assert.equal((limiter.take(1) as { notify: boolean }).notify, true, 'told again after a refill');
  });

  test('the table is bounded, least recently used forgotten first', () => {
    const limiter = new ChatRateLimiter(1, 2, () => 0);
    limiter.take(1);
    limiter.take(2);
    limiter.take(1); // 1 is now the most recent
    limiter.take(3); // forgets 2
    assert.equal(limiter.size, 2);
    assert.deepEqual(limiter.take(2), { allowed: true }, 'a forgotten chat starts with a full bucket');
    assert.equal(limiter.take(3).allowed, false);
  });
});

describe('imageFileOf', () => {
  const base = { message_id: 1, date: 0, chat: { id: 1, type: 'private' as const, first_name: 'x' } };
  const photo = (id: string, side: number, size?: number) => ({ file_id: id, file_unique_id: id, width: side, height: side, file_size: size });

  test('the largest photo size, or the largest within the limit', () => {
    const m = { ...base, photo: [photo('s', 90, 1_000), photo('l', 1280, 200_000), photo('m', 320, 20_000)] } as Message;
    assert.deepEqual(imageFileOf(m, 1_000_000), { fileId: 'l', size: 200_000, source: 'photo' });
    assert.equal(imageFileOf(m, 50_000)?.fileId, 'm');
    assert.equal(imageFileOf(m, 10)?.fileId, 'l', 'none fits: the largest, refused later as too large');
  });

  test('documents: images by type or name; others are no image; text is no file', () => {
    const doc = (mime?: string, name?: string) => ({ ...base, document: { file_id: 'd', file_unique_id: 'd', mime_type: mime, file_name: name, file_size: 5 } }) as Message;
    assert.equal(imageFileOf(doc('image/png'), 100)?.source, 'document');
    assert.equal(imageFileOf(doc(undefined, 'IMG_1.JPEG'), 100)?.source, 'document');
    assert.equal(imageFileOf(doc('application/pdf', 'menu.pdf'), 100), undefined);
    assert.equal(imageFileOf({ ...base, text: 'hi' } as Message, 100), null);
  });
});

describe('replies', () => {
  test('language from language_code', () => {
    assert.equal(langOf('fr'), 'fr');
    assert.equal(langOf('fr-CA'), 'fr');
    assert.equal(langOf('de'), 'en');
    assert.equal(langOf(undefined), 'en');
  });

  test('an answer with confidence and runners-up, in both languages', () => {
    const answer = { outcome: 'recognised' as const, predictions: [{ label: 'Banana', score: 0.8734 }, { label: 'Plantain', score: 0.1 }, { label: 'Lemon', score: 0.004 }] };
    assert.equal(replyText(answer, 'en', 119), '🍎 Banana (87%)\nOr perhaps: Plantain (10%), Lemon (<1%)');
    assert.equal(replyText(answer, 'fr', 119), '🍎 Banana (87\u00a0%)\nOu peut-être : Plantain (10\u00a0%), Lemon (<1\u00a0%)');
    assert.equal(replyText({ outcome: 'recognised', predictions: [{ label: 'Kiwi', score: 1 }] }, 'en', 2), '🍎 Kiwi (100%)');
  });

  test('unknown, too large, help', () => {
    assert.match(replyText({ outcome: 'unknown' }, 'en', 3), /I don’t recognise this one/);
    assert.match(replyText({ outcome: 'unknown' }, 'fr', 3), /Je ne reconnais pas celui-ci/);
    assert.match(replyText({ outcome: 'too_large', limitBytes: 10 * 1024 * 1024 }, 'en', 3), /over 10 MB/);
    assert.match(replyText({ outcome: 'too_large', limitBytes: 1.5 * 1024 * 1024 }, 'fr', 3), /plus de 1,5\u00a0Mo/);
    assert.match(replyText({ outcome: 'help', start: true }, 'en', 119), /^Hello! 👋\n\nI recognise fruits[\s\S]*I know 119 kinds/);
  });
});
