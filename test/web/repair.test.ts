/**
 * The dashboard's Repair and Connectivity pages in a real browser (Chromium via playwright-core) against a real
 * server, on fmnist-backdoor with a CI-sized budget: form defaults = the library's schema defaults, form → job → plots
 * along t with one point per evaluated t, the chosen t marked where the report says, the reason text, and the
 * repaired model downloadable as ONNX.
 */
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import type { Page } from 'playwright-core';
import { parseConnectOptions } from '../../src/landscape/connectivity/connect.js';
import { parseRepairOptions } from '../../src/landscape/repair/repair.js';
import { fixture } from '../helpers/fixtures.js';
import { startTestServer, waitJob } from '../service/helpers.js';
import { chromiumOrSkip, newPage, screenshot, useDashboard } from './browser.js';

const { onnx } = onnxProto;
const F = (f: string) => fixture('fmnist-backdoor', f);
interface Metrics {
  accuracy: number;
  loss: number;
}
interface Ref {
  models: Record<'model_a' | 'model_b', { clean_acc: number; asr: number }>;
  linear_path: { along_t: { t: number; clean_acc: number; asr: number }[] };
}
const ref = JSON.parse(readFileSync(F('reference.json'), 'utf8')) as Ref;

async function postRaw(base: string, path: string, file: string, headers: Record<string, string> = {}): Promise<{ id: string }> {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    body: readFileSync(file),
    headers: { 'content-type': 'application/octet-stream', ...headers },
  });
  assert.ok(r.status === 201 || r.status === 200, `${path}: HTTP ${r.status}`);
  return (await r.json()) as { id: string };
}

/** The plotted points of one series: [t, value] from the circles' data attributes, in t order. */
async function dots(page: Page, chart: string, set: string): Promise<[number, number][]> {
  const loc = page.locator(`#${chart} circle.dot[data-set="${set}"]`);
  const out: [number, number][] = [];
  for (let i = 0; i < (await loc.count()); i++)
    out.push([Number(await loc.nth(i).getAttribute('data-t')), Number(await loc.nth(i).getAttribute('data-v'))]);
  return out.sort((a, b) => a[0] - b[0]);
}

