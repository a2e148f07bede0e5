/**
 * Permutations and repetitions of elements: Transpose, SpaceToDepth/DepthToSpace, Expand, Tile. Gradients move
 * back the same way (the inverse permutation; a sum over what was repeated).
 */
import { WeightscopeError } from '../../errors.js';
import { unbroadcast } from '../broadcast.js';
import { attrInt, attrInts, attrString, type Dim } from '../ir.js';
import { PER_IMAGE } from './batch-context.js';
import { broadcastShapes, sym, unknownDims } from './shapes.js';
import { differentiable, NO_GRADIENT, type InferRule, type OpDef } from './types.js';

/** A Transpose's permutation: the attribute, or the reversal of the axes. */
const permOf = (perm: number[] | undefined, r: number): number[] => perm ?? Array.from({ length: r }, (_, i) => r - 1 - i);

const transpose: OpDef = {
  op: 'Transpose',
  infer: ({ node, x }) => {
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    return [{ dtype: x.dtype, shape: permOf(attrInts(node, 'perm'), x.shape.length).map((p) => x.shape![p]) }];
  },
  grad: differentiable(({ b, node, g }) => [
    () => {
      const r = b.rank(node.inputs[0], `Transpose gradient (node '${node.name}')`);
      const perm = permOf(attrInts(node, 'perm'), r);
      const inv = new Array<number>(r);
      perm.forEach((p, i) => (inv[p] = i));
      return b.transpose(g, inv);
    },
  ]),
  batch: {
    rule: (c) => {
      c.only(0);
      const f = c.axisOf(0);
      return c.at(f, permOf(attrInts(c.n, 'perm'), c.rank(0)).indexOf(f.axis));
    },
  },
};

/** [N, C, H, W] ↔ [N, C·bs², H/bs, W/bs]. */
const blockShape: InferRule = ({ node, x }) => {
  const bs = attrInt(node, 'blocksize', 1);
  if (!x.shape || x.shape.length !== 4) return [{ dtype: x.dtype, shape: unknownDims(x.shape) }];
  const [n, c, h, w] = x.shape;
  const f = (d: Dim, up: boolean): Dim => (typeof d === 'number' ? (up ? d * bs : d / bs) : null);
  const s2d = node.opType === 'SpaceToDepth';
  return [{ dtype: x.dtype, shape: [n, typeof c === 'number' ? (s2d ? c * bs * bs : c / (bs * bs)) : null, f(h, !s2d), f(w, !s2d)] }];
};

const expandShape: InferRule = ({ x, ins }) => {
  const s = ins[1];
  const target: Dim[] | null = sym(s) ?? (s.shape && typeof s.shape[0] === 'number' ? new Array<Dim>(s.shape[0]).fill(null) : null);
  if (!target) return [{ dtype: x.dtype, shape: null }];
  // A null target dim may be 1 (keep x's dim) or equal to x's dim: only x's non-1 dims survive.
  const tb = target.map((d) => (d === null ? 1 : d));
  const sh = broadcastShapes([x.shape, tb]);
  return [
    { dtype: x.dtype, shape: sh ? sh.map((d, i) => (target[i - (sh.length - target.length)] === null && d === 1 ? null : d)) : null },
  ];
};

export const layoutOps: OpDef[] = [
  transpose,
  {
    // A permutation of elements: the gradient is the inverse permutation (DCR DepthToSpace undoes SpaceToDepth).
    op: 'SpaceToDepth',
    infer: blockShape,
    grad: differentiable(({ b, node, g }) => [() => b.op('DepthToSpace', [g], { blocksize: attrInt(node, 'blocksize', 1), mode: 'DCR' })]),
    batch: PER_IMAGE,
  },
  {
    op: 'DepthToSpace',
    infer: blockShape,
    grad: differentiable(({ b, node, g }) => [
      () => {
        const bs = attrInt(node, 'blocksize', 1);
        const back = b.op('SpaceToDepth', [g], { blocksize: bs });
        if (attrString(node, 'mode', 'DCR') !== 'CRD') return back;
        // CRD keeps channel c's block together (c·bs² + offset); SpaceToDepth puts the offset first: swap the two.
        const c = b.shapeOf(g)?.[1];
        if (typeof c !== 'number')
          throw new WeightscopeError('unsupported-op', `DepthToSpace gradient (node '${node.name}'): the channel count is not static`);
        const t = b.transpose(b.reshape(back, b.i64([0, bs * bs, c, -1])), [0, 2, 1, 3]);
        return b.reshapeLike(t, node.inputs[0]);
      },
    ]),
    batch: PER_IMAGE,
  },
  {
    op: 'Expand',
    infer: expandShape,
    grad: differentiable(({ b, node, g }) => [() => unbroadcast(b, g, node.inputs[0])], [0]),
    batch: {
      shapeInputs: [1], // the target may be built from the batch size
      rule: (c) => {
        c.only(0);
        const f = c.axisOf(0);
        return c.at(f, f.axis + c.outRank() - c.rank(0));
      },
    },
  },
  {
    op: 'Tile',
    infer: ({ x }) => [{ dtype: x.dtype, shape: unknownDims(x.shape) }],
    grad: NO_GRADIENT,
    batch: {
      rule: (c) => {
        c.only(0);
        const f = c.axisOf(0);
        if (c.value(1)?.[f.axis] !== 1) c.mixes('may repeat along the batch axis');
        return f;
      },
    },
  },
];
