/**
 * Acceptance (issue 2): analyze() on every fixture against WeightWatcher 0.7.5.5's own output (fit `PL`): same rows,
 * ids and names; alpha, xmin, D, sigma to 1e-6 relative; norms, entropy, stable rank to 1e-9; gpt2-tiny identical
 * from safetensors, pytorch_model.bin and ONNX.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from '../../src/report/analyze.js';
import type { AnalysisReport, LayerRow } from '../../src/report/types.js';
import { fixture } from '../helpers/fixtures.js';
import { WW_CASES, wwReference, type RefRow } from '../helpers/reference.js';

const EXACT = [
  'layer_id',
  'name',
  'longname',
  'layer_type',
  'N',
  'M',
  'rf',
  'Q',
  'has_esd',
  'num_evals',
  'status',
  'warning',
  'num_pl_spikes',
  'rank_loss',
  'weak_rank_loss',
  'matrix_rank',
] as const;
const FIT_1E6 = ['alpha', 'xmin', 'xmax', 'D', 'sigma', 'alpha_weighted', 'log_alpha_norm', 'sv_min'] as const;
const NORM_1E9 = ['norm', 'log_norm', 'spectral_norm', 'log_spectral_norm', 'lambda_max', 'sv_max', 'stable_rank', 'entropy'] as const;

function rel(a: number, b: number): number {
  return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

function assertRowMatches(got: LayerRow, want: RefRow, where: string): void {
  for (const k of EXACT) assert.equal(got[k], want[k], `${where} ${k}`);
  for (const [keys, tol] of [
    [FIT_1E6, 1e-6],
    [NORM_1E9, 1e-9],
  ] as const) {
    for (const k of keys) {
      const g = got[k] as number | null;
      const w = want[k] as number;
      assert.equal(typeof g, 'number', `${where} ${k} is ${g}`);
      assert.ok(rel(g as number, w) <= tol, `${where} ${k}: got ${g}, WW ${w} (rel ${rel(g as number, w).toExponential(2)} > ${tol})`);
    }
  }
}

const reports = new Map<string, AnalysisReport>();

for (const c of WW_CASES) {
  const want = wwReference(c.ref).fits.PL.layers;
  for (const file of c.files) {
    test(`${file.join('/')} matches WeightWatcher (PL)`, async () => {
      const report = await analyze(fixture(...file), { fits: ['pl'] });
      reports.set(file.join('/'), report);
      assert.deepEqual(
        report.layers.map((r) => [r.layer_id, r.name]),
        want.map((r) => [r.layer_id, r.name]),
      );
      report.layers.forEach((r, i) => assertRowMatches(r, want[i], `${file.join('/')} layer ${r.layer_id}`));
      const mean = (k: string) => want.reduce((s, r) => s + (r[k] as number), 0) / want.length;
      for (const k of ['alpha', 'log_norm', 'alpha_weighted', 'log_alpha_norm', 'log_spectral_norm', 'stable_rank']) {
        assert.ok(rel(report.summary[k] as number, mean(k)) <= 1e-6, `summary ${k}: ${report.summary[k]} vs ${mean(k)}`);
      }
    });
  }
}

test('gpt2-tiny: identical rows from model.safetensors, pytorch_model.bin and onnx/model.onnx', async () => {
  const files = WW_CASES.find((c) => c.ref === 'gpt2-tiny')!.files.map((f) => f.join('/'));
  const got = await Promise.all(files.map(async (f) => reports.get(f) ?? (await analyze(fixture(...f.split('/')), { fits: ['pl'] }))));
  assert.deepEqual(got[1].layers, got[0].layers);
  assert.deepEqual(got[2].layers, got[0].layers);
  const skipped = got[2].skipped ?? [];
  const tied = skipped.find((s) => s.tensor === 'onnx::MatMul_572');
  assert.ok(tied, 'the folded lm_head copy is listed as skipped');
  assert.match(tied.reason, /exact copy of transformer\.wte\.weight/);
});
