// `fruits telegram` as a user runs it (the compiled CLI in a child process) against a stand-in
// Bot API server on loopback, with a bundle trained on the mini dataset: real photos get their
// label, in the user's language; a document that is no image, an undecodable image, a file
// over the limit (refused before any download), a failed download, a cut connection: a polite
// answer and the bot goes on; the rate limit; metrics; SIGTERM answers the photo in flight;
// webhook mode refuses requests without the secret; the token appears in no output.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { BotApiStandIn } from './helpers/bot-api.js';
import { collect, errorLines, runCli, show, spawnCli, type CliResult } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { miniTestDir } from './helpers/paths.js';
import { miniFeatures, trainBundle } from './classify-fixtures.js';

const TOKEN = '5123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0';
const TOKEN_SECRET_PART = TOKEN.split(':')[1];
const WEBHOOK_SECRET = 'test-webhook-secret-0123456789abcdef';

/** A running bot process: its output so far, and a way to wait for a line of it. */
class BotProcess {
  stderr = '';
  stdout = '';
  readonly done: Promise<CliResult>;

  constructor(readonly child: ChildProcess) {
    child.stderr!.on('data', (d: Buffer | string) => (this.stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer | string) => (this.stdout += d.toString()));
    this.done = collect(child);
  }

  async line(pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      const m = pattern.exec(this.stderr);
      if (m) return m;
      const exited = await Promise.race([this.done.then(() => true), new Promise<false>((r) => this.child.stderr!.once('data', () => r(false)))]);
      if (exited) {
        const m2 = pattern.exec(this.stderr);
        if (m2) return m2;
        throw new Error(`the bot exited before printing ${pattern}:\n${this.stderr}`);
      }
    }
  }
}

/** Sends `head` then `body` on a raw socket (without finishing the request) and returns all the server answers until it closes. */
function rawExchange(port: number, head: string, body: Buffer | string = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(head);
      if (body.length) socket.write(body);
    });
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
    socket.on('close', () => resolve(answer));
  });
}

function startBot(bundle: string, api: BotApiStandIn, args: string[] = [], env: Record<string, string | undefined> = {}): BotProcess {
  return new BotProcess(spawnCli(['telegram', bundle, '--threads', '1', ...args], { env: { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: api.url, ...env } }));
}

/** The label and percentage of an answer's first line ("🍎 Banana (97%)"). */
function topAnswer(text: string): { label: string; percent: string } {
  const m = /^🍎 (.+) \((<1|\d+)\u00a0?%\)$/mu.exec(text);
  assert.ok(m, `not an answer: ${text}`);
  return { label: m[1], percent: m[2] };
}

function assertNoToken(output: string): void {
  assert.ok(!output.includes(TOKEN_SECRET_PART), 'the token appears in the output');
  assert.ok(!output.includes(encodeURIComponent(TOKEN)), 'the URL-encoded token appears in the output');
}

