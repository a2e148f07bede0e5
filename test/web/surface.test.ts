/**
 * The dashboard's Surfaces page in a real browser (Chromium via playwright-core) against a real server: the form's
 * defaults are the library schema's, four models of one graph are preselected as the corners, the job runs (epochs 0:
 * the bilinear surface, fast) and the loss and accuracy heat maps, the points table, the barrier and the download of
 * the best point show exactly the API's numbers.
 */
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSurfaceOptions } from '../../src/landscape/connectivity/connect-surface.js';
import { fixture } from '../helpers/fixtures.js';
import { waitJob, type Json } from '../service/helpers.js';
import { chromiumOrSkip, newPage, screenshot, useDashboard } from './browser.js';

async function postRaw(base: string, path: string, file: string): Promise<string> {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    body: readFileSync(file),
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.ok(r.status === 201 || r.status === 200, `${path}: HTTP ${r.status}`);
  return ((await r.json()) as { id: string }).id;
}

describe('dashboard: surfaces page', () => {
  const ids: Record<string, string> = {};
  const dash = useDashboard(async (s) => {
    for (const m of ['m1', 'm2', 'm3', 'm4'])
      ids[m] = await postRaw(s.url, `/v1/models?name=${m}.onnx`, fixture('surface-mlp', `${m}.onnx`));
    ids.train = await postRaw(s.url, '/v1/datasets?name=train.safetensors', fixture('surface-mlp', 'clean_subset.safetensors'));
    ids.test = await postRaw(s.url, '/v1/datasets?name=test.safetensors', fixture('surface-mlp', 'test.safetensors'));
  });

  test("surface: schema defaults, four corners preselected; heat maps, points, barrier and the best point's download equal the API result", {
    timeout: 120_000,
  }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#surface`);
    await page.waitForSelector('#surf-models-choice input', { state: 'attached' });
    const d = parseSurfaceOptions({});
    const val = (sel: string) => page.inputValue(sel).then(Number);
    assert.deepEqual(
      [
        await val('#surf-degree'),
        await val('#surf-epochs'),
        await val('#surf-samples'),
        await val('#surf-grid'),
        await val('#surf-ensemble'),
        await val('#surf-l2'),
        await val('#surf-seed'),
      ],
      [d.degree, d.epochs, d.samplesPerEpoch, d.grid, d.ensemble, d.l2, d.seed],
    );
    for (const m of ['m1', 'm2', 'm3', 'm4']) assert.ok(await page.isChecked(`#surf-models-choice input[value="${ids[m]}"]`), m);
    await page.selectOption('#surf-data', ids.train);
    await page.selectOption('#surf-test', ids.test);
    for (const [sel, v] of [
      ['#surf-epochs', '0'],
      ['#surf-grid', '5'],
      ['#surf-ensemble', '2'],
    ])
      await page.fill(sel, v);
    const order = await page
      .locator('#surf-models-choice input')
      .evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
    await page.click('#surf-run');
    await page.waitForURL(/#surface\/[0-9a-f-]{36}$/);
    const id = page.url().split('#surface/')[1];
    const job = await waitJob(s.url, id, {}, 120_000);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    await page.waitForSelector('#surf-acc-map', { timeout: 60_000 });
    const r = (await (await fetch(`${s.url}/v1/surfaces/${id}`)).json()) as Json;
    assert.deepEqual(r.models, order, 'the checked models were sent as M1..M4 in the order the page lists them');
    assert.match((await page.locator('#surf-points tr[data-key="corner1"] td').first().textContent())!, /^corner M1: m\d\.onnx$/);
    assert.deepEqual([r.options.epochs, r.options.grid, r.options.ensemble, r.testData], [0, 5, 2, ids.test], 'the form sent its values');
    for (const [map, key] of [
      ['#surf-loss-map', 'loss'],
      ['#surf-acc-map', 'accuracy'],
    ]) {
      assert.equal(await page.locator(`${map} rect.cell`).count(), 25);
      for (const g of r.grid as Json[]) {
        const cell = page.locator(`${map} rect.cell[data-i="${Math.round(g.u * 4)}"][data-j="${Math.round(g.v * 4)}"]`);
        assert.equal(Number(await cell.getAttribute('data-v')), g[key], `${key} at (${g.u}, ${g.v})`);
      }
    }
    const cell = async (key: string, col: string) =>
      Number(await page.locator(`#surf-points tr[data-key="${key}"] td[data-col="${col}"]`).getAttribute('data-v'));
    for (const [key, p] of [
      ['corner1', r.corners[0]],
      ['corner4', r.corners[3]],
      ['center', r.center],
      ['best', r.best],
      ['ensemble', r.ensemble.surface],
      ['cornerEnsemble', r.ensemble.corners],
    ] as const) {
      assert.equal(await cell(key, 'accuracy'), p.accuracy, `${key} accuracy`);
      assert.equal(await cell(key, 'loss'), p.loss, `${key} loss`);
    }
    assert.equal(r.center.accuracy, 0.4015, 'the untrained centre is the bilinear centre (reference)');
    assert.equal(Number(await page.getAttribute('#surf-barrier', 'data-v')), r.barrier.loss);
    assert.match(
      (await page.locator('#surf-summary').textContent())!,
      /tensor-product Bezier patch of degree 2 × 2: 9 control points, 5 trained/,
    );
    const href = await page.getAttribute('#download-onnx', 'href');
    assert.equal(href, `/v1/surfaces/${id}/model?format=onnx`);
    assert.equal((await fetch(`${s.url}${href}`)).status, 200);
    await screenshot(page, 'surface');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
