/**
 * WW's layer kinds (its `layer_type` column), as decided from a tensor's role and shape; 'rnn' (one direction's
 * gate-stacked input or recurrent matrix of an ONNX LSTM/GRU/RNN) is ours.
 */
export type LayerType = 'dense' | 'conv1d' | 'conv2d' | 'embedding' | 'rnn';

/** Layer filters, WeightWatcher 0.7.5.5's defaults (docs/algorithms.md §1.1). */
export interface LayerFilters {
  /** Skip a layer with fewer than this many eigenvalues (M·rf). */
  minEvals: number;
  /** Skip a layer with more than this many eigenvalues (M·rf). */
  maxEvals: number;
  /** Skip a layer whose long side N exceeds this. */
  maxN: number;
}

/** What the `--all-layers` flag lifts: WW's size limits (min_evals stays). */
export const NO_SIZE_LIMITS: Pick<LayerFilters, 'maxEvals' | 'maxN'> = { maxEvals: Number.MAX_SAFE_INTEGER, maxN: Number.MAX_SAFE_INTEGER };

export const DEFAULT_FILTERS: LayerFilters = { minEvals: 10, maxEvals: 15000, maxN: 50000 };

/** One weight tensor that becomes one report row. */
export interface LayerPlan {
  layer_id: number;
  /** Tensor name without its `.weight` suffix (WW's `name` and `longname`). */
  name: string;
  /** The tensor to read. */
  tensor: string;
  /**
   * Present when the layer is one of `count` equal parts of the tensor along its first axis (one direction of an
   * ONNX LSTM/GRU/RNN weight [num_directions, gates·hidden, size]); `shape` is then the part's shape.
   */
  part?: { index: number; count: number };
  layer_type: LayerType;
  shape: readonly number[];
  /** Long and short side of each matrix slice. */
  N: number;
  M: number;
  /** Receptive field: number of kernel slices (kh·kw for Conv2D, 1 otherwise). */
  rf: number;
  Q: number;
  /**
   * ONNX only: an initializer without a `.weight` name (e.g. a constant-folded `onnx::MatMul_572`). It may be an
   * exact (transposed) copy of another weight; analyze drops it then, so every format gives the same rows.
   */
  extra: boolean;
}

/** A tensor WW enumerates (it consumed a layer id) but does not analyse, and why. */
export interface SkippedTensor {
  layer_id: number;
  name: string;
  tensor: string;
  reason: string;
  /**
   * Skipped by a size limit (max_evals, max_N): the flops its analysis would cost (Gram + tridiagonal reduction),
   * so the user can judge the `--all-layers` flag.
   */
  flops?: number;
}

export interface LayerPlanResult {
  layers: LayerPlan[];
  skipped: SkippedTensor[];
}
