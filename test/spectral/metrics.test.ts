import { test } from 'node:test';
import assert from 'node:assert/strict';
import { esdColumns, matrixEntropy, matrixRank, normMetrics } from '../../src/spectral/metrics.js';
import { fitPowerLaw } from '../../src/spectral/pl.js';
import { summarize } from '../../src/spectral/summary.js';
import type { LayerRow } from '../../src/report/types.js';
import { ESD_NAMES, esd, expected } from './helpers.js';

const WARNING = { good: 'over-trained', mediocre: '', bad: '' } as const;

for (const name of ESD_NAMES) {
  test(`norm metrics of '${name}' (N = 512, ww_pl alpha) match the reference to 1e-9`, () => {
    const ev = esd(name);
    const alpha = fitPowerLaw(ev).alpha;
    const m = normMetrics(ev, 512, alpha);
    const e = expected(name).norms;
    for (const k of Object.keys(e) as (keyof typeof e)[]) {
      assert.ok(Math.abs(m[k] - e[k]) <= 1e-9, `${k}: ${m[k]} vs ${e[k]}`);
    }
    assert.equal(m.spectral_norm, Math.max(...ev));
    assert.ok(Math.abs(m.norm / ev.reduce((a, v) => a + v, 0) - 1) < 1e-14);
    // WW's thresholds (alpha < 2 over-trained, > 6 under-trained) on the reference alphas 1.77, 3.47, 4.84.
    assert.equal(m.warning, WARNING[name]);
  });
}

test('matrix rank, entropy and rank loss follow WW’s definitions (numpy values)', () => {
  const ev = Float64Array.of(4, 1, 0);
  assert.equal(matrixRank(ev, 3), 2);
  assert.ok(Math.abs(matrixEntropy(ev, 3) - 0.721928098133061) < 1e-15);
  // tolerance max(sv)·N·eps depends on N
  assert.equal(matrixRank(Float64Array.of(1e-28, 1, 4), 100), 2);
  assert.equal(matrixRank(Float64Array.of(1e-28, 1, 4), 10), 3);
});

test('ESD columns: pooled slices, sv_min quirk, rank loss per slice, weak rank loss', () => {
  const slices = [Float64Array.of(1e-28, 1, 4), Float64Array.of(0.25, 9, 16)];
  const c = esdColumns(slices, 100);
  assert.equal(c.num_evals, 6);
  assert.equal(c.lambda_max, 16);
  assert.equal(c.sv_max, 4);
  assert.equal(c.sv_min, 0.5); // max over slices of each slice's smallest singular value
  assert.equal(c.rank_loss, 1);
  assert.equal(c.weak_rank_loss, 1);
});

test('failed fit: alpha = −1 flows into the alpha metrics as in WW (an exact zero gives +∞)', () => {
  const m = normMetrics(Float64Array.of(0, 1, 4), 3, -1);
  assert.equal(m.log_alpha_norm, Infinity);
  assert.equal(m.alpha_weighted, -Math.log10(4));
  assert.equal(m.warning, 'over-trained');
});

test('summary: WW means (failed alpha −1 included by default), E-TPL/EXP means skip failed fits', () => {
  const row = (alpha: number, status: 'success' | 'failed', beta: number | null): Partial<LayerRow> => ({
    status,
    alpha,
    alpha_weighted: alpha * 2,
    log_norm: 1,
    log_spectral_norm: 2,
    log_alpha_norm: 3,
    stable_rank: 4,
    D: 0.1,
    etpl: { beta, lambda: beta, xmin: 1, D: 0.1, loglik: -1, status: beta === null ? 'failed' : 'ok' },
    exp: { lambda: 0.5, xmin: 1, D: 0.1, status: 'ok' },
  });
  const rows = [row(2, 'success', 1.5), row(4, 'success', 2.5), row(-1, 'failed', null)];
  const s = summarize(rows);
  assert.equal(s.alpha, 5 / 3);
  assert.equal(s.alpha_weighted, 10 / 3);
  assert.equal(s.alpha_hat, 10 / 3);
  assert.equal(s.log_norm, 1);
  assert.equal(s.etpl_beta, 2);
  assert.equal(s.exp_lambda, 0.5);
  assert.ok(!('mp_softrank' in s));
  const k = summarize(rows, { failedAlpha: 'skip' });
  assert.equal(k.alpha, 3);
  assert.equal(summarize([]).alpha, undefined);
});
