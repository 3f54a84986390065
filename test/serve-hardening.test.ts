// `fruits serve` against slow, idle, malformed and hostile clients, over real sockets on
// loopback: slow bodies get 408 and are closed, idle sockets are closed, malformed requests and
// forms get a 4xx in the error shape (logged at info, no stack), an over-limit chunked form is
// cut at the limit, one address cannot take every connection, 40 slow uploads (from 40 addresses)
// do not keep normal clients from their 200s, and SIGTERM ends with slow clients attached.
// Nothing here compares durations: every deadline is short in the test, and the assertions are
// on status codes, error codes and counts.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildServer, type BuildOptions, type ServerHandle } from '../src/serve/server.js';
import { collect, spawnCli } from './helpers/cli.js';
import { captureLogs } from './helpers/log-capture.js';
import { miniTestDir, sharedModelPath } from './helpers/paths.js';
import { serveFixture, type ServeFixture } from './helpers/serve-fixture.js';

const HEIC = fileURLToPath(new URL('../../test/fixtures/red-hevc.heic', import.meta.url));

interface ErrorBody {
  error: { status: number; code: string; message: string };
}

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** A raw HTTP/1.1 client on one socket: what it wrote, what came back, and when it closed. */
class RawClient {
  readonly socket: net.Socket;
  received = '';
  written = 0;
  readonly closed: Promise<void>;

  constructor(port: number, localAddress = '127.0.0.1') {
    this.socket = net.connect({ port, host: '127.0.0.1', localAddress });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => (this.received += d));
    this.socket.on('error', () => undefined); // a reset after the answer is expected here
    // (events.once would reject on the 'error' that a reset after the answer brings.)
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  connected(): Promise<void> {
    return this.socket.connecting ? new Promise((resolve) => this.socket.once('connect', () => resolve())) : Promise.resolve();
  }

  /** Writes unless the server has closed the connection; resolves once flushed (false: it is closed). */
  write(data: string | Buffer): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.socket.write(data, (err) => {
        if (!err) this.written += data.length;
        resolve(!err);
      });
    });
  }

  /** Sends `total` bytes of body one small piece at a time until the server answers or closes. */
  trickle(pieces: number, pause: number): Promise<void> {
    return (async () => {
      for (let i = 0; i < pieces && this.received === '' && !this.socket.destroyed; i++) {
        if (!(await this.write('x'))) return;
        await new Promise((r) => setTimeout(r, pause));
      }
    })();
  }

  /** The first answer on this socket (after the server closed it). */
  async answer(): Promise<RawAnswer> {
    await this.closed;
    return parseAnswer(this.received);
  }
}

