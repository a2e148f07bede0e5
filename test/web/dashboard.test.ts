/**
 * The dashboard items of issue 16 in a real browser: a job's Cancel button, the import form (small and as a job),
 * the datasets page, the Hessian form preselecting a dataset that fits the model, and the analysis page's per-layer
 * table with WeightWatcher's warnings.
 */
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED, fixture } from '../helpers/fixtures.js';
import { waitJob } from '../service/helpers.js';
import { chromiumOrSkip, newPage, screenshot, useDashboard } from './browser.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function postRaw(base: string, path: string, file: string): Promise<Json> {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    body: readFileSync(file),
    headers: { 'content-type': 'application/octet-stream' },
  });
  return (await r.json()) as Json;
}

describe('dashboard: jobs, imports, datasets, fitting data, layer table', () => {
  const dash = useDashboard(undefined, {
    WEIGHTSCOPE_DEBUG_JOBS: '1',
    WEIGHTSCOPE_IMPORT_ROOTS: join(SHARED, 'fixtures'),
    WEIGHTSCOPE_IMPORT_INLINE: '512KiB',
  });

  test("Cancel on a running job's page cancels it", { timeout: 60_000 }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const sub = (await (
      await fetch(`${s.url}/v1/debug/jobs`, {
        method: 'POST',
        body: JSON.stringify({ steps: 600, ms: 50, cache: false }),
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as Json;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#analysis/${sub.job.id}`);
    await page.waitForSelector('#job-cancel');
    await page.waitForFunction("/running/.test(document.querySelector('[data-testid=job-status]')?.textContent ?? '')");
    await page.click('#job-cancel');
    await page.waitForFunction("/^cancelled/.test(document.querySelector('[data-testid=job-status]')?.textContent ?? '')");
    assert.equal((await waitJob(s.url, sub.job.id)).state, 'cancelled');
    assert.equal(await page.locator('#job-cancel').count(), 0, 'the button goes once the job has ended');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('import form: a small file is stored at once; a folder over the inline size runs as an import job', {
    timeout: 90_000,
  }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#`);
    await page.fill('#import-path', join(SHARED, 'fixtures', 'fmnist-hessian', 'mlp48.safetensors'));
    await page.click('#import-button');
    await page.waitForSelector('#models tr:has-text("mlp48.safetensors")');
    await page.fill('#import-path', join(SHARED, 'fixtures', 'stories260k'));
    await page.click('#import-button');
    await page.waitForURL(/#import\/[0-9a-f-]{36}$/);
    await page.waitForSelector('#import-result', { timeout: 60_000 });
    assert.match((await page.locator('#import-result').textContent()) ?? '', /stored: stories260k · safetensors · 260,032 parameters/);
    await screenshot(page, 'import-job');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('datasets page lists and uploads; the Hessian form preselects a dataset that fits the model', { timeout: 60_000 }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    await postRaw(s.url, '/v1/models?name=mlp48.onnx', fixture('fmnist-hessian', 'mlp48.onnx'));
    // A token dataset first (newest first in lists), so a naive form would preselect it.
    const images = await postRaw(s.url, '/v1/datasets?name=batch.safetensors', fixture('fmnist-hessian', 'batch.safetensors'));
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#datasets`);
    await page.setInputFiles('#dataset-file', fixture('gpt2-tiny', 'lm_batch.safetensors'));
    await page.click('#dataset-upload');
    await page.waitForSelector('#datasets tr:has-text("lm_batch.safetensors")');
    assert.match(
      (await page.locator('#datasets tr:has-text("batch.safetensors") >> nth=1').textContent()) ?? '',
      /\[1000, 1, 28, 28\] float32/,
    );
    await page.goto(`${s.url}/#hessian`);
    await page.waitForSelector('#hessian-dataset option', { state: 'attached' });
    assert.equal(await page.locator('#hessian-dataset').inputValue(), images.id);
    assert.match((await page.locator('#hessian-dataset option:has-text("lm_batch")').textContent()) ?? '', /does not fit this model/);
    await screenshot(page, 'datasets-fit');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("analysis page: a per-layer table with WeightWatcher's warnings, one row per layer", { timeout: 90_000 }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const m = await postRaw(s.url, '/v1/models?name=model.safetensors', fixture('gpt2-tiny', 'model.safetensors'));
    const sub = (await (
      await fetch(`${s.url}/v1/analyses`, {
        method: 'POST',
        body: JSON.stringify({ model: m.id, fits: ['pl'] }),
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as Json;
    assert.equal((await waitJob(s.url, sub.job.id)).state, 'succeeded');
    const report = (await (await fetch(`${s.url}/v1/analyses/${sub.job.id}`)).json()) as Json;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#analysis/${sub.job.id}`);
    await page.waitForSelector('#layers tr[data-layer]');
    assert.equal(await page.locator('#layers tr[data-layer]').count(), report.layers.length);
    const warned = report.layers.filter((l: Json) => l.warning || l.status === 'failed');
    assert.equal(await page.locator('#layers tr.warn').count(), warned.length);
    if (warned.length)
      assert.equal(
        await page.locator(`#layers tr[data-layer="${warned[0].layer_id}"] td.warning`).textContent(),
        warned[0].warning || `failed: ${warned[0].reason}`,
      );
    const first = report.layers[0];
    assert.match(
      (await page.locator(`#layers tr[data-layer="${first.layer_id}"]`).textContent()) ?? '',
      new RegExp(`${first.N} × ${first.M}`),
    );
    await screenshot(page, 'analysis-layers');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
