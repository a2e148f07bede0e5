/**
 * The dashboard's analysis page in a real browser against a real server: upload stories260k through the upload
 * form, start an analysis from the model list, follow it over SSE, then check the alpha chart (one bar per analysed
 * layer, alphas = WeightWatcher 0.7.5.5's, band 2–6) and the ESD plot of the selected layer (points, PL fit line,
 * xmin marker) on the SVG elements themselves. The screenshot goes to test-artifacts/analysis.png.
 */
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { fixture, SHARED } from '../helpers/fixtures.js';
import { chromiumOrSkip, newPage, screenshot, useDashboard } from './browser.js';

interface WwRow {
  layer_id: number;
  name: string;
  alpha: number;
  xmin: number;
}
const WW: WwRow[] = JSON.parse(readFileSync(`${SHARED}reference/weightwatcher/stories260k.json`, 'utf8')).fits.PL.layers;

const num = (s: string | null): number => {
  assert.ok(s !== null, 'attribute present');
  const v = Number(s);
  assert.ok(Number.isFinite(v), `number: ${s}`);
  return v;
};

describe('dashboard: upload → analysis → alpha bars and ESD plot', () => {
  const dash = useDashboard();

  test('stories260k through the UI', { timeout: 90_000 }, async (t) => {
    if (!chromiumOrSkip(t)) return;
    const { page, errors } = await newPage(dash.browser);
    try {
      await analysisFlow(page, dash.server.url, errors);
    } finally {
      await screenshot(page, 'analysis'); // the state at the end, or where it failed
      await page.close();
    }
  });
});

