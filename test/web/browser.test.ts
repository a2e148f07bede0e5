/** The browser tests' skip rule: no Chromium → loud skip locally, failure under CI=true; CHROMIUM_PATH is honoured. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { chromiumOrSkip, findChromium, SKIP_MESSAGE } from './browser.js';

function fakeContext(): { name: string; skipped: string[]; skip(msg?: string): void } {
  const skipped: string[] = [];
  return { name: 'fake', skipped, skip: (msg?: string) => void skipped.push(msg ?? '') };
}

test('findChromium: CHROMIUM_PATH wins and must exist; else the first candidate present; else null', () => {
  assert.equal(findChromium({ CHROMIUM_PATH: process.execPath }, []), process.execPath);
  assert.throws(() => findChromium({ CHROMIUM_PATH: '/nonexistent/chromium' }), /CHROMIUM_PATH=\/nonexistent\/chromium does not exist/);
  assert.equal(findChromium({}, ['/nonexistent/a', process.execPath]), process.execPath);
  assert.equal(findChromium({}, ['/nonexistent/a', '/nonexistent/b']), null);
});

test('chromiumOrSkip: found → path; missing → warning + skip; missing under CI=true → failure', (t) => {
  const warn = t.mock.method(console, 'warn', () => undefined);
  const ok = fakeContext();
  assert.equal(chromiumOrSkip(ok, '/usr/bin/chromium', {}), '/usr/bin/chromium');
  assert.deepEqual(ok.skipped, []);

  const local = fakeContext();
  assert.equal(chromiumOrSkip(local, null, {}), null);
  assert.deepEqual(local.skipped, [SKIP_MESSAGE]);
  assert.equal(warn.mock.callCount(), 1);
  assert.match(String(warn.mock.calls[0].arguments[0]), /SKIPPED test "fake": chromium not installed: apt-get install chromium/);

  const ci = fakeContext();
  assert.throws(() => chromiumOrSkip(ci, null, { CI: 'true' }), /chromium not installed.*CI=true/);
  assert.deepEqual(ci.skipped, []);
});
