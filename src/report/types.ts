/**
 * The analysis report: one row per layer with WeightWatcher 0.7.5.5's `details` column names (so users can diff
 * the two), plus our E-TPL and EXP fits. Numbers that WW leaves empty are null here.
 */
import type { LayerType } from '../layers/types.js';
import type { EtplFit, ExpFit, Summary } from '../spectral/types.js';

// Defined beside the code that produces them (so src/layers and src/spectral depend on nothing above them);
// re-exported here as part of the report contract.
export type { LayerType } from '../layers/types.js';
export type { EtplFit, ExpFit, FitStatus, Summary } from '../spectral/types.js';

export interface LayerRow {
  layer_id: number;
  name: string;
  longname: string;
  layer_type: LayerType;
  N: number;
  M: number;
  rf: number;
  Q: number;
  has_esd: boolean;
  num_evals: number;
  sv_max: number | null;
  sv_min: number | null;
  rank_loss: number | null;
  weak_rank_loss: number | null;
  lambda_max: number | null;
  alpha: number | null;
  xmin: number | null;
  xmax: number | null;
  D: number | null;
  sigma: number | null;
  num_pl_spikes: number | null;
  /** WW's status column: 'success' or 'failed'. */
  status: 'success' | 'failed';
  /** Why this layer failed (NaN weights, too few tail points …); absent on success. */
  reason?: string;
  warning: string;
  norm: number | null;
  log_norm: number | null;
  spectral_norm: number | null;
  log_spectral_norm: number | null;
  alpha_weighted: number | null;
  log_alpha_norm: number | null;
  stable_rank: number | null;
  matrix_rank: number | null;
  entropy: number | null;
  etpl?: EtplFit;
  exp?: ExpFit;
  /**
   * The layer's ESD (all slices' eigenvalues, ascending), only when analyze() ran with `keepEigenvalues: true`;
   * the service keeps them for the dashboard's ESD plots (GET /v1/analyses/{id}/esd/{layer_id}).
   */
  eigenvalues?: number[];
}

export interface AnalysisReport {
  model: { source: string; format: string; tensors: number; parameters: number };
  options: Record<string, unknown>;
  layers: LayerRow[];
  summary: Summary;
  /** Tensors that consumed a layer id but were not analysed (shape, dtype, size filters, tied copies), and why. */
  skipped?: SkippedLayer[];
  seconds: number;
}

export interface SkippedLayer {
  layer_id: number;
  name: string;
  tensor: string;
  reason: string;
}

export type { ProgressHook } from '../util/progress.js';
