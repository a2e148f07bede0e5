/**
 * Data movement: the gradient moves back the same way. Gather and Slice scatter-add into zeros: with ScatterND
 * (reduction 'add', opset ≥ 16; its own gradient is GatherND and back, so the rule set stays closed), or below
 * opset 16 with a one-hot matrix product (OneHot of the positions, then MatMul), fine for small axes only.
 */
import { WeightscopeError } from '../../errors.js';
import type { GradRule } from '../autodiff.js';
import type { Builder } from '../builder.js';
import { unbroadcast } from '../broadcast.js';
import { attrInt, attrInts, attrString, DT, makeTensor } from '../ir.js';

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

/**
 * Scatter-add g into zeros of shape `target` (1-D int64 tensor, rank r) along axis a at positions idx (rank ri):
 * the adjoint of Gather(·, idx, axis=a). g has shape target[:a] + idx.shape + target[a+1:].
 */
export function scatterAdd(b: Builder, g: string, idx: string, a: number, r: number, ri: number, target: string): string {
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
  const permG = [...Array.from({ length: ri }, (_, i) => a + i), ...Array.from({ length: a }, (_, i) => i), ...Array.from({ length: rg - a - ri }, (_, i) => a + ri + i)];
  const sc = b.op('ScatterND', [zerosT, idxU, b.transpose(g, permG)], { reduction: 'add' });
  const back = [...Array.from({ length: a }, (_, i) => i + 1), 0, ...Array.from({ length: r - a - 1 }, (_, i) => a + 1 + i)];
  return b.transpose(sc, back);
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
  {
    // A permutation of elements: the gradient is the inverse permutation (DCR DepthToSpace undoes SpaceToDepth).
    op: 'SpaceToDepth',
    grad: ({ b, node, dOut: [g] }) => [b.op('DepthToSpace', [g!], { blocksize: attrInt(node, 'blocksize', 1), mode: 'DCR' })],
  },
  {
    op: 'DepthToSpace',
    grad: ({ b, node, dOut: [g] }) => {
      const bs = attrInt(node, 'blocksize', 1);
      const back = b.op('SpaceToDepth', [g!], { blocksize: bs });
      if (attrString(node, 'mode', 'DCR') !== 'CRD') return [back];
      // CRD keeps channel c's block together (c·bs² + offset); SpaceToDepth puts the offset first: swap the two.
      const c = b.shapeOf(g!)?.[1];
      if (typeof c !== 'number') throw new WeightscopeError('unsupported-op', `DepthToSpace gradient (node '${node.name}'): the channel count is not static`);
      const t = b.transpose(b.reshape(back, b.i64([0, bs * bs, c, -1])), [0, 2, 1, 3]);
      return [b.reshapeLike(t, node.inputs[0])];
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
      const ri = b.rank(idx, `Gather gradient (node '${node.name}')`);
      return [b.reshapeLike(scatterAdd(b, g!, idx, a, r, ri, b.shapeConst(data)), data)];
    },
  },
  {
    op: 'GatherND', // batch_dims = 0: the adjoint accumulates duplicates with ScatterND 'add'
    diffInputs: [0],
    grad: ({ b, node, dOut: [g] }) => {
      if (attrInt(node, 'batch_dims', 0) !== 0) throw new WeightscopeError('unsupported-op', `GatherND node '${node.name}': batch_dims ≠ 0`);
      const [data, idx] = node.inputs;
      const zeros = b.zerosLike(data);
      return [b.op('ScatterND', [zeros, idx, g!], { reduction: 'add' })];
    },
  },
  {
    op: 'ScatterND',
    diffInputs: [0, 2],
    grad: ({ b, node, dOut: [g], needs }) => {
      const [, idx, upd] = node.inputs;
      const red = node.attrs.find((x) => x.name === 'reduction')?.s;
      const mode = red ? new TextDecoder().decode(red) : 'none';
      if (mode !== 'add' && mode !== 'none') throw new WeightscopeError('unsupported-op', `ScatterND node '${node.name}': reduction '${mode}' has no gradient rule`);
      // 'none': overwritten positions of data get no gradient (indices are unique by the spec).
      const dData = !needs[0] ? undefined : mode === 'add' ? g : b.op('ScatterND', [g!, idx, b.zerosLike(upd)]);
      const dUpd = needs[2] ? b.op('GatherND', [g!, idx]) : undefined;
      return [dData, undefined, dUpd];
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
      const starts = axes.map((_, i) => pads[i]);
      const ends = b.add(b.i64(starts), b.op('Gather', [b.shapeConst(x), b.i64(axes)], { axis: 0 }));
      const out = b.op('Slice', [g!, b.i64(starts), ends, b.i64(axes)]);
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
        const parts = [a > 0 ? b.slice1(shc, 0, a) : '', dim, a < r - 1 ? b.slice1(shc, a + 1, r) : ''].filter((p) => p);
        cur = scatterAdd(b, cur, kept, a, r, 1, b.concat(parts, 0));
      });
      b.g.values.set(cur, { dtype: b.dtype(g!), shape: b.shapeOf(data) ? [...b.shapeOf(data)!] : null });
      return [cur];
    },
  },
];
