/**
 * Debian's chromium (/usr/bin/chromium, installed by scripts/setup-host.sh) driven by playwright-core, for the
 * console's browser tests, screenshots and benchmark. Headless, with a fresh profile per launch (playwright makes
 * a new temporary user-data-dir for every launch and removes it on close). The network
 * here is closed: without the background-networking flags chromium keeps trying (and failing) to reach Google's
 * services.
 */
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.DSJOBS_CHROMIUM ?? '/usr/bin/chromium';

export interface TestBrowser {
  browser: Browser;
  /** A new context (its own cookies and storage) at a laptop-sized viewport by default. */
  context(opts?: { width?: number; height?: number }): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  return {
    browser,
    context: (o = {}) => browser.newContext({ viewport: { width: o.width ?? 1366, height: o.height ?? 768 }, acceptDownloads: true }),
    async close() {
      await browser.close();
    },
  };
}
