/**
 * Shared plumbing of the dashboard's browser tests: find a system Chromium (Debian's `chromium` package), launch it
 * headless through playwright-core, collect page errors, and save screenshots under test-artifacts/.
 * No Chromium → the test skips loudly; under CI (CI=true) that is a failure instead, as for other system packages.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { skipMissingSystemPackage } from '../helpers/system.js';
import { startTestServer } from '../service/helpers.js';

export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** CHROMIUM_PATH when set (it must exist), else the first Debian/Ubuntu location present, else null. */
export function findChromium(env: NodeJS.ProcessEnv = process.env, candidates: readonly string[] = CHROMIUM_CANDIDATES): string | null {
  const forced = env.CHROMIUM_PATH;
  if (forced) {
    assert.ok(existsSync(forced), `CHROMIUM_PATH=${forced} does not exist`);
    return forced;
  }
  return candidates.find((p) => existsSync(p)) ?? null;
}

export const SKIP_MESSAGE = 'chromium not installed: apt-get install chromium';

/**
 * The Chromium to use, or null after marking the test skipped (with a warning on stderr). Under CI=true a missing
 * Chromium fails the test: CI installs it (.ci/run), so its absence there is a broken setup, not a reason to skip.
 */
export function chromiumOrSkip(
  t: Pick<TestContext, 'name' | 'skip'>,
  exe: string | null = findChromium(),
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  if (exe) return exe;
  skipMissingSystemPackage(t, SKIP_MESSAGE, env);
  return null;
}

/** Flags for a headless Chromium on a shared, offline machine: no sandbox (root in containers), no GPU, no network chatter. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** A page whose uncaught exceptions and console errors are recorded, to be asserted empty at the end of a test. */
export async function newPage(browser: Browser, width = 1200, height = 900): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return { page, errors };
}

/** Full-page screenshot to test-artifacts/<name>.png (gitignored; CI keeps the folder); returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;

/**
 * The before/after hooks of every dashboard suite, registered in the calling describe block: a test server and a
 * headless Chromium, both only when Chromium is installed (each test still starts with `chromiumOrSkip(t)`, which
 * skips loudly or fails under CI). `setup` runs once the server is up, e.g. for uploads the suite's tests share.
 */
export function useDashboard(
  setup?: (server: TestServer) => Promise<void>,
  env: Record<string, string> = {},
): { readonly server: TestServer; readonly browser: Browser } {
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  before(async () => {
    const exe = findChromium();
    if (!exe) return;
    server = await startTestServer(env);
    browser = await launchChromium(exe);
    await setup?.(server);
  });
  after(async () => {
    await browser?.close();
    await server?.cleanup();
  });
  return {
    get server(): TestServer {
      assert.ok(server, 'the dashboard test server did not start');
      return server;
    },
    get browser(): Browser {
      assert.ok(browser, 'Chromium was not launched');
      return browser;
    },
  };
}
