/** WW's layer kinds (its `layer_type` column), as decided from a tensor's role and shape. */
export type LayerType = 'dense' | 'conv1d' | 'conv2d' | 'embedding';

/** Layer filters, WeightWatcher 0.7.5.5's defaults (docs/algorithms.md §1.1). */
export interface LayerFilters {
  /** Skip a layer with fewer than this many eigenvalues (M·rf). */
  minEvals: number;
  /** Skip a layer with more than this many eigenvalues (M·rf). */
  maxEvals: number;
  /** Skip a layer whose long side N exceeds this. */
  maxN: number;
}

export const DEFAULT_FILTERS: LayerFilters = { minEvals: 10, maxEvals: 15000, maxN: 50000 };

/** One weight tensor that becomes one report row. */
export interface LayerPlan {
  layer_id: number;
  /** Tensor name without its `.weight` suffix (WW's `name` and `longname`). */
  name: string;
  /** The tensor to read. */
  tensor: string;
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
}

export interface LayerPlanResult {
  layers: LayerPlan[];
  skipped: SkippedTensor[];
}
