/**
 * Indexing: Gather/GatherND/GatherElements, ScatterND/ScatterElements, OneHot, and ops whose output size depends on
 * the values (Compress, NonZero, Unique, NonMaxSuppression). Gathers scatter-add their gradient into zeros: with
 * ScatterND (reduction 'add', opset ≥ 16; its own gradient is GatherND and back, so the rule set stays closed), or
 * below opset 16 with a one-hot matrix product (OneHot of the positions, then MatMul), fine for small axes only.
 */
import { WeightscopeError } from '../../errors.js';
import type { Emitter } from '../emitter.js';
import { attr, attrInt, attrString, DT, makeTensor, normAxis } from '../ir.js';
import { NO_BATCH_RULE, VALUE_SIZED, type BatchCtx, type OnAxis } from './batch-context.js';
import { contents, SAME_AS_INPUT, sym, UNKNOWN_OUTPUTS } from './shapes.js';
import { differentiable, family, NO_GRADIENT, NOT_DIFFERENTIABLE, type InferRule, type OpDef } from './types.js';

/**
 * Scatter-add g (viewed as [pre, K, post]) into [pre, depth, post] at positions idx (K int positions, any shape).
 * Returns the [pre, depth, post] tensor; the caller reshapes.
 */
export function scatterRows(b: Emitter, g: string, idx: string, depth: string, pre: string, post: string): string {
  const flat = b.reshape(b.cast(idx, DT.INT64), b.i64([-1]));
  const oh = b.cast(b.op('OneHot', [flat, depth, b.constant(DT.FLOAT, [2], [0, 1])], { axis: -1 }), b.dtype(g));
  const gR = b.reshape(g, b.concat([pre, b.i64([-1]), post], 0));
  return b.matmul(b.transpose(oh, [1, 0]), gR);
}

/** Products of shape[:a] and shape[a+1:] as 1-element int64 tensors. */
function prePost(b: Emitter, shape: string, a: number, r: number): [string, string] {
  const pre = a === 0 ? b.i64([1]) : b.reduceProd1(b.slice1(shape, 0, a));
  const post = a === r - 1 ? b.i64([1]) : b.reduceProd1(b.slice1(shape, a + 1, r));
  return [pre, post];
}

/**
 * Scatter-add g into zeros of shape `target` (1-D int64 tensor, rank r) along axis a at positions idx (rank ri):
 * the adjoint of Gather(·, idx, axis=a). g has shape target[:a] + idx.shape + target[a+1:].
 */
export function scatterAdd(b: Emitter, g: string, idx: string, a: number, r: number, ri: number, target: string): string {
  if (b.opset < 16) {
    const [pre, post] = prePost(b, target, a, r);
    return b.reshape(scatterRows(b, g, idx, b.slice1(target, a, a + 1), pre, post), target);
  }
  const fill = (shape: string): string => b.op('ConstantOfShape', [shape], { value: { t: makeTensor('', b.dtype(g), [1], [0]) } });
  const idxU = b.unsqueeze(b.cast(idx, DT.INT64), [-1]);
  if (a === 0) return b.op('ScatterND', [fill(target), idxU, g], { reduction: 'add' });
  const permT = [a, ...Array.from({ length: r }, (_, i) => i).filter((i) => i !== a)];
  const zerosT = fill(b.op('Gather', [target, b.i64(permT)], { axis: 0 }));
  const rg = r - 1 + ri;
  const permG = [
    ...Array.from({ length: ri }, (_, i) => a + i),
    ...Array.from({ length: a }, (_, i) => i),
    ...Array.from({ length: rg - a - ri }, (_, i) => a + ri + i),
  ];
  const sc = b.op('ScatterND', [zerosT, idxU, b.transpose(g, permG)], { reduction: 'add' });
  const back = [...Array.from({ length: a }, (_, i) => i + 1), 0, ...Array.from({ length: r - a - 1 }, (_, i) => a + 1 + i)];
  return b.transpose(sc, back);
}

// ---- Gather ------------------------------------------------------------------------------------------------------

const gather: OpDef = {
  op: 'Gather',
  infer: ({ node, x, ins }) => {
    const idx = ins[1];
    if (!x.shape || !idx.shape) return [{ dtype: x.dtype, shape: null }];
    const a = normAxis(attrInt(node, 'axis', 0), x.shape.length);
    const shape = [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)];
    const xv = sym(x);
    const picked = xv && idx.value && x.shape.length === 1 ? idx.value.map((i) => xv[normAxis(i, xv.length)]) : undefined;
    return [{ dtype: x.dtype, shape, ...contents(picked) }];
  },
  grad: differentiable(
    ({ b, node, g }) => [
      () => {
        const [data, idx] = node.inputs;
        const r = b.rank(data, `Gather gradient (node '${node.name}')`);
        const a = normAxis(attrInt(node, 'axis', 0), r);
        const ri = b.rank(idx, `Gather gradient (node '${node.name}')`);
        return b.reshapeLike(scatterAdd(b, g, idx, a, r, ri, b.shapeConst(data)), data);
      },
    ],
    [0],
  ),
  batch: {
    rule: (c: BatchCtx): OnAxis => {
      if (c.ins[0] && c.ins[1]) c.mixes('gathers sample-dependent data at sample-dependent indices');
      const na = normAxis(attrInt(c.n, 'axis', 0), c.rank(0));
      if (c.ins[1]) {
        const fi = c.axisOf(1);
        return c.at(fi, na + fi.axis);
      }
      const f = c.axisOf(0);
      if (na === f.axis) c.mixes('gathers along the batch axis');
      return c.at(f, f.axis < na ? f.axis : f.axis - 1 + c.rank(1));
    },
  },
};

