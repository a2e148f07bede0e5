/**
 * Model-level summary: the unweighted mean over analysed layers of each metric (WW's get_summary: log_norm, alpha,
 * alpha_weighted, log_alpha_norm, log_spectral_norm, stable_rank, mp_softrank when present), plus the KDD'23
 * aggregates: D (PL KS distance), etpl_beta, etpl_lambda, etpl_D, exp_lambda and alpha_hat (= mean alpha_weighted).
 *
 * WW averages with pandas (NaN skipped) and so *includes* a failed layer's alpha = −1 and the alpha-derived columns
 * computed from it; `failedAlpha: 'skip'` leaves those layers out of the alpha-derived means instead. E-TPL/EXP
 * means use only fits that did not fail.
 */
import type { EtplFit, ExpFit, Summary } from './types.js';

/** The columns of a details row (a report LayerRow) that the summary reads; mp_softrank when an MP fit ran. */
export interface SummaryRow {
  status?: 'success' | 'failed';
  log_norm?: number | null;
  alpha?: number | null;
  alpha_weighted?: number | null;
  log_alpha_norm?: number | null;
  log_spectral_norm?: number | null;
  stable_rank?: number | null;
  mp_softrank?: number | null;
  D?: number | null;
  etpl?: EtplFit;
  exp?: ExpFit;
}

export interface SummaryOptions {
  /** 'include' (default, WW's get_summary) or 'skip' failed layers in alpha, alpha_weighted, log_alpha_norm, D. */
  failedAlpha?: 'include' | 'skip';
}

export const WW_SUMMARY_COLUMNS = [
  'log_norm',
  'alpha',
  'alpha_weighted',
  'log_alpha_norm',
  'log_spectral_norm',
  'stable_rank',
  'mp_softrank',
] as const;

const ALPHA_DERIVED = new Set(['alpha', 'alpha_weighted', 'log_alpha_norm', 'D']);

function mean(values: number[]): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);

export function summarize(rows: readonly SummaryRow[], opts: SummaryOptions = {}): Summary {
  const skipFailed = opts.failedAlpha === 'skip';
  const out: Summary = {};
  const column = (name: string): void => {
    if (!rows.some((r) => name in r)) return; // WW reports only columns that exist
    const vals: number[] = [];
    for (const r of rows) {
      if (skipFailed && ALPHA_DERIVED.has(name) && r.status === 'failed') continue;
      const v = (r as Record<string, unknown>)[name];
      if (isNum(v)) vals.push(v);
    }
    out[name] = mean(vals);
  };
  for (const c of WW_SUMMARY_COLUMNS) column(c);
  column('D');
  if ('alpha_weighted' in out) out.alpha_hat = out.alpha_weighted;
  const fitMean = (pick: (r: SummaryRow) => number | null | undefined, ok: (r: SummaryRow) => boolean): number | null =>
    mean(rows.filter(ok).map(pick).filter(isNum));
  if (rows.some((r) => r.etpl)) {
    const ok = (r: SummaryRow): boolean => r.etpl !== undefined && r.etpl.status !== 'failed';
    out.etpl_beta = fitMean((r) => r.etpl?.beta, ok);
    out.etpl_lambda = fitMean((r) => r.etpl?.lambda, ok);
    out.etpl_D = fitMean((r) => r.etpl?.D, ok);
  }
  if (rows.some((r) => r.exp)) {
    const ok = (r: SummaryRow): boolean => r.exp !== undefined && r.exp.status !== 'failed';
    out.exp_lambda = fitMean((r) => r.exp?.lambda, ok);
  }
  return out;
}
