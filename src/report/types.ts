/**
 * The analysis report: one row per layer with WeightWatcher 0.7.5.5's `details` column names (so users can diff
 * the two), plus our E-TPL and EXP fits. Numbers that WW leaves empty are null here.
 */
import type { ModelFamily } from '../layers/family.js';
import type { LayerType } from '../layers/types.js';
import type { EtplFit, ExpFit, Summary } from '../spectral/types.js';

// Defined beside the code that produces them (so src/layers and src/spectral depend on nothing above them);
// re-exported here as part of the report contract.
export type { LayerType } from '../layers/types.js';
export type { ModelFamily } from '../layers/family.js';
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

/** What the analysis cost: flops of the computed layers and where the time went (seconds summed over workers). */
export interface WorkSummary {
  /** Gram (N·M² per slice) + tridiagonal reduction (4/3·M³ per slice) flops of the layers computed in this run. */
  flops: number;
  /** Wall seconds of the whole analysis. */
  seconds: number;
  /** flops / seconds / 1e9: the effective rate, to set against the machine's DGEMM rate. */
  gflops: number;
  layers_computed: number;
  /** Layers whose spectrum came from the per-layer cache. */
  layers_cached: number;
  /** Worker seconds per step: reading, widening to float64, Gram products, dense→band/tridiagonal reduction, band→tridiagonal (two-stage), tridiagonal eigenvalues. */
  stages: { read: number; widen: number; gram: number; reduce: number; band: number; solve: number };
}

export interface AnalysisReport {
  model: { source: string; format: string; tensors: number; parameters: number; family?: ModelFamily };
  options: Record<string, unknown>;
  layers: LayerRow[];
  summary: Summary;
  /** Tensors that consumed a layer id but were not analysed (shape, dtype, size filters, tied copies), and why. */
  skipped?: SkippedLayer[];
  work?: WorkSummary;
  seconds: number;
}

export interface SkippedLayer {
  layer_id: number;
  name: string;
  tensor: string;
  reason: string;
  /** For a layer skipped by a size limit (max_evals, max_N): its analysis's cost in flops. */
  flops?: number;
}

export type { ProgressHook } from '../util/progress.js';
