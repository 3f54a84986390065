// `fruits serve` in a child process and the page in a browser context that may load only from
// it: shared by the browser tests of the page (server path and on-device mode).
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { miniFeatures, trainBundle } from '../classify-fixtures.js';
import { launchBrowser } from './browser.js';
import { spawnCli } from './cli.js';

export interface Served {
  child: ChildProcess;
  url: string;
  exit: Promise<number | null>;
}

export async function serve(bundle: string, extra: string[] = []): Promise<Served> {
  const child = spawnCli(['serve', bundle, '--port', '0', ...extra]);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      const m = /ready: POST (http:\/\/\S+)\/v1\/classify/.exec(log);
      if (m) resolve(m[1]);
    });
    void exit.then((code) => reject(new Error(`fruits serve exited (${code}) before it was ready:\n${log}`)));
  });
  return { child, url, exit };
}

export interface Watched {
  page: Page;
  context: BrowserContext;
  foreign: string[];
  errors: string[];
}

/** A page that may load only from the server; anything else is recorded and refused. */
export async function openPage(
  browser: Browser,
  base: string,
  viewport: { width: number; height: number },
  mobile: boolean,
  init?: () => void,
): Promise<Watched> {
  const context = await browser.newContext({ viewport, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: mobile ? 2 : 1 });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  const foreign: string[] = [];
  const errors: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return { page, context, foreign, errors };
}

export interface PageFixture {
  /** A temporary folder holding the bundle; removed by close(). */
  dir: string;
  served: Served;
  browser: Browser;
  close(): Promise<void>;
}

/** A bundle trained on the mini Training features (extra `fruits train` flags), served, and a browser. */
export async function startPageFixture(prefix: string, trainArgs: string[]): Promise<PageFixture> {
  const data = await miniFeatures();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `fruits-${prefix}-`));
  await trainBundle(data.train, path.join(dir, 'bundle'), ['--holdout', '0', ...trainArgs]);
  const served = await serve(path.join(dir, 'bundle'));
  const browser = await launchBrowser();
  return {
    dir,
    served,
    browser,
    async close() {
      await browser.close();
      if (served.child.exitCode === null) {
        served.child.kill('SIGTERM');
        await served.exit;
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
