/**
 * Data movement: the gradient moves back the same way. Gather and Slice scatter with a one-hot matrix product
 * (OneHot of the integer positions, then MatMul): ScatterND with accumulation needs opset 16 and has no double
 * kernel, while MatMul is differentiable again, which keeps the rule set closed.
 */
import { WeightscopeError } from '../../errors.js';
import type { GradRule } from '../autodiff.js';
import type { Builder } from '../builder.js';
import { unbroadcast } from '../broadcast.js';
import { attrInt, attrInts, DT } from '../ir.js';

const norm = (a: number, r: number): number => (a < 0 ? a + r : a);

/** Reshape the gradient back to the input's shape (Reshape, Flatten, Squeeze, Unsqueeze). */
const reshapeBack: GradRule['grad'] = ({ b, node, dOut: [g] }) => [b.reshapeLike(g!, node.inputs[0])];

/**
 * Scatter-add g (viewed as [pre, K, post]) into [pre, depth, post] at positions idx (K int positions, any shape).
 * Returns the [pre, depth, post] tensor; the caller reshapes.
 */
export function scatterRows(b: Builder, g: string, idx: string, depth: string, pre: string, post: string): string {
  const flat = b.reshape(b.cast(idx, DT.INT64), b.i64([-1]));
  const oh = b.cast(b.op('OneHot', [flat, depth, b.constant(DT.FLOAT, [2], [0, 1])], { axis: -1 }), b.dtype(g));
  const gR = b.reshape(g, b.concat([pre, b.i64([-1]), post], 0));
  return b.matmul(b.transpose(oh, [1, 0]), gR);
}

/** Products of shape[:a] and shape[a+1:] as 1-element int64 tensors. */
function prePost(b: Builder, shape: string, a: number, r: number): [string, string] {
  const pre = a === 0 ? b.i64([1]) : b.reduceProd1(b.slice1(shape, 0, a));
  const post = a === r - 1 ? b.i64([1]) : b.reduceProd1(b.slice1(shape, a + 1, r));
  return [pre, post];
}