describe('fruits telegram', () => {
  let dir: string;
  let bundle: string;
  const photos: Record<string, Buffer> = {};

  before(async () => {
    const data = await miniFeatures();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-telegram-'));
    bundle = path.join(dir, 'bundle');
    // Default training: a held-out slice, so the bundle carries novelty data.
    await trainBundle(data.train, bundle);
    for (const key of ['Banana/15_100.jpg', 'Kiwi/34_100.jpg', 'Lemon/39_100.jpg']) photos[key.split('/')[0]] = await fs.readFile(path.join(miniTestDir, key));
  });

  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  describe('long polling', () => {
    let api: BotApiStandIn;
    let bot: BotProcess;
    let metricsUrl: string;

    before(async () => {
      api = await BotApiStandIn.start(TOKEN);
      // DEBUG turns on grammY's own debug output: it must not leak the token either.
      bot = startBot(bundle, api, ['--metrics-port', '0', '--rate-limit', '3'], { DEBUG: 'grammy*' });
      metricsUrl = (await bot.line(/metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/))[1];
      await api.waitFor((calls) => calls.find((c) => c.method === 'getUpdates'), 'the first getUpdates');
    });

    after(async () => {
      if (bot.child.exitCode === null) bot.child.kill('SIGKILL');
      await api.close();
    });

    test('deletes any webhook before polling, and asks for messages only', () => {
      const methods = api.calls.map((c) => c.method);
      assert.ok(methods.indexOf('getMe') < methods.indexOf('deleteWebhook'));
      assert.ok(methods.indexOf('deleteWebhook') < methods.indexOf('getUpdates'));
      assert.deepEqual(api.calls.find((c) => c.method === 'getUpdates')!.payload.allowed_updates, ['message']);
    });

    test('/start and /help explain, in French or English', async () => {
      api.pushMessage({ text: '/start', entities: [{ type: 'bot_command', offset: 0, length: 6 }] }, { id: 11, language_code: 'fr' });
      const fr = await api.replyTo(11);
      assert.match(fr, /^Bonjour/);
      assert.match(fr, /Je reconnais les fruits/);
      assert.match(fr, /119 sortes|\d+ sortes/);
      api.pushMessage({ text: '/help@fruits_test_bot', entities: [{ type: 'bot_command', offset: 0, length: 21 }] }, { id: 12, language_code: 'en-GB' });
      const en = await api.replyTo(12);
      assert.match(en, /^I recognise fruits/);
      assert.match(en, /Send me a photo/);
    });

    test('a photo gets the right label from its largest size, with runners-up', async () => {
      // The small size is another fruit: answering from it would give the wrong label.
      const thumb = await sharp(photos.Kiwi).resize(40, 40).jpeg().toBuffer();
      api.addFile('banana-small', { bytes: thumb });
      api.addFile('banana-large', { bytes: photos.Banana });
      api.pushMessage(
        {
          photo: [
            { file_id: 'banana-small', file_unique_id: 'bs', width: 40, height: 40, file_size: thumb.length },
            { file_id: 'banana-large', file_unique_id: 'bl', width: 100, height: 100, file_size: photos.Banana.length },
          ],
        },
        { id: 21 },
      );
      const text = await api.replyTo(21);
      assert.equal(topAnswer(text).label, 'Banana');
      assert.match(text, /\nOr perhaps: .+ \((\d+|<1)%\)$/);
      assert.equal(text.split('\n')[1].split(', ').length, 2, 'two runners-up (--top 3)');
      assert.ok(api.calls.some((c) => c.method === 'getFile' && c.payload.file_id === 'banana-large'));
      assert.ok(!api.calls.some((c) => c.method === 'getFile' && c.payload.file_id === 'banana-small'));
      // Sent as a reply to the photo.
      const send = api.calls.find((c) => c.method === 'sendMessage' && c.payload.chat_id === 21)!;
      assert.equal(typeof send.payload.reply_parameters?.message_id, 'number');
    });

    test('an image sent as a file is recognised too, in French for a French user', async () => {
      api.addFile('kiwi-doc', { bytes: photos.Kiwi });
      api.pushMessage({ document: { file_id: 'kiwi-doc', file_unique_id: 'kd', file_name: 'IMG_0042.JPG', mime_type: 'image/jpeg', file_size: photos.Kiwi.length } }, { id: 22, language_code: 'fr' });
      const text = await api.replyTo(22);
      assert.equal(topAnswer(text).label, 'Kiwi');
      assert.match(text, /\nOu peut-être : /);
      assert.match(text, /\u00a0%/);
    });

    test('a document that is no image gets a hint, and the bot stays up', async () => {
      api.addFile('notes', { bytes: Buffer.from('shopping list: bananas\n') });
      api.pushMessage({ document: { file_id: 'notes', file_unique_id: 'n', file_name: 'notes.txt', mime_type: 'text/plain', file_size: 23 } }, { id: 31 });
      assert.match(await api.replyTo(31), /could not read an image/);
      assert.ok(!api.calls.some((c) => c.method === 'getFile' && c.payload.file_id === 'notes'), 'a text file is not even fetched');
      // An "image" that does not decode: fetched, refused politely.
      api.addFile('fake-jpeg', { bytes: Buffer.from('this is not a JPEG at all, only text') });
      api.pushMessage({ document: { file_id: 'fake-jpeg', file_unique_id: 'f', file_name: 'photo.jpg', mime_type: 'image/jpeg', file_size: 36 } }, { id: 32 });
      assert.match(await api.replyTo(32), /could not read an image/);
      // Still answering.
      api.addFile('lemon', { bytes: photos.Lemon });
      api.pushMessage({ photo: [{ file_id: 'lemon', file_unique_id: 'l', width: 100, height: 100, file_size: photos.Lemon.length }] }, { id: 33 });
      assert.equal(topAnswer(await api.replyTo(33)).label, 'Lemon');
    });

    test('a file over the limit is refused without downloading it', async () => {
      api.addFile('huge', { bytes: photos.Banana, declaredSize: 50 * 1024 * 1024 });
      api.pushMessage({ document: { file_id: 'huge', file_unique_id: 'h', file_name: 'scan.png', mime_type: 'image/png', file_size: 50 * 1024 * 1024 } }, { id: 41 });
      assert.match(await api.replyTo(41), /too large for me \(over 10 MB\)/);
      // Declared only by getFile (the message said nothing): refused before the download too.
      api.addFile('huge-undeclared', { bytes: photos.Banana, declaredSize: 30 * 1024 * 1024 });
      api.pushMessage({ document: { file_id: 'huge-undeclared', file_unique_id: 'hu', file_name: 'scan2.png', mime_type: 'image/png' } }, { id: 42 });
      assert.match(await api.replyTo(42), /too large/);
      assert.ok(!api.calls.some((c) => c.method === 'getFile' && c.payload.file_id === 'huge'), 'no getFile for a file declared too large');
      assert.ok(api.calls.some((c) => c.method === 'getFile' && c.payload.file_id === 'huge-undeclared'));
      assert.deepEqual(api.downloads, ['banana-large', 'kiwi-doc', 'fake-jpeg', 'lemon'], 'only the files answered above were downloaded');
    });

    test('a photo the bundle does not recognise (novelty) is answered "I don’t recognise this one"', async () => {
      // The mini Test set has one class the Training set lacks: the bundle's own verdicts on its
      // photos (fruits predict, the same classifier code) say which it flags as unknown.
      const dirOf = path.join(miniTestDir, 'Tomato Yellow');
      const r = await runCli(['predict', bundle, dirOf, '--json', '--threads', '1']);
      assert.equal(r.code, 0, show(r));
      const rows = JSON.parse(r.stdout) as { path: string; unknown?: boolean }[];
      const flagged = rows.find((row) => row.unknown === true);
      assert.ok(flagged, 'the bundle flags at least one photo of the class it was never trained on');
      const bytes = await fs.readFile(flagged.path);
      api.addFile('unknown-fruit', { bytes });
      api.pushMessage({ photo: [{ file_id: 'unknown-fruit', file_unique_id: 'uf', width: 100, height: 100, file_size: bytes.length }] }, { id: 35 });
      const text = await api.replyTo(35);
      assert.match(text, /I don’t recognise this one/);
      assert.doesNotMatch(text, /🍎/, 'no fruit named');
    });

    test('a failed download and a cut connection: a polite answer or a redacted log line, and the bot goes on', async () => {
      api.addFile('broken', { bytes: photos.Banana, fail: 'error' });
      api.pushMessage({ photo: [{ file_id: 'broken', file_unique_id: 'b', width: 100, height: 100, file_size: photos.Banana.length }] }, { id: 51 });
      assert.match(await api.replyTo(51), /could not fetch your photo/);
      // The reply's own connection is cut: grammY's error holds the URL, with the token in it.
      api.cutSendTo.add(52);
      const before = api.calls.length;
      api.pushMessage({ text: 'hello' }, { id: 52 });
      await api.waitFor((calls) => calls.slice(before).find((c) => c.method === 'sendMessage' && c.payload.chat_id === 52), 'the cut reply');
      await bot.line(/could not send a reply \(hint\): .*sendMessage/);
      assert.match(bot.stderr, /<redacted>/);
      api.pushMessage({ text: 'hello' }, { id: 53 });
      assert.match(await api.replyTo(53), /^Send me a photo of a fruit/);
    });

    test('a Bot API out of reach is said once, and its return; updates then flow again', async () => {
      await api.waitFor((calls) => (calls.at(-1)?.method === 'getUpdates' ? true : undefined), 'a waiting long poll');
      api.cutPolls();
      await bot.line(/Bot API call getUpdates failed: .*\(grammY retries\)/);
      // (The next poll returns at once with this message: a long poll answers when it has one.)
      api.pushMessage({ text: 'hello' }, { id: 54 });
      assert.match(await api.replyTo(54), /^Send me a photo/);
      await bot.line(/the Bot API answers again/);
      assert.equal(bot.stderr.match(/Bot API call getUpdates failed/g)?.length, 1);
    });

    test('per-chat rate limit: told once, then ignored; other chats are served', async () => {
      for (let i = 0; i < 6; i++) api.pushMessage({ text: `message ${i}` }, { id: 61 });
      api.pushMessage({ text: 'hello' }, { id: 62 });
      await api.replyTo(62);
      const replies = api.sentTo(61);
      assert.equal(replies.length, 4, replies.join(' | '));
      assert.match(replies[3], /Please wait \d+ s/);
    });

    test('metrics count photos, answers by outcome and latency', async () => {
      const text = await (await fetch(metricsUrl)).text();
      const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
      assert.equal(value(/^fruits_telegram_answers_total\{outcome="recognised"\} (\d+)/m), 3);
      assert.equal(value(/^fruits_telegram_answers_total\{outcome="not_image"\} (\d+)/m), 2);
      assert.equal(value(/^fruits_telegram_answers_total\{outcome="unknown"\} (\d+)/m), 1);
      assert.equal(value(/^fruits_telegram_answers_total\{outcome="too_large"\} (\d+)/m), 2);
      assert.equal(value(/^fruits_telegram_answers_total\{outcome="download_failed"\} (\d+)/m), 1);
      assert.equal(value(/^fruits_telegram_answers_total\{outcome="rate_limited"\} (\d+)/m), 1);
      assert.equal(value(/^fruits_telegram_photos_total\{source="photo"\} (\d+)/m), 4);
      assert.equal(value(/^fruits_telegram_answer_duration_seconds_count\{outcome="recognised"\} (\d+)/m), 3);
      assert.ok(value(/^fruits_inference_batch_size_count (\d+)/m) >= 1);
      assert.ok(value(/^fruits_telegram_api_errors_total\{method="sendMessage"\} (\d+)/m) >= 1);
      const health = await fetch(metricsUrl.replace('/metrics', '/healthz'));
      assert.equal(health.status, 200);
    });

    test('SIGTERM: the photo in flight is answered, then the bot exits 0; the token is in no output', async () => {
      const release = api.holdDownloads();
      api.addFile('lemon-2', { bytes: photos.Lemon });
      api.pushMessage({ photo: [{ file_id: 'lemon-2', file_unique_id: 'l2', width: 100, height: 100, file_size: photos.Lemon.length }] }, { id: 71 });
      await api.waitFor((_calls, downloads) => (downloads.includes('lemon-2') ? true : undefined), 'the held download');
      bot.child.kill('SIGTERM');
      await bot.line(/SIGTERM: stopping/);
      await bot.line(/answering 1 photo in flight/);
      release();
      assert.equal(topAnswer(await api.replyTo(71)).label, 'Lemon');
      const r = await bot.done;
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, /stopped/);
      assertNoToken(r.stdout + r.stderr);
    });
  });

  describe('webhook', () => {
    let api: BotApiStandIn;
    let bot: BotProcess;
    let base: string;

    before(async () => {
      api = await BotApiStandIn.start(TOKEN);
      const port = await freePort();
      bot = startBot(bundle, api, ['--webhook', 'https://bot.example.test/hooks/fruits', '--port', String(port)], { TELEGRAM_WEBHOOK_SECRET: WEBHOOK_SECRET });
      await api.waitFor((calls) => calls.find((c) => c.method === 'setWebhook'), 'setWebhook');
      base = `http://127.0.0.1:${port}`;
    });

    after(async () => {
      if (bot.child.exitCode === null) bot.child.kill('SIGKILL');
      await api.close();
    });

    const update = (chatId: number, text: string) =>
      JSON.stringify({ update_id: chatId * 10, message: { message_id: 1, date: 1, chat: { id: chatId, type: 'private' }, from: { id: chatId, is_bot: false, first_name: 'T', language_code: 'en' }, text, entities: text.startsWith('/') ? [{ type: 'bot_command', offset: 0, length: text.length }] : undefined } });
    const post = (body: string, headers: Record<string, string> = {}, url = `${base}/hooks/fruits`) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

    test('sets the webhook with its secret', () => {
      const set = api.calls.find((c) => c.method === 'setWebhook')!;
      assert.equal(set.payload.url, 'https://bot.example.test/hooks/fruits');
      assert.equal(set.payload.secret_token, WEBHOOK_SECRET);
    });

    test('a wrong or missing secret is refused with 401 and the update is not handled', async () => {
      for (const headers of [{ 'x-telegram-bot-api-secret-token': 'wrong-secret-0123456789abcdef' }, {}] as Record<string, string>[]) {
        const res = await post(update(81, '/start'), headers);
        assert.equal(res.status, 401);
        assert.deepEqual(((await res.json()) as { error: { status: number; code: string } }).error.status, 401);
      }
      const ok = await post(update(82, '/start'), { 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET });
      assert.equal(ok.status, 200);
      assert.match(await api.replyTo(82), /I recognise fruits/);
      assert.deepEqual(api.sentTo(81), []);
    });

    test('client errors are 4xx in the documented shape', async () => {
      const secret = { 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET };
      const cases: [Promise<Response>, number, string][] = [
        [post('{"update_id": 1', secret), 400, 'bad_json'],
        [post('{"message": {}}', secret), 400, 'bad_update'],
        [post('x'.repeat(2 * 1024 * 1024), secret), 413, 'payload_too_large'],
        [post(update(83, 'hi'), { ...secret, 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
        [post(update(83, 'hi'), secret, `${base}/elsewhere`), 404, 'not_found'],
        [fetch(`${base}/hooks/fruits`), 405, 'method_not_allowed'],
      ];
      for (const [pending, status, code] of cases) {
        const res = await pending;
        assert.equal(res.status, status, code);
        const body = (await res.json()) as { error: { status: number; code: string; message: string } };
        assert.deepEqual({ status: body.error.status, code: body.error.code }, { status, code });
        assert.equal(typeof body.error.message, 'string');
      }
    });

    test('a body that does not arrive is answered 408 and closed; an endless chunked body 413 without reading it all', async () => {
      const port = Number(new URL(base).port);
      const head = (extra: string) => `POST /hooks/fruits HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-telegram-bot-api-secret-token: ${WEBHOOK_SECRET}\r\n${extra}\r\n`;
      const slow = await rawExchange(port, head('content-length: 100\r\n'), '{"upd');
      assert.match(slow, /^HTTP\/1\.1 408 /);
      assert.match(slow, /"code":"request_timeout"/);
      // 1.5 MiB of one chunk, the request never finished: refused as soon as it is over 1 MiB.
      const chunk = Buffer.alloc(1.5 * 1024 * 1024, 0x20);
      const big = await rawExchange(port, head('transfer-encoding: chunked\r\n'), Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk]));
      assert.match(big, /^HTTP\/1\.1 413 /);
      assert.match(big, /"code":"payload_too_large"/);
    });

    test('SIGTERM stops it with exit 0; the token and the secret are in no output', async () => {
      bot.child.kill('SIGTERM');
      const r = await bot.done;
      assert.equal(r.code, 0, show(r));
      assertNoToken(r.stdout + r.stderr);
      assert.ok(!(r.stdout + r.stderr).includes(WEBHOOK_SECRET));
      assert.ok(!api.calls.some((c) => c.method === 'deleteWebhook'), 'the webhook stays set across restarts');
    });
  });

  test('a token the Bot API refuses: one line, exit 1, before the model loads, without the token', async () => {
    const api = await BotApiStandIn.start('999999999:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    try {
      const r = await runCli(['telegram', bundle], { env: { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: api.url } });
      assert.equal(r.code, 1, show(r));
      assert.deepEqual(errorLines(r.stderr), ['fruits: error: the Bot API refused the token (401 Unauthorized): check TELEGRAM_BOT_TOKEN']);
      assert.doesNotMatch(r.stderr, /loading/);
      assertNoToken(r.stdout + r.stderr);
    } finally {
      await api.close();
    }
  });
});