const gatherND: OpDef = {
  op: 'GatherND',
  infer: ({ x, ins }) => {
    const idx = ins[1].shape;
    const k = idx?.[idx.length - 1];
    if (!x.shape || !idx || typeof k !== 'number') return [{ dtype: x.dtype, shape: null }];
    return [{ dtype: x.dtype, shape: [...idx.slice(0, -1), ...x.shape.slice(k)] }];
  },
  // batch_dims = 0: the adjoint accumulates duplicates with ScatterND 'add'
  grad: differentiable(
    ({ b, node, g }) => [
      () => {
        if (attrInt(node, 'batch_dims', 0) !== 0)
          throw new WeightscopeError('unsupported-op', `GatherND node '${node.name}': batch_dims ≠ 0`);
        const [data, idx] = node.inputs;
        return b.op('ScatterND', [b.zerosLike(data), idx, g], { reduction: 'add' });
      },
    ],
    [0],
  ),
  batch: {
    rule: (c) => {
      const bd = attrInt(c.n, 'batch_dims', 0);
      if (c.ins[0]) {
        const f = c.axisOf(0);
        if (!(f.axis < bd && (!c.ins[1] || c.axisOf(1).axis === f.axis))) c.mixes('may gather across samples');
        return f;
      }
      const fi = c.axisOf(1);
      if (fi.axis >= c.rank(1) - 1) c.mixes('indexes with the batch axis');
      return fi;
    },
  },
};

const scatterND: OpDef = {
  op: 'ScatterND',
  infer: SAME_AS_INPUT,
  grad: differentiable(
    ({ b, node, g }) => {
      const [, idx, upd] = node.inputs;
      const mode = attrString(node, 'reduction', 'none');
      if (mode !== 'add' && mode !== 'none')
        throw new WeightscopeError('unsupported-op', `ScatterND node '${node.name}': reduction '${mode}' has no gradient rule`);
      return [
        // 'none': overwritten positions of data get no gradient (indices are unique by the spec).
        () => (mode === 'add' ? g : b.op('ScatterND', [g, idx, b.zerosLike(upd)])),
        undefined,
        () => b.op('GatherND', [g, idx]),
      ];
    },
    [0, 2],
  ),
  batch: NO_BATCH_RULE,
};

const oneHot: OpDef = {
  op: 'OneHot',
  infer: ({ node, x, ins }) => {
    const depth = ins[1].value?.[0] ?? null;
    const dtype = ins[2].dtype;
    if (!x.shape) return [{ dtype, shape: null }];
    const out = [...x.shape];
    out.splice(normAxis(attrInt(node, 'axis', -1), x.shape.length + 1), 0, depth);
    return [{ dtype, shape: out }];
  },
  grad: NOT_DIFFERENTIABLE,
  batch: {
    rule: (c) => {
      c.only(0);
      const f = c.axisOf(0);
      const a = normAxis(attrInt(c.n, 'axis', -1), c.rank(0) + 1);
      return c.at(f, a <= f.axis ? f.axis + 1 : f.axis);
    },
  },
};

const compressShape: InferRule = ({ node, x }) => [
  { dtype: x.dtype, shape: x.shape && node.inputs.length > 1 && attr(node, 'axis') ? x.shape.map(() => null) : [null] },
];

export const indexingOps: OpDef[] = [
  gather,
  gatherND,
  scatterND,
  oneHot,
  {
    op: 'GatherElements',
    infer: ({ x, ins }) => [{ dtype: x.dtype, shape: ins[1].shape }],
    grad: NO_GRADIENT,
    batch: {
      rule: (c) => {
        const a = attrInt(c.n, 'axis', 0);
        if (!c.ins[0]) return c.axisOf(1); // constant table, per-sample indices: output row i reads only indices row i
        const f = c.axisOf(0);
        if (normAxis(a, c.rank(0)) === f.axis) c.mixes('gathers along the batch axis');
        if (c.ins[1] && c.axisOf(1).axis !== f.axis) c.mixes('combines samples along different axes');
        return f;
      },
    },
  },
  {
    op: 'ScatterElements',
    infer: SAME_AS_INPUT,
    grad: NO_GRADIENT,
    batch: {
      rule: (c) => {
        const f = c.ins[0] ? c.axisOf(0) : c.mixes('scatters samples into a shared tensor');
        for (const i of c.sampled) if (c.axisOf(i).axis !== f.axis) c.mixes('combines samples along different axes');
        if (normAxis(attrInt(c.n, 'axis', 0), c.rank(0)) === f.axis) c.mixes('scatters along the batch axis');
        return f;
      },
    },
  },
  { op: 'Compress', infer: compressShape, grad: NOT_DIFFERENTIABLE, batch: VALUE_SIZED },
  ...family(['NonZero', 'NonMaxSuppression'], { infer: UNKNOWN_OUTPUTS, grad: NOT_DIFFERENTIABLE, batch: VALUE_SIZED }),
  { op: 'Unique', infer: UNKNOWN_OUTPUTS, grad: NO_GRADIENT, batch: VALUE_SIZED },
];