/** Upload → analyse → checks; the page's own errors are asserted empty at the end. */
async function analysisFlow(page: Page, base: string, errors: string[]): Promise<void> {
  const sse: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/events')) sse.push(r.url());
  });
  await page.goto(`${base}/`);

  // Upload through the form.
  await page.setInputFiles('#upload-file', fixture('stories260k', 'model.safetensors'));
  await page.click('#upload-button');
  const row = page.locator('#models tr[data-id]');
  await row.first().waitFor({ timeout: 30_000 });
  assert.equal(await row.count(), 1);
  assert.equal(await row.locator('td').first().textContent(), 'model.safetensors');

  // Analyse from the list; the page follows the job's SSE stream until it is done.
  await row.locator('button.analyse').click();
  await page.waitForURL(/#analysis\/[0-9a-f-]{36}$/);
  const jobId = page.url().split('#analysis/')[1];
  await page.waitForSelector('#alpha-chart', { timeout: 60_000 });
  assert.equal(await page.locator('[data-testid=job-status]').textContent(), 'done');
  assert.equal(await page.locator('[data-testid=job-progress]').evaluate((p) => (p as unknown as { value: number }).value), 1);
  assert.ok(
    sse.some((u) => u.endsWith(`/v1/jobs/${jobId}/events`)),
    `page followed the job over SSE (${sse.join(', ')})`,
  );

  // One bar per analysed layer, in layer order, each alpha = WeightWatcher's (as shown: 3 decimals).
  const bars = page.locator('#alpha-chart rect.bar');
  assert.equal(await bars.count(), WW.length);
  const shown = await bars.evaluateAll((els) =>
    els.map((e) => ({
      layer: e.getAttribute('data-layer'),
      alpha: e.getAttribute('data-alpha'),
      y: Number(e.getAttribute('y')),
      h: Number(e.getAttribute('height')),
    })),
  );
  shown.forEach((b, i) => {
    assert.equal(Number(b.layer), WW[i].layer_id);
    assert.ok(Math.abs(num(b.alpha) - WW[i].alpha) <= 1e-6 * WW[i].alpha, `layer ${WW[i].name}: alpha ${b.alpha} vs WW ${WW[i].alpha}`);
  });

  // Bands at 2 and 6: the shaded band spans exactly the two edge lines, and each bar's top sits where its alpha
  // falls on that scale (bars of alpha inside 2–6 end inside the band, others outside).
  const edge = async (a: number): Promise<number> =>
    num(await page.locator(`#alpha-chart line.band-edge[data-alpha="${a}"]`).getAttribute('y1'));
  const y2 = await edge(2),
    y6 = await edge(6);
  assert.ok(y6 < y2, 'alpha 6 above alpha 2');
  const band = page.locator('#alpha-chart rect.band');
  assert.ok(Math.abs(num(await band.getAttribute('y')) - y6) < 1e-6);
  assert.ok(Math.abs(num(await band.getAttribute('height')) - (y2 - y6)) < 1e-6);
  const bottom = shown[0].y + shown[0].h;
  shown.forEach((b, i) => {
    const expectedTop = y2 + ((WW[i].alpha - 2) * (y6 - y2)) / 4;
    assert.ok(Math.abs(b.y - expectedTop) < 1e-6 * bottom, `bar ${i} top ${b.y} vs ${expectedTop}`);
    assert.ok(Math.abs(b.y + b.h - bottom) < 1e-6 * bottom, 'bars share a baseline');
  });
  const outside = await page.locator('#alpha-chart rect.bar.out').count();
  assert.equal(outside, WW.filter((l) => l.alpha < 2 || l.alpha > 6).length);

  // The ESD of the first layer is shown: log-binned points, the PL fit from xmin on, and xmin marked.
  await page.locator('#esd-chart, [data-testid=esd-error]').first().waitFor({ timeout: 20_000 });
  assert.equal(await page.locator('[data-testid=esd-error]').count(), 0, `ESD: ${await page.locator('#esd').textContent()}`);
  const esd = page.locator('#esd-chart');
  const pts = await esd.locator('circle.pt').evaluateAll((els) => els.map((e) => Number(e.getAttribute('cx'))));
  assert.ok(pts.length >= 5, `${pts.length} ESD points`);
  const fit = await esd.locator('path.fit').getAttribute('d');
  const fitXs = (fit ?? '')
    .split(/[ML]/)
    .filter(Boolean)
    .map((p) => Number(p.split(',')[0]));
  assert.ok(fitXs.length >= 10, 'PL fit line drawn');
  const xminX = num(await esd.locator('line.xmin').getAttribute('x1'));
  assert.equal(await esd.locator('path.etpl').count(), 1, 'E-TPL fit drawn (a default fit)');
  // The fitted density sits on the binned points of the tail: at each tail point, the fit line (interpolated in
  // screen space, where both axes are logarithmic) is within a few percent of the plot height.
  const fitYs = (fit ?? '')
    .split(/[ML]/)
    .filter(Boolean)
    .map((p) => Number(p.split(',')[1]));
  const ptXY = await esd
    .locator('circle.pt')
    .evaluateAll((els) => els.map((e) => [Number(e.getAttribute('cx')), Number(e.getAttribute('cy'))]));
  const offsets = ptXY
    .filter(([x]) => x >= fitXs[0] && x <= fitXs[fitXs.length - 1])
    .map(([x, y]) => {
      const k = fitXs.findIndex((fx) => fx >= x);
      const j = Math.max(1, k);
      const fy = fitYs[j - 1] + ((fitYs[j] - fitYs[j - 1]) * (x - fitXs[j - 1])) / (fitXs[j] - fitXs[j - 1] || 1);
      return Math.abs(fy - y);
    });
  const plotHeight = num((await esd.getAttribute('viewBox'))?.split(' ')[3] ?? null);
  const median = offsets.sort((x, y) => x - y)[Math.floor(offsets.length / 2)];
  assert.ok(
    offsets.length >= 3 && median < 0.05 * plotHeight,
    `fit vs tail points: offsets ${offsets.map((o) => o.toFixed(1)).join(', ')} of ${plotHeight}`,
  );
  assert.ok(Math.abs(fitXs[0] - xminX) < 0.1, 'the fit starts at xmin');
  assert.ok(xminX > Math.min(...pts) && xminX < Math.max(...pts), 'xmin inside the ESD');
  const xmin = num(await esd.locator('line.xmin').getAttribute('data-xmin'));
  assert.ok(Math.abs(xmin - WW[0].xmin) <= 1e-6 * WW[0].xmin, `xmin ${xmin} vs WW ${WW[0].xmin}`);
  assert.match((await esd.locator('[data-testid=xmin-label]').textContent()) ?? '', /^xmin \d/);
  assert.ok((await esd.locator('text.axis-label').count()) >= 2, 'both axes labelled');

  // Picking another bar shows that layer's ESD (with its own xmin), and back.
  const showsLayer = async (i: number): Promise<void> => {
    await bars.nth(i).click();
    await page.locator('#esd h3', { hasText: `ESD of layer ${WW[i].layer_id}: ${WW[i].name}` }).waitFor();
    const xmin = num(await esd.locator('line.xmin').getAttribute('data-xmin'));
    assert.ok(Math.abs(xmin - WW[i].xmin) <= 1e-6 * WW[i].xmin, `layer ${WW[i].name}: xmin ${xmin} vs WW ${WW[i].xmin}`);
    assert.equal(await esd.locator('path.fit').count(), 1);
  };
  await showsLayer(5);
  await showsLayer(0);
  assert.doesNotMatch((await page.locator('#view').textContent()) ?? '', /\b(null|undefined|NaN)\b/);
  assert.deepEqual(errors, []);
}
