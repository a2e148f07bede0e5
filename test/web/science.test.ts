/**
 * The dashboard's science pages in a real browser (Chromium via playwright-core) against a real server, on small
 * inputs: each form submits its job with fitting data preselected (what fits the model's input, labelled data first
 * where classes are needed), follows it, and renders numbers equal to the API's result — NC1–NC4 and the
 * class-mean cosine heat map, local entropy ± stderr beside the second-order line, the taxonomy's phase, evidence,
 * per-model and per-pair tables. The Cancel button stops a running job.
 */
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { parseFlatnessOptions } from '../../src/landscape/flatness/run.js';
import { parseTaxonomyOptions } from '../../src/landscape/taxonomy/run.js';
import { fixture } from '../helpers/fixtures.js';
import { runningWithProgress, waitJob, type Json } from '../service/helpers.js';
import { chromiumOrSkip, newPage, screenshot, useDashboard, type TestServer } from './browser.js';

async function postRaw(base: string, path: string, file: string): Promise<string> {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    body: readFileSync(file),
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.ok(r.status === 201 || r.status === 200, `${path}: HTTP ${r.status}`);
  return ((await r.json()) as { id: string }).id;
}

/** Submits the page's form, waits for the job to succeed and for `selector` to render; the job id and its result. */
async function submitAndRender(
  page: Page,
  s: TestServer,
  button: string,
  hash: string,
  resultPath: string,
  selector: string,
): Promise<{ id: string; r: Json }> {
  await page.click(button);
  await page.waitForURL(new RegExp(`#${hash}/[0-9a-f-]{36}$`));
  const id = page.url().split(`#${hash}/`)[1];
  const job = await waitJob(s.url, id, {}, 120_000);
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  await page.waitForSelector(selector, { timeout: 60_000 });
  return { id, r: (await (await fetch(`${s.url}${resultPath}/${id}`)).json()) as Json };
}

/** A printed number (6 significant digits) and its data-v equal the API's value. */
async function assertCell(page: Page, selector: string, value: number | null, what: string): Promise<void> {
  const cell = page.locator(selector);
  const [text, exact] = [(await cell.textContent())!, await cell.getAttribute('data-v')];
  if (value === null) return assert.equal(text, '—', what);
  assert.equal(Number(exact), value, `${what}: data-v ${exact} vs ${value}`);
  assert.ok(Math.abs(Number(text) - value) <= 5e-6 * Math.abs(value), `${what}: shown ${text} vs ${value}`);
}

