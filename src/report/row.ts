/**
 * One report row from a layer's per-slice eigenvalues: WW's ESD columns and norm metrics, the PL fit, and the
 * E-TPL and EXP fits when asked for (all from src/spectral). Also the rows of layers that could not be analysed.
 */
import type { LayerPlan } from '../layers/types.js';
import {
  esdColumns,
  fitEtpl,
  fitExponential,
  fitPowerLaw,
  normMetrics,
  summarize as summarizeRows,
  type PlFit,
} from '../spectral/index.js';
import type { AnalyzeOptions } from './options.js';
import type { EtplFit, ExpFit, LayerRow, Summary } from './types.js';

function geometryColumns(plan: LayerPlan): Pick<LayerRow, 'layer_id' | 'name' | 'longname' | 'layer_type' | 'N' | 'M' | 'rf' | 'Q'> {
  return {
    layer_id: plan.layer_id,
    name: plan.name,
    longname: plan.name,
    layer_type: plan.layer_type,
    N: plan.N,
    M: plan.M,
    rf: plan.rf,
    Q: plan.Q,
  };
}

/** A layer whose values cannot be analysed (NaN/Inf, all zero): geometry only, every metric null. */
export function failedRow(plan: LayerPlan, reason: string): LayerRow {
  return {
    ...geometryColumns(plan),
    has_esd: false,
    num_evals: 0,
    sv_max: null,
    sv_min: null,
    rank_loss: null,
    weak_rank_loss: null,
    lambda_max: null,
    alpha: null,
    xmin: null,
    xmax: null,
    D: null,
    sigma: null,
    num_pl_spikes: null,
    status: 'failed',
    reason,
    warning: '',
    norm: null,
    log_norm: null,
    spectral_norm: null,
    log_spectral_norm: null,
    alpha_weighted: null,
    log_alpha_norm: null,
    stable_rank: null,
    matrix_rank: null,
    entropy: null,
  };
}

/** The pooled ESD: all slices' eigenvalues, ascending (WW's combined_eigenvalues). */
export function pooledEsd(slices: readonly Float64Array[]): Float64Array {
  if (slices.length === 1) return Float64Array.from(slices[0]).sort();
  const total = slices.reduce((s, e) => s + e.length, 0);
  const out = new Float64Array(total);
  let o = 0;
  for (const e of slices) {
    out.set(e, o);
    o += e.length;
  }
  return out.sort();
}

/** ±Infinity and NaN (log10 of 0, 0^−1) are not numbers a report can carry: null, as WW's JSON would give. */
const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function rowFromSpectrum(
  plan: LayerPlan,
  slices: readonly Float64Array[],
  opts: Pick<AnalyzeOptions, 'fits' | 'plVariant' | 'keepEigenvalues'>,
): LayerRow {
  const evals = pooledEsd(slices);
  const esd = esdColumns(slices, plan.N);
  const wantPl = opts.fits.includes('pl');
  const pl: PlFit | null = wantPl ? fitPowerLaw(evals, { variant: opts.plVariant }) : null;
  // WW computes the alpha-derived metrics with alpha = −1 for a failed fit; without a PL fit they are absent.
  const m = normMetrics(evals, plan.N, pl ? pl.alpha : NaN);
  const row: LayerRow = {
    ...geometryColumns(plan),
    has_esd: true,
    num_evals: esd.num_evals,
    sv_max: esd.sv_max,
    sv_min: esd.sv_min,
    rank_loss: esd.rank_loss,
    weak_rank_loss: esd.weak_rank_loss,
    lambda_max: esd.lambda_max,
    alpha: pl ? pl.alpha : null,
    xmin: pl ? pl.xmin : null,
    xmax: pl ? pl.xmax : null,
    D: pl ? pl.D : null,
    sigma: pl ? pl.sigma : null,
    num_pl_spikes: pl ? pl.num_pl_spikes : null,
    status: pl && pl.status === 'failed' ? 'failed' : 'success',
    warning: pl ? m.warning : '',
    norm: num(m.norm),
    log_norm: num(m.log_norm),
    spectral_norm: num(m.spectral_norm),
    log_spectral_norm: num(m.log_spectral_norm),
    alpha_weighted: pl ? num(m.alpha_weighted) : null,
    log_alpha_norm: pl ? num(m.log_alpha_norm) : null,
    stable_rank: num(m.stable_rank),
    matrix_rank: m.matrix_rank,
    entropy: num(m.entropy),
  };
  const out: LayerRow =
    pl?.status === 'failed'
      ? // WW's column order: reason right after status
        withReasonAfterStatus(row, `power-law fit failed: ${pl.reason ?? 'unknown reason'}`)
      : row;
  addTailFits(out, evals, opts);
  if (opts.keepEigenvalues) out.eigenvalues = Array.from(evals);
  return out;
}

function withReasonAfterStatus(row: LayerRow, reason: string): LayerRow {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = v;
    if (k === 'status') out.reason = reason;
  }
  return out as unknown as LayerRow;
}

const orNull = (v: number | null | undefined): number | null => (v === null || v === undefined || Number.isNaN(v) ? null : v);

/** Adds the E-TPL/EXP objects; their xmin rule follows the PL variant (WW's xmin_peak range, or KDD'23's). */
function addTailFits(row: LayerRow, evals: Float64Array, opts: Pick<AnalyzeOptions, 'fits' | 'plVariant'>): void {
  const rule = opts.plVariant;
  if (opts.fits.includes('etpl')) {
    const f = fitEtpl(evals, { xminRule: rule });
    const etpl: EtplFit = {
      beta: orNull(f.beta),
      lambda: orNull(f.lambda),
      xmin: orNull(f.xmin),
      D: orNull(f.D),
      loglik: orNull(f.loglik),
      status: f.status,
    };
    if (f.reason) etpl.reason = f.reason;
    row.etpl = etpl;
  }
  if (opts.fits.includes('exp')) {
    const f = fitExponential(evals, { xminRule: rule });
    const exp: ExpFit = { lambda: orNull(f.lambda), xmin: orNull(f.xmin), D: orNull(f.D), status: f.status };
    if (f.reason) exp.reason = f.reason;
    row.exp = exp;
  }
}

/** Means over analysed layers; failed layers stay out of the alpha-derived means (WW would average in alpha = −1). */
export function summarize(rows: readonly LayerRow[], _opts: AnalyzeOptions): Summary {
  return summarizeRows(rows, { failedAlpha: 'skip' });
}
