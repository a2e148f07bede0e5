/**
 * Ranking metrics: one number per model = the mean over analysed layers of a per-layer column (WeightWatcher's
 * get_summary and the KDD'23 protocol: a plain mean, empty values skipped). Each metric has a documented default
 * direction, 'asc' meaning "smaller is better" (rank 1 = smallest value).
 */
import type { AnalysisReport, LayerRow } from '../report/types.js';
import type { FitKind } from '../report/options.js';

export const RANKING_METRICS = [
  'alpha',
  'alpha_weighted',
  'log_alpha_norm',
  'log_norm',
  'log_spectral_norm',
  'stable_rank',
  'etpl_beta',
  'etpl_lambda',
  'exp_lambda',
] as const;
export type RankingMetric = (typeof RANKING_METRICS)[number];
export type Direction = 'asc' | 'desc';

export interface MetricInfo {
  /** Default direction: 'asc' = smaller value ranks first (better). */
  direction: Direction;
  /** Which fit the analysis must have run for this metric. */
  fit: FitKind;
  /** Why that direction. */
  doc: string;
  value(row: LayerRow): number | null | undefined;
}

/**
 * Directions follow HT-SR (Martin & Mahoney; Yang et al. KDD'23): heavier-tailed ESDs (smaller PL alpha or E-TPL
 * beta, larger E-TPL / EXP lambda) go with better-trained models; the scale metrics (norms) correlate negatively
 * with quality in the KDD'23 study of trained models, so smaller also ranks first.
 */
/** A failed PL fit carries WW's placeholder alpha = −1: it is no measurement and would rank a broken model first. */
function plValue(r: LayerRow, v: number | null): number | null {
  return r.status === 'failed' ? null : v;
}

function fitValue(fit: { status: string } | undefined, v: number | null | undefined): number | null {
  return fit === undefined || fit.status === 'failed' ? null : (v ?? null);
}

export const METRIC_INFO: Record<RankingMetric, MetricInfo> = {
  alpha: {
    direction: 'asc',
    fit: 'pl',
    doc: 'PL exponent; smaller (2–6 band, towards 2) = better trained',
    value: (r) => plValue(r, r.alpha),
  },
  alpha_weighted: {
    direction: 'asc',
    fit: 'pl',
    doc: 'alpha·log10 λmax (alpha-hat); smaller = better',
    value: (r) => plValue(r, r.alpha_weighted),
  },
  log_alpha_norm: { direction: 'asc', fit: 'pl', doc: 'log10 Σλ^alpha; smaller = better', value: (r) => plValue(r, r.log_alpha_norm) },
  log_norm: { direction: 'asc', fit: 'pl', doc: 'log10 Frobenius norm²; smaller = better (scale metric)', value: (r) => r.log_norm },
  log_spectral_norm: { direction: 'asc', fit: 'pl', doc: 'log10 λmax; smaller = better (scale metric)', value: (r) => r.log_spectral_norm },
  stable_rank: {
    direction: 'asc',
    fit: 'pl',
    doc: "Σλ/λmax; smaller = more heavy-tailed = better (KDD'23 shape metric)",
    value: (r) => r.stable_rank,
  },
  etpl_beta: {
    direction: 'asc',
    fit: 'etpl',
    doc: 'E-TPL power exponent β; smaller = heavier tail = better',
    value: (r) => fitValue(r.etpl, r.etpl?.beta),
  },
  etpl_lambda: {
    direction: 'desc',
    fit: 'etpl',
    doc: "E-TPL truncation rate λ; larger = better (KDD'23: positive correlation with quality)",
    value: (r) => fitValue(r.etpl, r.etpl?.lambda),
  },
  exp_lambda: {
    direction: 'desc',
    fit: 'exp',
    doc: "EXP rate λ; larger = better (KDD'23: best predictor of BLEU)",
    value: (r) => fitValue(r.exp, r.exp?.lambda),
  },
};

export function isRankingMetric(s: string): s is RankingMetric {
  return (RANKING_METRICS as readonly string[]).includes(s);
}

/** Mean of the metric over layers that have a finite value; null when no layer has one. */
export function metricMean(report: Pick<AnalysisReport, 'layers'>, metric: RankingMetric): number | null {
  const get = METRIC_INFO[metric].value;
  let sum = 0,
    n = 0;
  for (const row of report.layers) {
    const v = get(row);
    if (typeof v === 'number' && Number.isFinite(v)) {
      sum += v;
      n++;
    }
  }
  return n ? sum / n : null;
}
