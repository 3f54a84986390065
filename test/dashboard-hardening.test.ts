// `fruits dashboard` against a hostile web: a foreign Host header (DNS rebinding) gets 421, the
// page carries CSP / frame / nosniff headers and loads nothing from elsewhere (checked in a real
// browser), basic auth from the environment guards it, off loopback it refuses to start without
// credentials, and its API answers 503 at once while Redis is down. Real Redis, real sockets.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startDashboard, type Dashboard } from '../src/runner/distributed/dashboard.js';
import { launchBrowser } from './helpers/browser.js';
import { errorLines, runCli } from './helpers/cli.js';
import { startRedis, type RedisServer } from './helpers/redis.js';

/** A GET with the Host header chosen (fetch does not let a test set it). */
function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('fruits dashboard against a hostile web', () => {
  let redis: RedisServer;
  const dashboards: Dashboard[] = [];
  const portOf = (d: Dashboard) => Number(new URL(d.url).port);

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const d of dashboards) await d.close();
    await redis?.stop();
  });

  async function dashboard(over: Partial<Parameters<typeof startDashboard>[0]> = {}): Promise<Dashboard> {
    const d = await startDashboard({ redisUrl: redis.url, prefix: 'fruits', host: '127.0.0.1', port: 0, readWrite: false, ...over });
    dashboards.push(d);
    return d;
  }

  test('only the Host names it serves: others get 421, before any data', async () => {
    const d = await dashboard({ allowedHosts: ['dash.internal.example'] });
    const port = portOf(d);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'dash.internal.example', `DASH.internal.example:${port}`]) {
      assert.equal((await get(port, '/api/queues', { host })).status, 200, host);
    }
    for (const host of ['evil.example.com', `evil.example.com:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io']) {
      const r = await get(port, '/api/queues', { host });
      assert.equal(r.status, 421, host);
      assert.doesNotMatch(r.body, /tasks/);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'misdirected');
    }
  });

  test('security headers, and a page that loads nothing from elsewhere in a real browser', async () => {
    const d = await dashboard();
    const page = await get(portOf(d), '/', { host: `localhost:${portOf(d)}` });
    assert.equal(page.status, 200);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /default-src 'self'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.doesNotMatch(page.body, /(href|src)="https?:\/\//);

    const browser = await launchBrowser();
    try {
      const context = await browser.newContext();
      const p = await context.newPage();
      const foreign: string[] = [];
      const problems: string[] = [];
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(d.url) || url.startsWith('data:')) return route.continue();
        foreign.push(url);
        return route.abort('blockedbyclient');
      });
      p.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      p.on('pageerror', (e) => problems.push(e.message));
      await p.goto(d.url);
      // bull-board renders the queue list once its scripts ran under the CSP and its API answered.
      await p.getByText('fruits:tasks').first().waitFor();
      assert.deepEqual(foreign, []);
      assert.deepEqual(problems, []);
      await context.close();
    } finally {
      await browser.close();
    }
  });

  test('basic auth from the environment; off loopback the command refuses to start without it', async () => {
    const d = await dashboard({ credentials: { user: 'ops', password: 's3cret-pass' } });
    const port = portOf(d);
    const host = `localhost:${port}`;
    const none = await get(port, '/api/queues', { host });
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Basic /);
    const wrong = await get(port, '/api/queues', { host, authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` });
    assert.equal(wrong.status, 401);
    const right = await get(port, '/api/queues', { host, authorization: `Basic ${Buffer.from('ops:s3cret-pass').toString('base64')}` });
    assert.equal(right.status, 200);

    const open = await runCli(['dashboard', '--redis', redis.url, '--host', '0.0.0.0', '--port', '0'], { env: { FRUITS_DASHBOARD_USER: undefined, FRUITS_DASHBOARD_PASSWORD: undefined } });
    assert.equal(open.code, 2, open.stderr);
    assert.match(errorLines(open.stderr).join('\n'), /^fruits: error: --host 0\.0\.0\.0: .*FRUITS_DASHBOARD_USER and FRUITS_DASHBOARD_PASSWORD/);
    const half = await runCli(['dashboard', '--redis', redis.url, '--port', '0'], { env: { FRUITS_DASHBOARD_USER: 'ops', FRUITS_DASHBOARD_PASSWORD: undefined } });
    assert.equal(half.code, 2, half.stderr);
  });

  test('with Redis down, the API answers 503 at once instead of hanging; back when Redis is', async () => {
    const d = await dashboard();
    const port = portOf(d);
    const host = `localhost:${port}`;
    assert.equal((await get(port, '/api/queues', { host })).status, 200);
    await redis.stop();
    // Until the client has seen the connection go, a request may fail on it (500); after, 503 at once.
    const statuses: number[] = [];
    let down: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 50 && !down; i++) {
      const r = await get(port, '/api/queues', { host });
      statuses.push(r.status);
      if (r.status === 503) down = r;
      else await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(down, statuses.join());
    assert.ok(statuses.every((s) => s === 500 || s === 503), statuses.join());
    assert.equal((JSON.parse(down.body) as { error: { code: string } }).error.code, 'redis_unavailable');
    assert.equal((await get(port, '/api/queues', { host })).status, 503);
    redis = await startRedis();
  });
});
