/**
 * Reductions (Reduce*, ArgMax/ArgMin), running sums (CumSum) and TopK. ReduceSum and ReduceMean have gradients:
 * the output gradient broadcast back over the reduced axes (divided by the count for the mean); CumSum's is the
 * running sum the other way.
 */
import { WeightscopeError } from '../../errors.js';
import { attrInt, attrInts, DT, normAxes, normAxis, type GNode } from '../ir.js';
import type { BatchCtx } from './batch-context.js';
import { prod, SAME_AS_INPUT } from './shapes.js';
import {
  differentiable,
  family,
  NO_GRADIENT,
  NOT_DIFFERENTIABLE,
  type BatchSpec,
  type GradRule,
  type InferRule,
  type OpDef,
} from './types.js';

/**
 * The axes a Reduce* node reduces over, normalised and sorted: its axes input (ReduceSum since opset 13, the others
 * since 18) or attribute; none given means all, or none with noop_with_empty_axes. Undefined when an axes input's
 * values are not known statically.
 */
export function reductionAxes(node: GNode, opset: number, rank: number, axesInput: number[] | undefined): number[] | undefined {
  const fromInput = node.opType === 'ReduceSum' ? opset >= 13 : opset >= 18;
  const axes = fromInput ? (node.inputs[1] ? axesInput : []) : (attrInts(node, 'axes') ?? []);
  if (!axes) return undefined;
  if (axes.length === 0) return attrInt(node, 'noop_with_empty_axes', 0) ? [] : Array.from({ length: rank }, (_, i) => i);
  return normAxes(axes, rank).sort((p, q) => p - q);
}

const reduceShape: InferRule = ({ node, x, ins, opset }) => {
  const keep = attrInt(node, 'keepdims', 1);
  if (!x.shape) return [{ dtype: x.dtype, shape: null }];
  const r = x.shape.length;
  const na = reductionAxes(node, opset, r, ins[1]?.value);
  if (!na) return [{ dtype: x.dtype, shape: keep ? x.shape.map(() => null) : null }];
  const shape = keep ? x.shape.map((d, i) => (na.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !na.includes(i));
  const value = node.opType === 'ReduceProd' && x.value && r === 1 ? [prod(x.value)] : undefined;
  return [{ dtype: x.dtype, shape, ...(value ? { value } : {}) }];
};

const reduceBatch: BatchSpec = {
  rule: (c: BatchCtx) => {
    c.only(0);
    const f = c.axisOf(0);
    const na = reductionAxes(c.n, c.opset, c.rank(0), c.value(1));
    if (!na) return c.mixes('reduces over axes the analysis cannot read');
    if (na.includes(f.axis)) c.mixes('reduces over the batch axis');
    return c.at(f, attrInt(c.n, 'keepdims', 1) ? f.axis : f.axis - na.filter((a) => a < f.axis).length);
  },
};

/** The output gradient g broadcast back to x's shape over the reduced axes. */
function spread(c: Parameters<GradRule>[0]): string {
  const { b, node, g } = c;
  const x = node.inputs[0];
  // keepdims: reduced axes are size 1 in g, so broadcasting alone restores x's shape (axes may even be dynamic).
  if (attrInt(node, 'keepdims', 1)) return b.expandLike(g, x);
  const na = reductionAxes(
    node,
    b.opset,
    b.rank(x, `${node.opType} gradient (node '${node.name}')`),
    node.inputs[1] ? b.constValue(node.inputs[1]) : undefined,
  );
  if (!na) throw new WeightscopeError('unsupported-op', `${node.opType} node '${node.name}': axes must be constant`);
  if (na.length === 0) return g;
  return b.expandLike(b.unsqueeze(g, na), x);
}

const reduceMeanGrad: GradRule = (c) => [
  () => {
    const { b, node } = c;
    const [x] = node.inputs;
    // count = product of the reduced dims of x; at run time Size(x)/Size(y) when some are symbolic.
    const xs = b.shapeOf(x);
    const ax = xs ? reductionAxes(node, b.opset, xs.length, node.inputs[1] ? b.constValue(node.inputs[1]) : undefined) : undefined;
    const dims = xs && ax ? ax.map((a) => xs[a]) : [null];
    const count = dims.every((d) => typeof d === 'number')
      ? b.scalarLike(
          x,
          (dims as number[]).reduce((p, q) => p * q, 1),
        )
      : b.cast(b.div(b.op('Size', [x]), b.op('Size', [node.outputs[0]])), b.dtype(x));
    return b.div(spread(c), count);
  },
];

// ---- ArgMax / ArgMin ---------------------------------------------------------------------------------------------

const argShape: InferRule = ({ node, x }) => {
  if (!x.shape) return [{ dtype: DT.INT64, shape: null }];
  const a = normAxis(attrInt(node, 'axis', 0), x.shape.length);
  const shape = attrInt(node, 'keepdims', 1) ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  return [{ dtype: DT.INT64, shape }];
};

const argBatch: BatchSpec = {
  rule: (c) => {
    c.only(0);
    const f = c.axisOf(0);
    const a = normAxis(attrInt(c.n, 'axis', 0), c.rank(0));
    if (a === f.axis) c.mixes('reduces over the batch axis');
    return c.at(f, attrInt(c.n, 'keepdims', 1) || a > f.axis ? f.axis : f.axis - 1);
  },
};

// ---- CumSum, TopK ------------------------------------------------------------------------------------------------

/** The adjoint of a running sum is the running sum in the other direction (exclusive stays exclusive). */
const cumSumGrad: GradRule = ({ b, node, g }) => [
  () => b.op('CumSum', [g, node.inputs[1]], { exclusive: attrInt(node, 'exclusive', 0), reverse: 1 - attrInt(node, 'reverse', 0) }),
];

const cumSumBatch: BatchSpec = {
  rule: (c) => {
    c.only(0);
    const f = c.axisOf(0);
    const a = c.value(1)?.[0];
    if (a === undefined || normAxis(a, c.rank(0)) === f.axis) c.mixes('may accumulate along the batch axis');
    return f;
  },
};

const topKShape: InferRule = ({ node, x, ins }) => {
  const k = ins[1]?.value?.[0] ?? null;
  const shape = x.shape ? [...x.shape] : null;
  if (shape) shape[normAxis(attrInt(node, 'axis', -1), shape.length)] = k;
  return [
    { dtype: x.dtype, shape },
    { dtype: DT.INT64, shape: shape ? [...shape] : null },
  ];
};

const topKBatch: BatchSpec = {
  rule: (c) => {
    c.only(0);
    const f = c.axisOf(0);
    if (normAxis(attrInt(c.n, 'axis', -1), c.rank(0)) === f.axis) c.mixes('ranks along the batch axis');
    return f;
  },
};

export const reduceOps: OpDef[] = [
  { op: 'ReduceSum', infer: reduceShape, grad: differentiable((c) => [() => spread(c)], [0]), batch: reduceBatch },
  { op: 'ReduceMean', infer: reduceShape, grad: differentiable(reduceMeanGrad, [0]), batch: reduceBatch },
  ...family(['ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'], {
    infer: reduceShape,
    grad: NO_GRADIENT,
    batch: reduceBatch,
  }),
  ...family(['ArgMax', 'ArgMin'], { infer: argShape, grad: NOT_DIFFERENTIABLE, batch: argBatch }),
  { op: 'CumSum', infer: SAME_AS_INPUT, grad: differentiable(cumSumGrad, [0]), batch: cumSumBatch },
  { op: 'TopK', infer: topKShape, grad: NO_GRADIENT, batch: topKBatch },
];
