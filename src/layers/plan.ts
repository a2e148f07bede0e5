/**
 * Which tensors are weight matrices, with WeightWatcher 0.7.5.5's layer ids and shapes (docs/algorithms.md §1.2–1.3).
 *
 * WW walks a state dict's `.weight` keys in sorted-name order and gives every one an id from 0, whether or not it is
 * analysed (a LayerNorm's 1-D weight consumes an id too). 2-D → dense, 4-D → conv2d, anything else is skipped.
 * WW's state-dict path reports every 2-D weight as `dense`, HF GPT-2's Conv1D and embeddings included (the
 * reference files say so), and we keep that so every format of a model gives identical rows.
 *
 * ONNX adds two things: an initializer is a weight only if the graph uses it as a MatMul/Gemm operand, Conv kernel
 * or Gather table (`roles`), and constant-folded initializers with no `.weight` name (`onnx::MatMul_572`) get ids
 * after all `.weight` keys, so they cannot shift the ids of the named layers.
 */
import { FLOAT_DTYPES, type TensorInfo, type WeightRole } from '../io/types.js';
import { DEFAULT_FILTERS, type LayerFilters, type LayerPlan, type LayerPlanResult, type LayerType, type SkippedTensor } from './types.js';

const WEIGHT_SUFFIX = '.weight';

export interface PlanOptions extends Partial<LayerFilters> {
  /** ONNX only: how the graph uses each initializer. */
  roles?: ReadonlyMap<string, WeightRole>;
}

/** Matrix geometry of a weight tensor: slice sides and receptive field (docs/algorithms.md §1.3). */
export interface Geometry {
  layer_type: LayerType;
  N: number;
  M: number;
  rf: number;
}

/** Code-unit order, as Python's `sorted` on str for the names checkpoints use. */
function byName(a: TensorInfo, b: TensorInfo): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Geometry of a 2-D or 4-D tensor, or null for any other rank. Conv2D layout: (s0+s1 ≥ s2+s3) means PyTorch's
 * (out, in, kh, kw) with slices W[:, :, i, j]; otherwise Keras' (kh, kw, in, out) with slices W[i, j, :, :].
 */
export function geometry(shape: readonly number[]): Geometry | null {
  if (shape.length === 2) {
    const [a, b] = shape;
    return { layer_type: 'dense', N: Math.max(a, b), M: Math.min(a, b), rf: 1 };
  }
  if (shape.length === 4) {
    const [s0, s1, s2, s3] = shape;
    const last = s0 + s1 >= s2 + s3;
    const [r, c, rf] = last ? [s0, s1, s2 * s3] : [s2, s3, s0 * s1];
    return { layer_type: 'conv2d', N: Math.max(r, c), M: Math.min(r, c), rf };
  }
  return null;
}

function stripWeight(name: string): string {
  return name.endsWith(WEIGHT_SUFFIX) ? name.slice(0, -WEIGHT_SUFFIX.length) : name;
}

/** Why a tensor that consumed an id is not analysed, or null when it is a layer. */
function rejection(t: TensorInfo, filters: LayerFilters, roles: ReadonlyMap<string, WeightRole> | undefined): string | null {
  if (!FLOAT_DTYPES.has(t.dtype)) return `dtype ${t.dtype} is not a float type`;
  const g = geometry(t.shape);
  if (!g) return `shape [${t.shape.join(', ')}] is not a weight matrix (rank 2) or Conv2D kernel (rank 4)`;
  if (roles && !roles.has(t.name)) return 'the graph does not use it as a MatMul/Gemm operand, Conv kernel or Gather table';
  if (g.M === 0) return `shape [${t.shape.join(', ')}] is empty`;
  const evals = g.M * g.rf;
  if (evals < filters.minEvals) return `${evals} eigenvalues < min_evals ${filters.minEvals}`;
  if (evals > filters.maxEvals) return `${evals} eigenvalues > max_evals ${filters.maxEvals}`;
  if (g.N > filters.maxN) return `N = ${g.N} > max_N ${filters.maxN}`;
  return null;
}

/** The layers of a checkpoint, in id order, and the enumerated tensors that are not analysed. */
export function planLayers(tensors: readonly TensorInfo[], opts: PlanOptions = {}): LayerPlanResult {
  const filters: LayerFilters = {
    minEvals: opts.minEvals ?? DEFAULT_FILTERS.minEvals,
    maxEvals: opts.maxEvals ?? DEFAULT_FILTERS.maxEvals,
    maxN: opts.maxN ?? DEFAULT_FILTERS.maxN,
  };
  const roles = opts.roles;
  const sorted = [...tensors].sort(byName);
  const named = sorted.filter((t) => t.name.endsWith(WEIGHT_SUFFIX));
  // ONNX extras: only initializers the graph uses as weights, with a matrix shape (biases are 1-D).
  const extras = roles
    ? sorted.filter((t) => !t.name.endsWith(WEIGHT_SUFFIX) && roles.has(t.name) && FLOAT_DTYPES.has(t.dtype) && geometry(t.shape) !== null)
    : [];
  const layers: LayerPlan[] = [];
  const skipped: SkippedTensor[] = [];
  let id = 0;
  for (const [list, extra] of [[named, false], [extras, true]] as const) {
    for (const t of list) {
      const layer_id = id++;
      const name = stripWeight(t.name);
      const why = rejection(t, filters, roles);
      if (why !== null) {
        skipped.push({ layer_id, name, tensor: t.name, reason: why });
        continue;
      }
      const g = geometry(t.shape)!;
      layers.push({ layer_id, name, tensor: t.name, shape: [...t.shape], ...g, Q: g.N / g.M, extra });
    }
  }
  return { layers, skipped };
}
