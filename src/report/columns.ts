/** WeightWatcher 0.7.5.5's `details` columns in its order (docs/algorithms.md §1.8), then ours. */
import type { LayerRow } from './types.js';

export const WW_COLUMNS = [
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
  'sv_max',
  'sv_min',
  'rank_loss',
  'weak_rank_loss',
  'lambda_max',
  'alpha',
  'xmin',
  'xmax',
  'D',
  'sigma',
  'num_pl_spikes',
  'status',
  'warning',
  'norm',
  'log_norm',
  'spectral_norm',
  'log_spectral_norm',
  'alpha_weighted',
  'log_alpha_norm',
  'stable_rank',
  'matrix_rank',
  'entropy',
] as const satisfies readonly (keyof LayerRow)[];

/** Flat CSV columns for the nested fits. */
export const FIT_COLUMNS = [
  'etpl_beta',
  'etpl_lambda',
  'etpl_xmin',
  'etpl_D',
  'etpl_loglik',
  'etpl_status',
  'exp_lambda',
  'exp_xmin',
  'exp_D',
  'exp_status',
  'reason',
] as const;

type Cell = string | number | boolean | null | undefined;

/** One row as a flat record with WW's column names plus FIT_COLUMNS. */
export function flatRow(r: LayerRow): Record<string, Cell> {
  const out: Record<string, Cell> = {};
  for (const c of WW_COLUMNS) out[c] = r[c];
  out.etpl_beta = r.etpl?.beta;
  out.etpl_lambda = r.etpl?.lambda;
  out.etpl_xmin = r.etpl?.xmin;
  out.etpl_D = r.etpl?.D;
  out.etpl_loglik = r.etpl?.loglik;
  out.etpl_status = r.etpl ? (r.etpl.reason ? `${r.etpl.status}: ${r.etpl.reason}` : r.etpl.status) : undefined;
  out.exp_lambda = r.exp?.lambda;
  out.exp_xmin = r.exp?.xmin;
  out.exp_D = r.exp?.D;
  out.exp_status = r.exp ? (r.exp.reason ? `${r.exp.status}: ${r.exp.reason}` : r.exp.status) : undefined;
  out.reason = r.reason;
  return out;
}