describe('fruits telegram: usage errors', () => {
  const cases: [string, string[], Record<string, string | undefined>, RegExp][] = [
    ['no token', [], { TELEGRAM_BOT_TOKEN: undefined }, /TELEGRAM_BOT_TOKEN is not set/],
    ['a malformed token', [], { TELEGRAM_BOT_TOKEN: 'not-a-token' }, /does not look like a bot token/],
    ['a plain-HTTP public webhook', ['--webhook', 'http://bot.example.com/hook'], { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: WEBHOOK_SECRET }, /only to https/],
    ['a webhook without its secret', ['--webhook', 'https://bot.example.com/hook'], { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: undefined }, /needs TELEGRAM_WEBHOOK_SECRET/],
    ['--port without --webhook', ['--port', '8081'], { TELEGRAM_BOT_TOKEN: TOKEN }, /need --webhook/],
  ];
  for (const [name, args, env, message] of cases) {
    test(name, async () => {
      const r = await runCli(['telegram', 'no-such-bundle', ...args], { env });
      assert.equal(r.code, 2, show(r));
      const lines = errorLines(r.stderr);
      assert.equal(lines.length, 1, show(r));
      assert.match(lines[0], /^fruits: error: /);
      assert.match(lines[0], message);
      assertNoToken(r.stdout + r.stderr);
    });
  }

  test('--help names the environment variables and examples', async () => {
    const r = await runCli(['telegram', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /TELEGRAM_BOT_TOKEN/);
    assert.match(r.stdout, /--webhook <url>/);
    assert.match(r.stdout, /Examples:/);
  });
});
