// A real headless browser for tests: Debian's chromium driven by playwright-core. Playwright's
// own browser download is never used (tests must not fetch anything).
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Overridable for machines where chromium lives elsewhere; Debian's package by default. */
export const CHROMIUM_PATH = process.env.FRUITS_CHROMIUM ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no browser at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium) or set FRUITS_CHROMIUM`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

export interface OfflinePage {
  page: Page;
  context: BrowserContext;
  /** Every request the page tried that was not a file:// URL (all were aborted). */
  blockedRequests: string[];
  /** console.error messages and uncaught page errors. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * A page in a fresh context where only file:// requests are served; anything else is recorded
 * and aborted, so a test can prove a page needs no network.
 */
export async function openOfflinePage(
  browser: Browser,
  viewport: { width: number; height: number } = { width: 1280, height: 900 },
): Promise<OfflinePage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const blockedRequests: string[] = [];
  const errors: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file://')) return route.continue();
    blockedRequests.push(url);
    return route.abort('blockedbyclient');
  });
  // Requests route() cannot see (e.g. refused by the page's CSP) still fail here.
  page.on('requestfailed', (req) => {
    if (!req.url().startsWith('file://') && !blockedRequests.includes(req.url())) blockedRequests.push(req.url());
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return { page, context, blockedRequests, errors, close: () => context.close() };
}