export const shapeRules: GradRule[] = [
  { op: 'Reshape', diffInputs: [0], grad: reshapeBack },
  { op: 'Flatten', grad: reshapeBack },
  { op: 'Squeeze', diffInputs: [0], grad: reshapeBack },
  { op: 'Unsqueeze', diffInputs: [0], grad: reshapeBack },
  {
    op: 'Transpose',
    grad: ({ b, node, dOut: [g] }) => {
      const r = b.rank(node.inputs[0], `Transpose gradient (node '${node.name}')`);
      const perm = attrInts(node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      const inv = new Array<number>(r);
      perm.forEach((p, i) => (inv[p] = i));
      return [b.transpose(g!, inv)];
    },
  },
  { op: 'Expand', diffInputs: [0], grad: ({ b, node, dOut: [g] }) => [unbroadcast(b, g!, node.inputs[0])] },
  {
    op: 'Concat',
    grad: ({ b, node, dOut: [g], needs }) => {
      const r = b.rank(node.inputs[0], `Concat gradient (node '${node.name}')`);
      const a = norm(attrInt(node, 'axis', 0), r);
      if (node.inputs.length === 1) return [g];
      const sizes = b.concat(node.inputs.map((x) => b.slice1(b.shapeConst(x), a, a + 1)), 0);
      const parts = b.opN('Split', [g!, sizes], node.inputs.length, { axis: a });
      return parts.map((p, i) => (needs[i] ? p : undefined));
    },
  },
  {
    op: 'Split',
    diffInputs: [0],
    grad: ({ b, node, dOut }) => {
      const r = b.rank(node.inputs[0], `Split gradient (node '${node.name}')`);
      const a = norm(attrInt(node, 'axis', 0), r);
      const parts = node.outputs.map((o, i) => dOut[i] ?? b.zerosLike(o));
      return [b.concat(parts, a)];
    },
  },
  {
    op: 'Gather',
    diffInputs: [0],
    grad: ({ b, node, dOut: [g] }) => {
      const [data, idx] = node.inputs;
      const r = b.rank(data, `Gather gradient (node '${node.name}')`);
      const a = norm(attrInt(node, 'axis', 0), r);
      const shx = b.shapeConst(data);
      const [pre, post] = prePost(b, shx, a, r);
      const out = scatterRows(b, g!, idx, b.slice1(shx, a, a + 1), pre, post);
      return [b.reshapeLike(out, data)];
    },
  },
  {
    op: 'Pad', // constant mode, non-negative constant pads: the gradient is the un-padded slice
    diffInputs: [0],
    grad: ({ b, node, dOut: [g] }) => {
      const [x, padsIn, , axesIn] = node.inputs;
      const why = `Pad gradient (node '${node.name}')`;
      const r = b.rank(x, why);
      const pads = padsIn ? b.constValue(padsIn) : attrInts(node, 'pads');
      const mode = node.attrs.find((a) => a.name === 'mode')?.s;
      if (mode && new TextDecoder().decode(mode) !== 'constant') throw new WeightscopeError('unsupported-op', `${why}: only mode=constant`);
      if (!pads || pads.some((p) => p < 0)) throw new WeightscopeError('unsupported-op', `${why}: pads must be constant and non-negative`);
      let axes = Array.from({ length: r }, (_, i) => i);
      if (axesIn) {
        const a = b.constValue(axesIn);
        if (!a) throw new WeightscopeError('unsupported-op', `${why}: axes must be constant`);
        axes = a.map((v) => norm(v, r));
      }
      const n = axes.length;
      const starts = axes.map((_, i) => pads[i]);
      const ends = b.add(b.i64(starts), b.op('Gather', [b.shapeConst(x), b.i64(axes)], { axis: 0 }));
      const out = b.op('Slice', [g!, b.i64(starts), ends, b.i64(axes)]);
      void n;
      return [b.reshapeLike(out, x)];
    },
  },
  {
    op: 'Slice',
    diffInputs: [0],
    // One axis at a time: the kept positions are Slice(Range(0, dim)) with the node's own starts/ends/steps,
    // so clamping and negative steps follow ONNX Runtime's Slice exactly.
    grad: ({ b, node, dOut: [g] }) => {
      const [data, starts, ends, axesIn, stepsIn] = node.inputs;
      const r = b.rank(data, `Slice gradient (node '${node.name}')`);
      if (b.opset < 10) throw new WeightscopeError('unsupported-op', `Slice before opset 10 (node '${node.name}')`);
      let axes: number[] | undefined;
      if (axesIn) axes = b.constValue(axesIn);
      else {
        const n = b.shapeOf(starts)?.[0];
        if (typeof n === 'number') axes = Array.from({ length: n }, (_, i) => i);
      }
      if (!axes) throw new WeightscopeError('unsupported-op', `Slice node '${node.name}': axes must be constant for its gradient`);
      const shx = b.shapeConst(data);
      let cur = g!;
      axes.forEach((ax, i) => {
        const a = norm(ax, r);
        const dim = b.slice1(shx, a, a + 1);
        const positions = b.op('Range', [b.i64Scalar(0), b.squeeze(dim, [0]), b.i64Scalar(1)]);
        const pick = (t: string): string => b.cast(b.slice1(t, i, i + 1), DT.INT64);
        const sl = [positions, pick(starts), pick(ends), b.i64([0])];
        if (stepsIn) sl.push(pick(stepsIn));
        const kept = b.op('Slice', sl);
        const shc = b.shapeConst(cur);
        const [pre, post] = prePost(b, shc, a, r);
        const out = scatterRows(b, cur, kept, dim, pre, post);
        const parts = [a > 0 ? b.slice1(shc, 0, a) : '', dim, a < r - 1 ? b.slice1(shc, a + 1, r) : ''].filter((p) => p);
        cur = b.reshape(out, b.concat(parts, 0));
      });
      b.g.values.set(cur, { dtype: b.dtype(g!), shape: b.shapeOf(data) ? [...b.shapeOf(data)!] : null });
      return [cur];
    },
  },
];