describe('dashboard: neural collapse, local entropy and taxonomy pages', () => {
  const ids: Record<string, string> = {};
  const dash = useDashboard(async (s) => {
    ids.lm = await postRaw(s.url, '/v1/datasets?name=lm_batch.safetensors', fixture('gpt2-tiny', 'lm_batch.safetensors'));
    ids.mlp48 = await postRaw(s.url, '/v1/models?name=mlp48.onnx', fixture('fmnist-hessian', 'mlp48.onnx'));
    ids.batch = await postRaw(s.url, '/v1/datasets?name=batch.safetensors', fixture('fmnist-hessian', 'batch.safetensors'));
    for (const m of ['m1', 'm2', 'm3']) ids[m] = await postRaw(s.url, `/v1/models?name=${m}.onnx`, fixture('surface-mlp', `${m}.onnx`));
    ids.train = await postRaw(s.url, '/v1/datasets?name=train.safetensors', fixture('surface-mlp', 'clean_subset.safetensors'));
    ids.test = await postRaw(s.url, '/v1/datasets?name=test.safetensors', fixture('surface-mlp', 'test.safetensors'));
  });

  test('collapse: labelled data preselected, NC1–NC4 and the cosine heat map equal the API result', { timeout: 120_000 }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#collapse`);
    await page.waitForSelector('#collapse-data option', { state: 'attached' });
    await page.selectOption('#collapse-model', ids.mlp48);
    await page.waitForSelector(`#collapse-data option[value="${ids.lm}"][data-fits="0"]`, { state: 'attached' });
    const pre = await page.inputValue('#collapse-data');
    assert.ok([ids.batch, ids.train, ids.test].includes(pre), `a labelled dataset that fits mlp48's input is preselected, not ${pre}`);
    await page.selectOption('#collapse-data', ids.batch);
    await page.fill('#collapse-batch', '1000');
    const { r } = await submitAndRender(page, s, '#collapse-run', 'collapse', '/v1/collapses', '#cosine-map');
    for (const k of ['nc1', 'nc2_etf', 'nc2_equinorm', 'nc2_equiangular', 'nc3', 'nc3_zhu', 'nc4'])
      await assertCell(page, `#nc-metrics tr[data-key="${k}"] td.num`, r[k], k);
    assert.equal(r.nc4, 0.142, 'the reference NC4 of mlp48 on its batch');
    const cells = page.locator('#cosine-map rect.cell');
    assert.equal(await cells.count(), 100);
    for (const [i, j] of [
      [0, 0],
      [0, 1],
      [3, 7],
      [9, 8],
    ]) {
      assert.equal(
        Number(await page.locator(`#cosine-map rect.cell[data-i="${i}"][data-j="${j}"]`).getAttribute('data-v')),
        r.mean_cosines[i][j],
        `cos[${i}][${j}]`,
      );
    }
    assert.equal(
      Number(await page.locator('#cosine-map .bar-mark').getAttribute('data-v')),
      -1 / 9,
      'the ETF cosine marked on the colour bar',
    );
    assert.match((await page.locator('#collapse-summary').textContent())!, /1000 samples · 10 classes · 48-d features/);
    await screenshot(page, 'collapse');
    // Hundreds of classes are drawn as one raster image, not one element per entry.
    const big = await page.evaluate(async () => {
      const plotUrl = '/plot.js'; // a page URL, resolved by the browser
      const { heatMap } = await import(plotUrl);
      const n = 300;
      const svg = heatMap({
        id: 'big',
        matrix: Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : -1 / (n - 1)))),
        labels: Array.from({ length: n }, (_, i) => i),
        title: 'big',
      });
      return { images: svg.querySelectorAll('image').length, cells: svg.querySelectorAll('rect.cell').length };
    });
    assert.deepEqual(big, { images: 1, cells: 0 });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("local entropy: form defaults = the schema's; F(w; γ) ± stderr and the second-order line equal the API result", {
    timeout: 120_000,
  }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#flatness`);
    await page.waitForSelector('#flatness-model option', { state: 'attached' });
    const d = parseFlatnessOptions({});
    assert.deepEqual((await page.inputValue('#flatness-gamma')).split(',').map(Number), d.gamma);
    assert.deepEqual(
      [
        Number(await page.inputValue('#flatness-draws')),
        Number(await page.inputValue('#flatness-seed')),
        await page.inputValue('#flatness-trace'),
        await page.inputValue('#flatness-criterion'),
      ],
      [d.draws, d.seed, d.trace, d.criterion],
    );
    await page.selectOption('#flatness-model', ids.mlp48);
    await page.selectOption('#flatness-data', ids.batch);
    await page.fill('#flatness-draws', '32');
    await page.fill('#flatness-samples', '200');
    const { r } = await submitAndRender(page, s, '#flatness-run', 'flatness', '/v1/flatness', '#entropy-chart');
    assert.deepEqual([r.draws, r.samples], [32, 200], 'the form sent its values');
    for (const row of r.rows as Json[]) {
      for (const k of ['local_entropy', 'stderr', 'second_order'])
        await assertCell(page, `#flatness-rows tr[data-gamma="${row.gamma}"] td[data-key="${k}"]`, row[k], `γ=${row.gamma} ${k}`);
      assert.equal(
        Number(await page.locator(`#entropy-chart circle.le[data-gamma="${row.gamma}"]`).getAttribute('data-v')),
        row.local_entropy,
      );
      assert.equal(
        Number(await page.locator(`#entropy-chart circle.le[data-gamma="${row.gamma}"]`).getAttribute('data-stderr')),
        row.stderr,
      );
      assert.equal(
        Number(await page.locator(`#entropy-chart rect.so[data-gamma="${row.gamma}"]`).getAttribute('data-v')),
        row.second_order,
      );
    }
    assert.equal(await page.locator('#entropy-chart line.errbar[data-gamma]').count(), 3, 'one error bar per γ');
    assert.ok(await page.locator('#entropy-chart path.line.c2').getAttribute('d'), 'the second-order line is drawn');
    assert.equal(Number(await page.locator('#entropy-chart line.hline').getAttribute('data-v')), -r.loss);
    await screenshot(page, 'flatness');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("taxonomy: one graph's models preselected, the phase, its evidence and the per-model and per-pair tables equal the API result", {
    timeout: 180_000,
  }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#taxonomy`);
    await page.waitForSelector('#tax-models-choice input', { state: 'attached' });
    const d = parseTaxonomyOptions({});
    const val = (sel: string) => page.inputValue(sel).then(Number);
    assert.deepEqual(
      [
        await val('#tax-epochs'),
        await val('#tax-seed'),
        await val('#tax-hessian-samples'),
        await val('#tax-cka-samples'),
        await val('#tax-mc-barrier'),
        await val('#tax-sharp-lambda'),
        await val('#tax-cka-similar'),
        await page.inputValue('#tax-pairs'),
      ],
      [
        d.epochs,
        d.seed,
        d.hessianSamples,
        d.ckaSamples,
        d.thresholds.mcBarrier,
        d.thresholds.sharpLambda,
        d.thresholds.ckaSimilar,
        d.pairs,
      ],
    );
    // mlp48 and the surface MLPs share one graph (784 → 48 → 10): all four are preselected.
    for (const m of ['mlp48', 'm1', 'm2', 'm3']) assert.ok(await page.isChecked(`#tax-models-choice input[value="${ids[m]}"]`), m);
    await page.uncheck(`#tax-models-choice input[value="${ids.mlp48}"]`);
    await page.selectOption('#tax-data', ids.train);
    await page.selectOption('#tax-test', ids.test);
    for (const [sel, v] of [
      ['#tax-epochs', '1'],
      ['#tax-samples', '256'],
      ['#tax-hessian-samples', '100'],
      ['#tax-cka-samples', '256'],
      ['#tax-sharp-lambda', '5'],
    ])
      await page.fill(sel, v);
    const { r } = await submitAndRender(page, s, '#tax-run', 'taxonomy', '/v1/taxonomies', '#tax-pairs');
    assert.deepEqual(r.models.map((m: Json) => m.model).sort(), [ids.m1, ids.m2, ids.m3].sort(), 'the checked models were sent');
    assert.equal(await page.getAttribute('#phase', 'data-phase'), r.phase);
    assert.match((await page.locator('#phase h3').textContent())!, new RegExp(`^Phase ${r.phase}: `));
    assert.deepEqual(await page.locator('#evidence li').allTextContents(), r.verdict.reasons);
    for (const k of ['mc', 'lambda_max', 'trace', 'cka', 'test_accuracy'])
      await assertCell(page, `#tax-summary tr[data-key="${k}"] td.num`, r.summary[k], `summary ${k}`);
    for (const m of r.models as Json[]) {
      for (const k of ['train_loss', 'train_accuracy', 'lambda_max', 'trace', 'trace_stderr', 'test_accuracy'])
        await assertCell(page, `#tax-models tr[data-model="${m.model}"] td[data-key="${k}"]`, m[k], `${m.model.slice(0, 8)} ${k}`);
    }
    for (const p of r.pairs as Json[]) {
      for (const k of ['mc', 'mc_loss', 'cka'])
        await assertCell(page, `#tax-pairs tr[data-a="${p.a}"][data-b="${p.b}"] td[data-key="${k}"]`, p[k], `pair ${k}`);
    }
    assert.equal(await page.locator('#tax-curves circle.dot').count(), 3 * 5, 'training error at five t per pair');
    assert.match((await page.locator('#tax-models').textContent())!, /m1\.onnx/);
    await screenshot(page, 'taxonomy');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('the Cancel button stops a running job; the page shows it cancelled', { timeout: 120_000 }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#flatness`);
    await page.waitForSelector('#flatness-model option', { state: 'attached' });
    await page.selectOption('#flatness-model', ids.mlp48);
    await page.selectOption('#flatness-data', ids.batch);
    await page.fill('#flatness-draws', '20000');
    await page.selectOption('#flatness-trace', 'none');
    await page.click('#flatness-run');
    await page.waitForURL(/#flatness\/[0-9a-f-]{36}$/);
    const id = page.url().split('#flatness/')[1];
    assert.equal((await runningWithProgress(s.url, id)).state, 'running');
    await page.click('#job-cancel');
    await page.waitForFunction("/^cancelled/.test(document.querySelector('[data-testid=job-status]')?.textContent ?? '')", undefined, {
      timeout: 60_000,
    });
    assert.equal((await waitJob(s.url, id)).state, 'cancelled');
    assert.equal(await page.locator('#job-cancel').count(), 0, 'no Cancel button once the job has ended');
    await screenshot(page, 'flatness-cancelled');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
