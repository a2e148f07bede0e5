/**
 * The dashboard's ranking page in a real browser against a real server: three fixtures ranked by mean alpha and by
 * mean log spectral norm from the page's form; the table's order and values follow WeightWatcher 0.7.5.5's per-layer
 * numbers (reference JSON), averaged here. The screenshot goes to test-artifacts/ranking.png.
 */
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { fixture, SHARED } from '../helpers/fixtures.js';
import { chromiumOrSkip, newPage, screenshot, useDashboard } from './browser.js';

const MODELS = [
  { file: fixture('fmnist-hessian', 'mlp48.safetensors'), name: 'mlp48', ref: 'fmnist-hessian-mlp48' },
  { file: fixture('gpt2-tiny', 'model.safetensors'), name: 'gpt2-tiny', ref: 'gpt2-tiny' },
  { file: fixture('fmnist-backdoor', 'model_a.safetensors'), name: 'backdoor-a', ref: 'fmnist-backdoor-model_a' },
];

/** Mean over WeightWatcher's PL rows of one column. */
function wwMean(ref: string, column: string): number {
  const layers = JSON.parse(readFileSync(`${SHARED}reference/weightwatcher/${ref}.json`, 'utf8')).fits.PL.layers as Record<
    string,
    number
  >[];
  return layers.reduce((a, l) => a + l[column], 0) / layers.length;
}

async function rank(page: Page, base: string, metric: string): Promise<{ rank: string; name: string; value: string }[]> {
  await page.goto(`${base}/#rank`);
  await page.waitForSelector('#rank-go');
  assert.equal(await page.locator('label.model-choice input:checked').count(), MODELS.length, 'every model preselected');
  await page.selectOption('#rank-metric', metric);
  await page.click('#rank-go');
  await page.waitForURL(/#rank\/[0-9a-f-]{36}$/);
  await page.waitForSelector('#ranking-table tr[data-model]', { timeout: 45_000 });
  return page.locator('#ranking-table tr[data-model]').evaluateAll((rows) =>
    rows.map((r) => {
      const [rank, name, value] = [...r.querySelectorAll('td')].map((td) => td.textContent ?? '');
      return { rank, name, value };
    }),
  );
}

describe('dashboard: ranking page', () => {
  const dash = useDashboard();

  test('three fixtures ranked by alpha, then by log_spectral_norm', { timeout: 90_000 }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server, browser } = dash;
    for (const m of MODELS) {
      const r = await fetch(`${server.url}/v1/models?name=${m.name}`, {
        method: 'POST',
        body: readFileSync(m.file),
        headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(r.status, 201, await r.text());
    }
    const { page, errors } = await newPage(browser);
    try {
      // Both metrics rank ascending by default (smaller mean = rank 1), and their orders differ on these three
      // models, so the table really follows the chosen metric.
      const expectedOf = (metric: string) => MODELS.map((m) => ({ name: m.name, v: wwMean(m.ref, metric) })).sort((x, y) => x.v - y.v);
      assert.notDeepEqual(
        expectedOf('alpha').map((e) => e.name),
        expectedOf('log_spectral_norm').map((e) => e.name),
      );
      for (const metric of ['alpha', 'log_spectral_norm']) {
        const expected = expectedOf(metric);
        const rows = await rank(page, server.url, metric);
        assert.deepEqual(
          rows.map((r) => r.name),
          expected.map((e) => e.name),
          `${metric}: order`,
        );
        assert.deepEqual(
          rows.map((r) => r.rank),
          ['1', '2', '3'],
        );
        rows.forEach((r, i) =>
          assert.ok(Math.abs(Number(r.value) - expected[i].v) <= 5e-4, `${metric} of ${r.name}: shown ${r.value}, WW ${expected[i].v}`),
        );
        assert.match(
          (await page.locator('[data-testid=ranking] p').first().textContent()) ?? '',
          new RegExp(`metric ${metric} \\(smaller is better\\)`),
        );
        assert.doesNotMatch((await page.locator('#view').textContent()) ?? '', /\b(null|undefined|NaN)\b/);
      }
      assert.deepEqual(errors, []);
    } finally {
      await screenshot(page, 'ranking');
      await page.close();
    }
  });
});