function parseAnswer(text: string): RawAnswer {
  const m = /^HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
  if (!m) throw new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`);
  const length = /content-length: (\d+)/i.exec(m[2]);
  return { status: Number(m[1]), headers: m[2], body: length ? m[3].slice(0, Number(length[1])) : m[3] };
}

function errorOf(a: RawAnswer): ErrorBody['error'] {
  assert.match(a.headers, /content-type: application\/json/i, a.headers);
  const parsed = JSON.parse(a.body) as ErrorBody;
  assert.deepEqual(Object.keys(parsed.error).sort(), ['code', 'message', 'status']);
  assert.equal(parsed.error.status, a.status);
  return parsed.error;
}

const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

describe('fruits serve against slow, idle, malformed and hostile clients', () => {
  let fixture: ServeFixture;
  let photo: Buffer;
  const servers: ServerHandle[] = [];
  const { logger, logs } = captureLogs();

  async function start(over: Partial<BuildOptions> = {}): Promise<{ url: string; port: number; handle: ServerHandle }> {
    const handle = await buildServer(fixture.bundle, fixture.options({ logger, ...over }));
    servers.push(handle);
    await handle.ready;
    const url = await handle.app.listen({ port: 0, host: '127.0.0.1' });
    return { url, port: Number(new URL(url).port), handle };
  }

  const classify = (url: string, body: Buffer, type = 'image/jpeg', query = '') =>
    fetch(`${url}/v1/classify${query}`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(body) });

  before(async () => {
    fixture = await serveFixture('fruits-harden-');
    photo = await fs.readFile(path.join(miniTestDir, 'Banana', '15_100.jpg'));
  });
  after(async () => {
    for (const s of servers) await s.close();
    await fixture?.close();
  });

  test('a slow body gets 408 in the error shape and its connection closed; so do a silent socket and slow headers', async () => {
    const { port } = await start({ bodyTimeoutMs: 800 });
    const slow = new RawClient(port);
    await slow.connected();
    await slow.write(head(['POST /v1/classify HTTP/1.1', 'Host: localhost', 'Content-Type: image/jpeg', 'Content-Length: 100000']));
    const trickling = slow.trickle(100_000, 50);
    const silent = new RawClient(port);
    const slowHeaders = new RawClient(port);
    await slowHeaders.write('POST /v1/classify HTTP/1.1\r\nHost: localhost\r\n');
    for (const c of [slow, silent, slowHeaders]) {
      const a = await c.answer();
      assert.equal(a.status, 408, c.received);
      assert.equal(errorOf(a).code, 'request_timeout');
      assert.match(a.headers, /connection: close/i);
    }
    await trickling;
    assert.ok(slow.written < 100_000, 'the slow upload was cut before its end');
  });

  test('an idle keep-alive connection is closed after its answer', async () => {
    const { port } = await start({ keepAliveTimeoutMs: 300 });
    const c = new RawClient(port);
    await c.write(head(['GET /healthz HTTP/1.1', 'Host: localhost']));
    await c.closed; // nothing more is sent: only the server's idle timeout can end this
    const a = parseAnswer(c.received);
    assert.equal(a.status, 200);
    assert.match(a.headers, /keep-alive/i);
  });

  test('malformed HTTP: 400 and 431 in the error shape, logged at info without a stack', async () => {
    const { port } = await start();
    const before = logs.length;
    const garbage = new RawClient(port);
    await garbage.write('HELLO THERE\r\n\r\n');
    const bad = await garbage.answer();
    assert.deepEqual([bad.status, errorOf(bad).code], [400, 'bad_request']);
    const huge = new RawClient(port);
    await huge.write(head(['GET /healthz HTTP/1.1', 'Host: localhost', `X-Big: ${'a'.repeat(20_000)}`]));
    const big = await huge.answer();
    assert.deepEqual([big.status, errorOf(big).code], [431, 'headers_too_large']);
    const lines = logs.slice(before);
    assert.ok(lines.some((l) => /client error/.test(l.msg)), JSON.stringify(lines));
    assert.ok(lines.every((l) => l.level === 30 && !l.err && !l.stack), JSON.stringify(lines));
  });

  test('malformed forms are 400, too many parts 413 worded as such; each logged at info without a stack', async () => {
    const { url } = await start();
    const before = logs.length;
    const part = (boundary: string) =>
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n${photo.toString('latin1')}\r\n--${boundary}--\r\n`, 'latin1');
    const send = (type: string, body: Buffer) => fetch(`${url}/v1/classify`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(body) });
    const cases: [string, string, Buffer][] = [
      ['no boundary', 'multipart/form-data', part('abc')],
      ['wrong boundary', 'multipart/form-data; boundary=other', part('abc')],
      ['truncated', 'multipart/form-data; boundary=abc', part('abc').subarray(0, 2000)],
      ['no parts at all', 'multipart/form-data; boundary=abc', Buffer.from('garbage without any boundary line at all\r\n')],
    ];
    for (const [name, type, body] of cases) {
      const r = await send(type, body);
      const e = ((await r.json()) as ErrorBody).error;
      assert.deepEqual([r.status, e.status, e.code], [400, 400, 'bad_multipart'], `${name}: ${JSON.stringify(e)}`);
    }
    const fields = Array.from({ length: 14 }, (_, i) => `--abc\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv\r\n`).join('');
    const many = await send('multipart/form-data; boundary=abc', Buffer.from(`${fields}--abc--\r\n`));
    const e = ((await many.json()) as ErrorBody).error;
    assert.deepEqual([many.status, e.code], [413, 'too_many_parts']);
    assert.match(e.message, /too many parts/);
    assert.doesNotMatch(e.message, /larger than/);
    const lines = logs.slice(before);
    assert.equal(lines.filter((l) => /refused/.test(l.msg)).length, cases.length + 1, JSON.stringify(lines));
    assert.ok(lines.every((l) => l.level === 30 && !l.err && !l.stack), JSON.stringify(lines));
  });

  test('a client that goes away mid-upload, raw or in a form, is logged at info without a stack', async () => {
    const { url, port } = await start();
    const before = logs.length;
    for (const type of ['image/jpeg', 'multipart/form-data; boundary=abc']) {
      const c = new RawClient(port);
      await c.write(head(['POST /v1/classify HTTP/1.1', 'Host: localhost', `Content-Type: ${type}`, 'Content-Length: 100000']));
      await c.write(type.startsWith('multipart') ? '--abc\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n\r\n' + 'x'.repeat(5000) : 'x'.repeat(5000));
      // The server has the request once it answers a later one on another connection.
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      c.socket.destroy();
      await c.closed;
    }
    for (let i = 0; i < 50 && logs.slice(before).filter((l) => /client went away/.test(l.msg)).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const lines = logs.slice(before);
    assert.equal(lines.filter((l) => /client went away/.test(l.msg)).length, 2, JSON.stringify(lines));
    assert.ok(lines.every((l) => l.level === 30 && !l.err && !l.stack), JSON.stringify(lines));
    assert.equal((await classify(url, photo)).status, 200);
  });

  test('an over-limit chunked upload, in a form or raw, is answered 413 at the limit, the rest left unread', async () => {
    const { port } = await start({ maxBodyBytes: 256 * 1024 });
    const chunk = (data: Buffer) => Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    const formStart = '--abc\r\nContent-Disposition: form-data; name="photo"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n';
    for (const [type, preamble] of [
      ['multipart/form-data; boundary=abc', formStart],
      ['image/jpeg', ''],
    ]) {
      const c = new RawClient(port);
      await c.write(head(['POST /v1/classify HTTP/1.1', 'Host: localhost', `Content-Type: ${type}`, 'Transfer-Encoding: chunked']));
      if (preamble) await c.write(chunk(Buffer.from(preamble)));
      // Up to 256 MiB, in 64 KiB chunks, as long as the server keeps the connection open.
      const piece = chunk(Buffer.alloc(64 * 1024, 0x5a));
      const total = 4096;
      let sent = 0;
      while (sent < total && c.received === '' && (await c.write(piece))) sent++;
      const a = await c.answer();
      assert.deepEqual([a.status, errorOf(a).code], [413, 'payload_too_large'], type);
      // The kernel buffers a few MiB on loopback; reading to the end would take all 4096 pieces.
      assert.ok(sent < total / 4, `${type}: ${sent} of ${total} pieces were sent before the connection closed`);
    }
  });

  test('image types with parameters are images; top=1e1 is refused; HEIC is unsupported, not corrupt', async () => {
    const { url } = await start();
    assert.equal((await classify(url, photo, 'image/jpeg; charset=utf-8')).status, 200);
    for (const top of ['1e1', '0x5', '5.0', '+3', ' 3']) {
      const r = await classify(url, photo, 'image/jpeg', `?top=${encodeURIComponent(top)}`);
      assert.deepEqual([r.status, ((await r.json()) as ErrorBody).error.code], [400, 'bad_top'], top);
    }
    assert.equal((await classify(url, photo, 'image/jpeg', '?top=10')).status, 200);
    const heic = await classify(url, await fs.readFile(HEIC), 'image/heic');
    const e = ((await heic.json()) as ErrorBody).error;
    assert.deepEqual([heic.status, e.code], [415, 'unsupported_image'], JSON.stringify(e));
    assert.match(e.message, /HEVC/);
  });

  test('one address cannot take every connection: past the bound it gets 429, others are served', async () => {
    const { url, port } = await start({ maxClientConnections: 4 });
    const hogs = Array.from({ length: 6 }, () => new RawClient(port, '127.0.0.2'));
    await Promise.all(hogs.map((h) => h.connected()));
    const refused = await Promise.all(hogs.slice(4).map((h) => h.answer()));
    for (const a of refused) assert.deepEqual([a.status, errorOf(a).code], [429, 'too_many_connections']);
    assert.ok(hogs.slice(0, 4).every((h) => !h.socket.destroyed && h.received === ''), 'the first four are held open');
    assert.equal((await classify(url, photo)).status, 200);
    for (const h of hogs) h.socket.destroy();
  });

  test('behind a proxy (--trust-proxy) the rate limit counts clients from X-Forwarded-For; without it the header is ignored', async () => {
    const as = (url: string, client: string) =>
      fetch(`${url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-forwarded-for': client }, body: new Uint8Array(photo) }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      });
    const proxied = (await start({ trustProxy: ['127.0.0.1'], rateLimit: 2, maxClientConnections: 1 })).url;
    const statuses = [await as(proxied, '198.51.100.7'), await as(proxied, '198.51.100.7'), await as(proxied, '198.51.100.7'), await as(proxied, '198.51.100.8')];
    assert.deepEqual(statuses, [200, 200, 429, 200]);
    // Every connection comes from the proxy: the per-address connection bound (1 here) is off.
    const together = await Promise.all(Array.from({ length: 4 }, () => fetch(`${proxied}/healthz`).then((r) => r.status)));
    assert.deepEqual(together, [200, 200, 200, 200]);
    const direct = (await start({ rateLimit: 2 })).url;
    assert.deepEqual([await as(direct, '198.51.100.7'), await as(direct, '198.51.100.8'), await as(direct, '198.51.100.9')], [200, 200, 429]);
  });

  test('40 slow uploads from 40 addresses hold connections, not capacity: normal clients get their 200s', async () => {
    // Four classify slots: before admission waited for complete bodies, 40 slow uploads took them all.
    const { url, port } = await start({ maxQueue: 4, bodyTimeoutMs: 120_000 });
    const slow = Array.from({ length: 40 }, (_, i) => new RawClient(port, `127.0.0.${i + 2}`));
    await Promise.all(slow.map((c) => c.write(head(['POST /v1/classify HTTP/1.1', 'Host: localhost', 'Content-Type: image/jpeg', 'Content-Length: 100000']))));
    await Promise.all(slow.map((c) => c.write('x')));
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await classify(url, photo);
      statuses.push(r.status);
      await r.arrayBuffer();
      // The slow uploads keep sending meanwhile.
      await Promise.all(slow.map((c) => c.write('x')));
    }
    assert.deepEqual(statuses, Array(12).fill(200));
    assert.ok(
      slow.every((c) => !c.socket.destroyed && c.received === ''),
      'every slow upload was still open and unanswered while the normal clients were served',
    );
    for (const c of slow) c.socket.destroy();
  });

  test('SIGTERM with slow clients attached: they are answered 503 and closed, and the process exits 0', async () => {
    const child = spawnCli(['serve', path.join(fixture.dir, 'bundle'), '--port', '0', '--model', sharedModelPath, '--threads', '1', '--body-timeout', '600000', '--drain-timeout', '2000']);
    const result = collect(child);
    let log = '';
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        const m = /ready: POST http:\/\/[^:]+:(\d+)\/v1\/classify/.exec(log);
        if (m) resolve(Number(m[1]));
      });
      void result.then((r) => reject(new Error(`fruits serve exited (${r.code}) before it was ready:\n${log}`)));
    });
    const slow = Array.from({ length: 8 }, (_, i) => new RawClient(port, `127.0.1.${i + 2}`));
    await Promise.all(slow.map((c) => c.write(head(['POST /v1/classify HTTP/1.1', 'Host: localhost', 'Content-Type: image/jpeg', 'Content-Length: 100000']))));
    await Promise.all(slow.map((c) => c.write('x')));
    // Served on its own connection: the server is up and has read the slow requests' headers.
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const trickles = slow.map((c) => c.trickle(100_000, 100));
    child.kill('SIGTERM');
    const r = await result;
    assert.equal(r.code, 0, r.stderr);
    for (const c of slow) {
      const a = await c.answer();
      assert.deepEqual([a.status, errorOf(a).code], [503, 'shutting_down']);
    }
    await Promise.all(trickles);
  });
});