describe('dashboard: Repair and Connectivity pages', () => {
  const ids: Record<string, string> = {};
  const dash = useDashboard(async (s) => {
    for (const m of ['model_a', 'model_b']) ids[m] = (await postRaw(s.url, `/v1/models?name=${m}.onnx`, F(`${m}.onnx`))).id;
    for (const d of ['clean_subset', 'test_clean', 'test_triggered'])
      ids[d] = (await postRaw(s.url, `/v1/datasets?name=${d}.safetensors`, F(`${d}.safetensors`))).id;
  });

  test('repair: schema defaults in the form; 1 epoch × 256 → accuracy/ASR/loss along t, chosen t marked, ONNX download', {
    timeout: 120_000,
  }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#repair`);
    await page.waitForSelector('#repair-model-a option', { state: 'attached' });
    const d = parseRepairOptions({});
    const val = (id: string) => page.inputValue(id).then(Number);
    // L2 and polishing come from the model family's recipe when the form leaves them empty (the library's default).
    const recipe = (id: string) => page.inputValue(id).then((v) => (v === '' ? undefined : Number(v)));
    assert.deepEqual(
      {
        epochs: await val('#repair-epochs'),
        samples: await val('#repair-samples'),
        l2: await recipe('#repair-l2'),
        seed: await val('#repair-seed'),
        polish: await recipe('#repair-polish'),
        delta: await val('#repair-delta'),
        baseline: await page.isChecked('#repair-baseline'),
        points: await val('#repair-points'),
      },
      {
        epochs: d.epochs,
        samples: d.samplesPerEpoch,
        l2: d.l2,
        seed: d.seed,
        polish: d.polishEpochs,
        delta: d.delta,
        baseline: d.baseline,
        points: 11,
      },
    );
    assert.equal(d.ts, undefined, 'the library default is the 11-point grid the form shows');

    await page.selectOption('#repair-model-a', ids.model_a);
    await page.selectOption('#repair-model-b', ids.model_b);
    await page.selectOption('#repair-data', ids.clean_subset);
    await page.selectOption('#repair-eval', ids.test_clean);
    await page.selectOption('#repair-triggered', ids.test_triggered);
    for (const [id, v] of [
      ['#repair-epochs', '1'],
      ['#repair-samples', '256'],
      ['#repair-points', '3'],
      ['#repair-polish', '0'],
    ])
      await page.fill(id, v);
    await screenshot(page, 'repair-form');
    await page.click('#repair-run');
    await page.waitForURL(/#repair\/[0-9a-f-]{36}$/);
    const id = page.url().split('#repair/')[1];
    const job = await waitJob(s.url, id, {}, 90_000);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    await page.waitForSelector('#repair-accuracy', { timeout: 30_000 });
    const rep = (await (await fetch(`${s.url}/v1/repairs/${id}`)).json()) as {
      along: { t: number; sets: Record<string, Metrics> }[];
      choice: { t: number; reason: string };
      baseline: { heldOut: Metrics; triggered: Metrics } | null;
      options: { samplesPerEpoch: number; epochs: number; polishEpochs: number; baseline: boolean; l2: number; recipe: string };
    };
    assert.deepEqual(
      [rep.options.epochs, rep.options.samplesPerEpoch, rep.options.polishEpochs, rep.options.baseline],
      [1, 256, 0, true],
      'the form sent its values',
    );
    // The empty L2 field took the ONNX convnet's recipe on the server.
    assert.deepEqual([rep.options.recipe, rep.options.l2], ['convnet', 0.05]);

    // One point per evaluated t, with the report's values; the endpoints are the fixture models themselves.
    const acc = await dots(page, 'repair-accuracy', 'heldOut');
    const asr = await dots(page, 'repair-accuracy', 'triggered');
    const loss = await dots(page, 'repair-loss', 'heldOut');
    assert.deepEqual(
      acc.map((p) => p[0]),
      [0, 0.5, 1],
    );
    assert.deepEqual(
      acc,
      rep.along.map((p) => [p.t, p.sets.heldOut.accuracy]),
    );
    assert.deepEqual(
      asr,
      rep.along.map((p) => [p.t, p.sets.triggered.accuracy]),
    );
    assert.deepEqual(
      loss,
      rep.along.map((p) => [p.t, p.sets.heldOut.loss]),
    );
    assert.equal(acc[0][1], ref.models.model_a.clean_acc);
    assert.equal(asr[0][1], ref.models.model_a.asr);
    assert.equal(acc[2][1], ref.models.model_b.clean_acc);
    assert.equal(asr[2][1], ref.models.model_b.asr);

    // The chosen t: a vertical line at the reported t (same x as that t's points), its label, the reason.
    const marker = page.locator('#repair-accuracy line.marker');
    assert.equal(await marker.count(), 1);
    assert.equal(Number(await marker.getAttribute('data-t')), rep.choice.t);
    const dotAtT = page.locator(`#repair-accuracy circle.dot[data-set="heldOut"][data-t="${rep.choice.t}"]`);
    assert.equal(await marker.getAttribute('x1'), await dotAtT.getAttribute('cx'));
    assert.equal(await page.locator('#repair-accuracy [data-testid="marker-label"]').textContent(), `chosen t = ${rep.choice.t}`);
    assert.equal(await page.locator('#repair-loss line.marker').getAttribute('data-t'), String(rep.choice.t));
    assert.equal(await page.locator('#repair-reason').textContent(), rep.choice.reason);
    assert.ok(rep.baseline, 'baseline requested');
    assert.equal(Number(await page.locator('#repair-accuracy line.hline.c0').getAttribute('data-y')), rep.baseline.heldOut.accuracy);
    assert.equal(Number(await page.locator('#repair-accuracy line.hline.c2').getAttribute('data-y')), rep.baseline.triggered.accuracy);
    assert.equal(await page.locator('#repair-models tr').count(), 5, 'header, A, B, w(t), baseline');
    // The trade-off over t: clean accuracy and ASR of w(t) at every evaluated t (no polishing here: curve points only).
    const tradeoff = (rep as unknown as { tradeoff: { t: number; curve: Record<string, Metrics> }[] }).tradeoff;
    assert.deepEqual(
      await dots(page, 'repair-tradeoff', 'curve-heldOut'),
      tradeoff.map((p) => [p.t, p.curve.heldOut.accuracy]),
    );
    assert.deepEqual(
      await dots(page, 'repair-tradeoff', 'curve-triggered'),
      tradeoff.map((p) => [p.t, p.curve.triggered.accuracy]),
    );
    assert.deepEqual(
      tradeoff.map((p) => p.curve.heldOut.accuracy),
      rep.along.map((p) => p.sets.heldOut.accuracy),
    );

    // Downloads: the links the page shows return the repaired model.
    const href = await page.getAttribute('#download-onnx', 'href');
    assert.equal(href, `/v1/repairs/${id}/model?format=onnx`);
    const res = await fetch(`${s.url}${href}`);
    assert.equal(res.status, 200);
    const model = onnx.ModelProto.decode(new Uint8Array(await res.arrayBuffer()));
    const original = onnx.ModelProto.decode(readFileSync(F('model_a.onnx')));
    assert.equal(model.graph?.node?.length, original.graph?.node?.length);
    assert.ok((model.graph?.node?.length ?? 0) > 0);
    const st = await fetch(`${s.url}${await page.getAttribute('#download-safetensors', 'href')}`);
    assert.equal(st.status, 200);
    assert.ok(new DataView(await st.arrayBuffer()).getBigUint64(0, true) > 0n, 'safetensors header length');
    await screenshot(page, 'repair');
    assert.equal(await page.isHidden('#error'), true);

    // Polishing on: the repaired point (after fine-tuning w(t)) is drawn at the chosen t and gets its own table row.
    await page.goto(`${s.url}/#repair`);
    await page.waitForSelector('#repair-model-a option', { state: 'attached' });
    await page.fill('#repair-epochs', '-1');
    await page.click('#repair-run');
    assert.match((await page.locator('#error').textContent()) ?? '', /epochs: expected an integer ≥ 0, got '-1'/);
    await page.selectOption('#repair-model-a', ids.model_a);
    await page.selectOption('#repair-model-b', '');
    await page.selectOption('#repair-data', ids.clean_subset);
    await page.selectOption('#repair-triggered', ids.test_triggered);
    for (const [sel, v] of [
      ['#repair-epochs', '1'],
      ['#repair-samples', '256'],
      ['#repair-points', '3'],
      ['#repair-polish', '1'],
    ])
      await page.fill(sel, v);
    await page.click('#repair-run');
    await page.waitForURL(/#repair\/[0-9a-f-]{36}$/);
    const id2 = page.url().split('#repair/')[1];
    assert.equal((await waitJob(s.url, id2, {}, 90_000)).state, 'succeeded');
    await page.waitForSelector('#repair-accuracy', { timeout: 30_000 });
    const rep2 = (await (await fetch(`${s.url}/v1/repairs/${id2}`)).json()) as {
      secondEndpoint: string;
      choice: { t: number };
      repaired: { heldOut: Metrics; triggered: Metrics };
      data: { heldOutSource: string };
    };
    assert.deepEqual([rep2.secondEndpoint, rep2.data.heldOutSource], ['fine-tuned', 'split']);
    assert.deepEqual(await dots(page, 'repair-accuracy', 'repaired-heldOut'), [[rep2.choice.t, rep2.repaired.heldOut.accuracy]]);
    assert.deepEqual(await dots(page, 'repair-accuracy', 'repaired-triggered'), [[rep2.choice.t, rep2.repaired.triggered.accuracy]]);
    assert.equal(await page.locator('#repair-models tr').count(), 6, 'header, A, A fine-tuned, w(t), repaired, baseline');
    await screenshot(page, 'repair-polished');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('repair with trigger reversal (API, unlearn 0.2): the page shows each endpoint’s mask L1 per class, the flagged class marked, and the checked points', {
    timeout: 180_000,
  }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const body = {
      models: [ids.model_a, ids.model_b],
      data: ids.clean_subset,
      options: { epochs: 1, samplesPerEpoch: 256, ts: [0, 0.5, 1], polishEpochs: 0, baseline: false, unlearn: 0.2 },
    };
    const sub = await fetch(`${s.url}/v1/repairs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(sub.status, 202);
    const id = ((await sub.json()) as { job: { id: string } }).job.id;
    assert.equal((await waitJob(s.url, id, {}, 150_000)).state, 'succeeded');
    const rep = (await (await fetch(`${s.url}/v1/repairs/${id}`)).json()) as {
      cleanse: {
        endpoints: { endpoint: string; l1: (number | null)[]; flagged: number[] }[];
        verification: { t: number; pass: boolean }[];
      };
    };
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#repair/${id}`);
    await page.waitForSelector('#repair-cleanse-table', { timeout: 30_000 });
    for (const e of rep.cleanse.endpoints) {
      assert.deepEqual(e.flagged, [0], 'both BadNets endpoints: target 0');
      const cells = page.locator(`#repair-cleanse-table tr[data-endpoint="${e.endpoint}"] td`);
      const texts = await cells.allTextContents();
      assert.deepEqual(texts, [e.endpoint, ...e.l1.map((v) => (v === null ? '—' : v.toFixed(1))), '0']);
      assert.equal(await cells.nth(1).getAttribute('class'), 'num flagged');
      assert.equal(await cells.nth(2).getAttribute('class'), 'num');
    }
    const checks = page.locator('#repair-cleanse p.verify');
    assert.equal(await checks.count(), rep.cleanse.verification.length);
    for (const [i, v] of rep.cleanse.verification.entries()) {
      assert.equal(Number(await checks.nth(i).getAttribute('data-t')), v.t);
      assert.match((await checks.nth(i).textContent()) ?? '', v.pass ? /passes$/ : /still flagged$/);
    }
    await screenshot(page, 'repair-cleanse');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('connectivity: the straight line (0 epochs) plotted along t matches the reference linear path', { timeout: 60_000 }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { server: s, browser } = dash;
    const { page, errors } = await newPage(browser);
    await page.goto(`${s.url}/#connectivity`);
    await page.waitForSelector('#conn-model-a option', { state: 'attached' });
    const d = parseConnectOptions({});
    assert.deepEqual(
      [
        await page.inputValue('#conn-epochs'),
        await page.inputValue('#conn-l2'),
        await page.inputValue('#conn-seed'),
        await page.inputValue('#conn-bends'),
      ].map(Number),
      [d.epochs, d.l2, d.seed, d.bends],
    );
    await page.selectOption('#conn-model-a', ids.model_a);
    await page.selectOption('#conn-model-b', ids.model_b);
    await page.selectOption('#conn-data', ids.clean_subset);
    await page.selectOption('#conn-eval', ids.test_clean);
    await page.selectOption('#conn-triggered', ids.test_triggered);
    await page.fill('#conn-epochs', '0');
    await page.fill('#conn-points', '11');
    await page.click('#conn-run');
    await page.waitForURL(/#connectivity\/[0-9a-f-]{36}$/);
    const job = await waitJob(s.url, page.url().split('#connectivity/')[1], {}, 50_000);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    await page.waitForSelector('#conn-accuracy', { timeout: 20_000 });
    const clean = await dots(page, 'conn-accuracy', 'eval');
    const asr = await dots(page, 'conn-accuracy', 'triggered');
    assert.equal(clean.length, 11);
    assert.equal(await page.locator('#conn-accuracy circle.dot[data-set="train"]').count(), 11);
    assert.equal(await page.locator('#conn-loss circle.dot').count(), 33);
    ref.linear_path.along_t.forEach((r, i) => {
      assert.ok(Math.abs(clean[i][0] - r.t) < 1e-12);
      assert.ok(Math.abs(clean[i][1] - r.clean_acc) < 1e-9, `clean accuracy at t = ${r.t}: ${clean[i][1]} vs ${r.clean_acc}`);
      assert.ok(Math.abs(asr[i][1] - r.asr) < 1e-9, `ASR at t = ${r.t}: ${asr[i][1]} vs ${r.asr}`);
    });
    assert.equal(await page.locator('#conn-table tr').count(), 4);
    await screenshot(page, 'connectivity');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('with an API key: the page follows the job and the ONNX link downloads with the key (a bare href gets 401)', {
    timeout: 60_000,
  }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { browser } = dash;
    const key = 'h13-test-key';
    const auth = { authorization: `Bearer ${key}` };
    const ks = await startTestServer({ WEIGHTSCOPE_API_KEYS: key });
    try {
      const a = (await postRaw(ks.url, '/v1/models?name=model_a.onnx', F('model_a.onnx'), auth)).id;
      const data = (await postRaw(ks.url, '/v1/datasets?name=clean_subset.safetensors', F('clean_subset.safetensors'), auth)).id;
      const sub = await fetch(`${ks.url}/v1/repairs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ models: [a], data, options: { epochs: 1, samplesPerEpoch: 128, ts: [0, 0.5, 1], polishEpochs: 0 } }),
      });
      assert.equal(sub.status, 202);
      const id = ((await sub.json()) as { job: { id: string } }).job.id;
      const { page, errors } = await newPage(browser);
      // Runs in the page (DOM types are not in the test tsconfig): the dashboard reads its key from localStorage.
      await page.addInitScript(`localStorage.setItem('weightscope-key', ${JSON.stringify(key)})`);
      await page.goto(`${ks.url}/#repair/${id}`);
      await page.waitForSelector('#download-onnx', { timeout: 50_000 });
      const href = await page.getAttribute('#download-onnx', 'href');
      assert.equal((await fetch(`${ks.url}${href}`)).status, 401, 'the link alone cannot authenticate');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-onnx')]);
      assert.equal(download.suggestedFilename(), `repaired-${id.slice(0, 8)}.onnx`);
      const bytes = readFileSync((await download.path()) as string);
      assert.equal(
        onnx.ModelProto.decode(bytes).graph?.node?.length,
        onnx.ModelProto.decode(readFileSync(F('model_a.onnx'))).graph?.node?.length,
      );
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await ks.cleanup();
    }
  });
});
