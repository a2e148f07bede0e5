import test from 'node:test';
import assert from 'node:assert/strict';
import { METRIC_INFO, RANKING_METRICS, metricMean } from '../../src/ranking/metrics.js';
import { rankModels } from '../../src/ranking/rank.js';
import type { LayerRow } from '../../src/report/types.js';
import { WeightscopeError } from '../../src/errors.js';

const row = (alpha: number | null, extra: Partial<LayerRow> = {}): LayerRow => ({ alpha, ...extra }) as LayerRow;

test('metricMean: plain mean over layers, empty and non-finite values skipped', () => {
  assert.equal(metricMean({ layers: [row(2), row(null), row(4), row(Number.NaN)] }, 'alpha'), 3);
  assert.equal(metricMean({ layers: [row(null)] }, 'alpha'), null);
  // A failed PL fit's placeholder alpha = −1 is not a measurement.
  assert.equal(metricMean({ layers: [row(2), { ...row(-1), status: 'failed' }, row(4)] }, 'alpha'), 3);
  const etpl = { beta: 1.5, lambda: 0.25, xmin: 1, D: 0.1, loglik: 0, status: 'ok' as const };
  assert.equal(metricMean({ layers: [row(2, { etpl }), row(2, { etpl: { ...etpl, lambda: 0.75 } })] }, 'etpl_lambda'), 0.5);
  assert.equal(metricMean({ layers: [row(2)] }, 'exp_lambda'), null);
  assert.equal(
    metricMean({ layers: [row(2, { etpl: { ...etpl, lambda: 9, status: 'failed' } }), row(2, { etpl })] }, 'etpl_lambda'),
    etpl.lambda,
  );
});

test('every metric has a documented direction; alpha ascending, EXP/E-TPL lambda descending', () => {
  for (const m of RANKING_METRICS) {
    assert.ok(['asc', 'desc'].includes(METRIC_INFO[m].direction));
    assert.ok(METRIC_INFO[m].doc.length > 10);
  }
  assert.equal(METRIC_INFO.alpha.direction, 'asc');
  assert.equal(METRIC_INFO.exp_lambda.direction, 'desc');
});

test('rankModels: direction, ties share the smaller rank, missing values last', () => {
  const inputs = [
    { model: 'a', value: 3 },
    { model: 'b', value: 1 },
    { model: 'c', value: null },
    { model: 'd', value: 3 },
    { model: 'e', value: 2 },
  ];
  const asc = rankModels(inputs, 'alpha', 'asc');
  assert.deepEqual(
    asc.rows.map((r) => [r.model, r.rank]),
    [
      ['b', 1],
      ['e', 2],
      ['a', 3],
      ['d', 3],
      ['c', 5],
    ],
  );
  const desc = rankModels(inputs, 'alpha', 'desc');
  assert.deepEqual(
    desc.rows.map((r) => r.model),
    ['a', 'd', 'e', 'b', 'c'],
  );
  assert.equal(asc.correlation, undefined);
});

test('rankModels with scores: correlation over models that have both; unknown score keys rejected', () => {
  const inputs = [
    { model: 'a', value: 1 },
    { model: 'b', value: 2 },
    { model: 'c', value: 3 },
    { model: 'd', value: 4 },
    { model: 'x', value: null },
  ];
  const r = rankModels(inputs, 'alpha', 'asc', { a: 10, b: 30, c: 20, d: 40, x: 5 });
  // ranks of values 1..4, of scores 1,3,2,4: Σd² = 2 → ρ = 1 − 12/60 = 0.8; τ = (5 − 1)/6.
  assert.equal(r.correlation!.n, 4);
  assert.ok(Math.abs(r.correlation!.spearman.rho! - 0.8) < 1e-12);
  assert.ok(Math.abs(r.correlation!.kendall.tau! - 4 / 6) < 1e-12);
  // scipy.stats.spearmanr([1,2,3,4],[10,30,20,40]).pvalue = 0.2; kendalltau(...).pvalue = 0.3333333333333333
  assert.ok(Math.abs(r.correlation!.spearman.p! - 0.2) < 1e-12);
  assert.ok(Math.abs(r.correlation!.kendall.p! - 1 / 3) < 1e-12);
  assert.throws(() => rankModels(inputs, 'alpha', 'asc', { zzz: 1 }), WeightscopeError);
});

test('rankModels with families: one family is no cross-family ranking; several are ranked within each', () => {
  const same = rankModels(
    [
      { model: 'a', value: 2, family: 'llama' },
      { model: 'b', value: 1, family: 'llama' },
    ],
    'alpha',
    'asc',
  );
  assert.equal(same.cross_family, false);
  assert.equal(same.note, undefined);
  assert.deepEqual(
    same.families.map((f) => [f.family, f.rows.map((r) => [r.model, r.rank])]),
    [
      [
        'llama',
        [
          ['b', 1],
          ['a', 2],
        ],
      ],
    ],
  );
  const mixed = rankModels(
    [
      { model: 'l7', value: 3, family: 'llama' },
      { model: 'q', value: 1, family: 'qwen2' },
      { model: 'l13', value: 2, family: 'llama' },
      { model: 'x', value: 5 },
    ],
    'alpha',
    'asc',
    { l7: 60, l13: 70, q: 80 },
  );
  assert.equal(mixed.cross_family, true);
  assert.match(mixed.note!, /different families/);
  assert.deepEqual(
    mixed.rows.map((r) => r.model),
    ['q', 'l13', 'l7', 'x'],
  );
  assert.deepEqual(
    mixed.families.map((f) => [f.family, f.rows.map((r) => `${r.model}:${r.rank}`)]),
    [
      ['llama', ['l13:1', 'l7:2']],
      ['qwen2', ['q:1']],
      ['unknown', ['x:1']],
    ],
  );
  // within llama: smaller alpha, larger score → ρ = −1 over 2 models; across all 3 scored models also −1
  assert.equal(mixed.families[0].correlation!.spearman.rho, -1);
  assert.equal(mixed.families[1].correlation!.n, 1);
  assert.equal(mixed.correlation!.cross_family, true);
  assert.equal(mixed.correlation!.n, 3);
});
