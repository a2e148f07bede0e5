/**
 * Which tensors are weight matrices, with WeightWatcher 0.7.5.5's layer ids and shapes (docs/algorithms.md §1.2–1.3).
 *
 * WW walks a state dict's `.weight` keys in sorted-name order and gives every one an id from 0, whether or not it is
 * analysed (a LayerNorm's 1-D weight consumes an id too). 2-D → dense, 4-D → conv2d, anything else is skipped.
 * WW's state-dict path reports every 2-D weight as `dense`, HF GPT-2's Conv1D and embeddings included (the
 * reference files say so), and we keep that so every format of a model gives identical rows.
 *
 * ONNX adds: an initializer is a weight only if the graph uses it as a MatMul/Gemm operand, Conv kernel, Gather
 * table or LSTM/GRU/RNN W/R input (`roles`); constant-folded initializers with no `.weight` name (`onnx::MatMul_572`)
 * get ids after all `.weight` keys, so they cannot shift the ids of the named layers; and with a role, rank-3
 * tensors are layers too: a Conv kernel is a Conv1d (see matrices.ts), an RNN weight [num_directions,
 * gates·hidden, size] gives one layer per direction with its gates stacked, as PyTorch keeps weight_ih_l0 and
 * weight_ih_l0_reverse (ONNX orders the gates iofc, PyTorch ifgo: a row permutation, same singular values).
 * Without a graph (state dicts) rank 3 stays unanalysed, as in WW's state-dict path.
 */
import { isWideningFloat } from '../io/dtype.js';
import type { TensorInfo, WeightRole } from '../io/types.js';
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
 * Geometry of a 2-D or 4-D tensor (and, given its graph role, a rank-3 Conv1d kernel or RNN weight), or null for any
 * other rank. Conv2D layout: (s0+s1 ≥ s2+s3) means PyTorch's (out, in, kh, kw) with slices W[:, :, i, j]; otherwise
 * Keras' (kh, kw, in, out) with slices W[i, j, :, :]. Conv1d likewise: (out, in, k) when s0+s1 ≥ s2.
 * For an RNN weight the geometry is that of one direction.
 */
export function geometry(shape: readonly number[], role?: WeightRole): Geometry | null {
  if (shape.length === 2) {
    const [a, b] = shape;
    return { layer_type: role === 'rnn' ? 'rnn' : 'dense', N: Math.max(a, b), M: Math.min(a, b), rf: 1 };
  }
  if (shape.length === 4) {
    const [s0, s1, s2, s3] = shape;
    const last = s0 + s1 >= s2 + s3;
    const [r, c, rf] = last ? [s0, s1, s2 * s3] : [s2, s3, s0 * s1];
    return { layer_type: 'conv2d', N: Math.max(r, c), M: Math.min(r, c), rf };
  }
  if (shape.length === 3 && role === 'conv') {
    const [s0, s1, s2] = shape;
    const [r, c, rf] = s0 + s1 >= s2 ? [s0, s1, s2] : [s1, s2, s0];
    return { layer_type: 'conv1d', N: Math.max(r, c), M: Math.min(r, c), rf };
  }
  if (shape.length === 3 && role === 'rnn') {
    const [, r, c] = shape;
    return { layer_type: 'rnn', N: Math.max(r, c), M: Math.min(r, c), rf: 1 };
  }
  return null;
}

/** Flops of one layer's spectrum: per slice, the Gram matrix (N·M², half a GEMM) and the tridiagonal reduction (4/3·M³). */
export function layerFlops(g: Pick<Geometry, 'N' | 'M' | 'rf'>): number {
  return g.rf * (g.N * g.M * g.M + (4 / 3) * g.M ** 3);
}

function stripWeight(name: string): string {
  return name.endsWith(WEIGHT_SUFFIX) ? name.slice(0, -WEIGHT_SUFFIX.length) : name;
}

/** Why a tensor that consumed an id is not analysed ({reason, flops} for a size limit), or null when it is a layer. */
function rejection(
  t: TensorInfo,
  g: Geometry | null,
  filters: LayerFilters,
  roles: ReadonlyMap<string, WeightRole> | undefined,
): Pick<SkippedTensor, 'reason' | 'flops'> | null {
  if (!isWideningFloat(t.dtype)) return { reason: `dtype ${t.dtype} is not a float type` };
  if (!g) {
    const rank3 =
      t.shape.length === 3 ? ' (rank 3 is a layer only where an ONNX graph uses it as a Conv kernel or LSTM/GRU/RNN weight)' : '';
    return { reason: `shape [${t.shape.join(', ')}] is not a weight matrix (rank 2) or Conv2D kernel (rank 4)${rank3}` };
  }
  if (roles && !roles.has(t.name))
    return { reason: 'the graph does not use it as a MatMul/Gemm operand, Conv kernel, Gather table or RNN weight' };
  if (g.M === 0) return { reason: `shape [${t.shape.join(', ')}] is empty` };
  const evals = g.M * g.rf;
  if (evals < filters.minEvals) return { reason: `${evals} eigenvalues < min_evals ${filters.minEvals}` };
  const cost = `; --all-layers analyses it (${(layerFlops(g) / 1e9).toPrecision(3)} GFLOP)`;
  if (evals > filters.maxEvals)
    return { reason: `${evals} eigenvalues > max_evals ${filters.maxEvals} (WeightWatcher's default)${cost}`, flops: layerFlops(g) };
  if (g.N > filters.maxN) return { reason: `N = ${g.N} > max_N ${filters.maxN} (WeightWatcher's default)${cost}`, flops: layerFlops(g) };
  return null;
}

/** The name of part `index` of `count` (RNN directions: ONNX orders them forward, reverse). */
function partName(name: string, index: number, count: number): string {
  if (count === 1) return name;
  if (count === 2) return `${name}.${index === 0 ? 'forward' : 'reverse'}`;
  return `${name}.${index}`;
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
    ? sorted.filter(
        (t) =>
          !t.name.endsWith(WEIGHT_SUFFIX) && roles.has(t.name) && isWideningFloat(t.dtype) && geometry(t.shape, roles.get(t.name)) !== null,
      )
    : [];
  const layers: LayerPlan[] = [];
  const skipped: SkippedTensor[] = [];
  let id = 0;
  for (const [list, extra] of [
    [named, false],
    [extras, true],
  ] as const) {
    for (const t of list) {
      const role = roles?.get(t.name);
      const g = geometry(t.shape, role);
      // An RNN weight [num_directions, gates·hidden, size] is one layer per direction, each with its own id.
      const parts = g?.layer_type === 'rnn' && t.shape.length === 3 ? t.shape[0] : 1;
      for (let p = 0; p < Math.max(1, parts); p++) {
        const layer_id = id++;
        const name = partName(stripWeight(t.name), p, parts);
        const why = rejection(t, g, filters, roles);
        if (why !== null) {
          skipped.push({ layer_id, name, tensor: t.name, ...why });
          continue;
        }
        const split = g!.layer_type === 'rnn' && t.shape.length === 3;
        layers.push({
          layer_id,
          name,
          tensor: t.name,
          shape: split ? t.shape.slice(1) : [...t.shape],
          ...g!,
          Q: g!.N / g!.M,
          extra,
          ...(split ? { part: { index: p, count: parts } } : {}),
        });
      }
    }
  }
  return { layers, skipped };
}
