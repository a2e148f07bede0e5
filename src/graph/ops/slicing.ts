/**
 * Pieces of tensors: Concat and Split (each other's gradient), Slice (its gradient scatters back into zeros) and
 * Pad (constant mode: its gradient is the un-padded slice).
 */
import { WeightscopeError } from '../../errors.js';
import { attrInt, attrInts, attrString, DT, normAxes, normAxis, type Dim } from '../ir.js';
import { scatterAdd } from './indexing.js';
import { contents, sym, unknownDims } from './shapes.js';
import { differentiable, once, type InferRule, type OpDef } from './types.js';

// ---- Concat / Split ----------------------------------------------------------------------------------------------

const concatShape: InferRule = ({ node, x, ins }) => {
  if (ins.some((i) => !i.shape)) return [{ dtype: x.dtype, shape: null }];
  const r = x.shape!.length;
  const a = normAxis(attrInt(node, 'axis', 0), r);
  const out = [...x.shape!];
  const ds = ins.map((i) => i.shape![a]);
  out[a] = ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((p, q) => p + q, 0) : null;
  const all = r === 1 && ins.every((i) => sym(i)) ? ins.flatMap((i) => sym(i)!) : undefined;
  return [{ dtype: x.dtype, shape: out, ...contents(all) }];
};

const splitShape: InferRule = ({ node, x, ins, opset }) => {
  const n = node.outputs.length;
  if (!x.shape) return node.outputs.map(() => ({ dtype: x.dtype, shape: null }));
  const a = normAxis(attrInt(node, 'axis', 0), x.shape.length);
  const split = opset >= 13 ? (node.inputs[1] ? ins[1].value : undefined) : attrInts(node, 'split');
  const d = x.shape[a];
  return node.outputs.map((_, i) => {
    const s = [...x.shape!];
    s[a] = split ? split[i] : typeof d === 'number' ? (opset >= 18 ? Math.ceil(d / n) : d / n) : null;
    if (!split && typeof d === 'number' && opset >= 18 && i === n - 1) s[a] = d - Math.ceil(d / n) * (n - 1);
    return { dtype: x.dtype, shape: s };
  });
};

const concat: OpDef = {
  op: 'Concat',
  infer: concatShape,
  grad: differentiable(({ b, node, g }) => {
    if (node.inputs.length === 1) return [() => g];
    const parts = once(() => {
      const a = normAxis(attrInt(node, 'axis', 0), b.rank(node.inputs[0], `Concat gradient (node '${node.name}')`));
      const sizes = b.concat(
        node.inputs.map((x) => b.slice1(b.shapeConst(x), a, a + 1)),
        0,
      );
      return b.opN('Split', [g, sizes], node.inputs.length, { axis: a });
    });
    return node.inputs.map((_, i) => () => parts()[i]);
  }),
  batch: {
    rule: (c) => {
      const f = c.sameAxis((_, fi) => fi.axis, 'joins samples along different axes');
      if (normAxis(attrInt(c.n, 'axis', 0), c.outRank()) === f.axis) c.mixes('concatenates along the batch axis');
      return f;
    },
  },
};

const split: OpDef = {
  op: 'Split',
  infer: splitShape,
  grad: differentiable(
    ({ b, node, dOut }) => [
      () => {
        const a = normAxis(attrInt(node, 'axis', 0), b.rank(node.inputs[0], `Split gradient (node '${node.name}')`));
        return b.concat(
          node.outputs.map((o, i) => dOut[i] ?? b.zerosLike(o)),
          a,
        );
      },
    ],
    [0],
  ),
  batch: {
    rule: (c) => {
      c.only(0);
      const f = c.axisOf(0);
      if (normAxis(attrInt(c.n, 'axis', 0), c.rank(0)) === f.axis) c.mixes('splits along the batch axis');
      return f;
    },
  },
};

// ---- Slice -------------------------------------------------------------------------------------------------------

const sliceShape: InferRule = ({ x, ins, node }) => {
  if (!x.shape) return [{ dtype: x.dtype, shape: null }];
  const r = x.shape.length;
  const starts = ins[1]?.value,
    ends = ins[2]?.value;
  const axes = node.inputs[3] ? ins[3].value : starts?.map((_, i) => i);
  const steps = node.inputs[4] ? ins[4].value : starts?.map(() => 1);
  if (!starts || !ends || !axes || !steps) {
    if (!axes) return [{ dtype: x.dtype, shape: unknownDims(x.shape) }];
    const out = [...x.shape];
    for (const a of normAxes(axes, r)) out[a] = null;
    return [{ dtype: x.dtype, shape: out }];
  }
  const out = [...x.shape];
  normAxes(axes, r).forEach((a, i) => {
    const d = x.shape![a];
    if (typeof d !== 'number') {
      out[a] = null;
      return;
    }
    const st = steps[i];
    let s = starts[i] < 0 ? starts[i] + d : starts[i];
    let e = ends[i] < 0 ? ends[i] + d : ends[i];
    if (st > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      s = Math.min(Math.max(s, 0), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    out[a] = Math.max(0, Math.ceil((e - s) / st));
  });
  let value: Dim[] | undefined;
  const xv = sym(x);
  if (xv && r === 1 && typeof out[0] === 'number') {
    const d = xv.length;
    let s = starts[0] < 0 ? starts[0] + d : starts[0];
    s = Math.min(Math.max(s, 0), d);
    if (steps[0] === 1) value = xv.slice(s, s + (out[0] as number));
  }
  return [{ dtype: x.dtype, shape: out, ...contents(value) }];
};

const slice: OpDef = {
  op: 'Slice',
  infer: sliceShape,
  // One axis at a time: the kept positions are Slice(Range(0, dim)) with the node's own starts/ends/steps, so
  // clamping and negative steps follow ONNX Runtime's Slice exactly.
  grad: differentiable(
    ({ b, node, g }) => [
      () => {
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
        let cur = g;
        normAxes(axes, r).forEach((a, i) => {
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
        b.g.values.set(cur, { dtype: b.dtype(g), shape: b.shapeOf(data) ? [...b.shapeOf(data)!] : null });
        return cur;
      },
    ],
    [0],
  ),
  batch: {
    rule: (c) => {
      c.only(0);
      const f = c.axisOf(0);
      const old = c.opset < 10;
      const starts = old ? attrInts(c.n, 'starts') : c.value(1);
      const ends = old ? attrInts(c.n, 'ends') : c.value(2);
      const axes = old ? (attrInts(c.n, 'axes') ?? starts?.map((_, i) => i)) : c.n.inputs[3] ? c.value(3) : starts?.map((_, i) => i);
      const steps = old || !c.n.inputs[4] ? starts?.map(() => 1) : c.value(4);
      if (!starts || !ends || !axes || !steps) return c.mixes('slices axes the analysis cannot read');
      normAxes(axes, c.rank(0)).forEach((a, i) => {
        if (a !== f.axis) return;
        const whole = (starts[i] === 0 || starts[i] <= -(2 ** 31)) && ends[i] >= 2 ** 31 - 1 && steps[i] === 1;
        if (!whole) c.mixes('slices the batch axis');
      });
      return f;
    },
  },
};

// ---- Pad ---------------------------------------------------------------------------------------------------------

/** Pad's pads (input since opset 11) and the axes they apply to (input since opset 18; default all), normalised. */
function padding(
  opset: number,
  rank: number,
  padsValue: number[] | undefined,
  hasAxes: boolean,
  axesValue: number[] | undefined,
  attrPads: number[] | undefined,
): { pads: number[] | undefined; axes: number[] | undefined } {
  const pads = opset >= 11 ? padsValue : attrPads;
  const axes = opset >= 18 && hasAxes ? (axesValue ? normAxes(axesValue, rank) : undefined) : Array.from({ length: rank }, (_, i) => i);
  return { pads, axes };
}

const pad: OpDef = {
  op: 'Pad',
  infer: ({ node, x, ins, opset }) => {
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const { pads, axes } = padding(opset, x.shape.length, ins[1]?.value, !!node.inputs[3], ins[3]?.value, attrInts(node, 'pads'));
    if (!pads || !axes) return [{ dtype: x.dtype, shape: unknownDims(x.shape) }];
    const out = [...x.shape];
    axes.forEach((a, i) => {
      const d = out[a];
      out[a] = typeof d === 'number' ? d + pads[i] + pads[i + axes.length] : null;
    });
    return [{ dtype: x.dtype, shape: out }];
  },
  // constant mode, non-negative constant pads: the gradient is the un-padded slice
  grad: differentiable(
    ({ b, node, g }) => [
      () => {
        const [x, padsIn, , axesIn] = node.inputs;
        const why = `Pad gradient (node '${node.name}')`;
        const r = b.rank(x, why);
        const pads = padsIn ? b.constValue(padsIn) : attrInts(node, 'pads');
        if (attrString(node, 'mode', 'constant') !== 'constant') throw new WeightscopeError('unsupported-op', `${why}: only mode=constant`);
        if (!pads || pads.some((p) => p < 0))
          throw new WeightscopeError('unsupported-op', `${why}: pads must be constant and non-negative`);
        let axes = Array.from({ length: r }, (_, i) => i);
        if (axesIn) {
          const a = b.constValue(axesIn);
          if (!a) throw new WeightscopeError('unsupported-op', `${why}: axes must be constant`);
          axes = normAxes(a, r);
        }
        const starts = axes.map((_, i) => pads[i]);
        const ends = b.add(b.i64(starts), b.op('Gather', [b.shapeConst(x), b.i64(axes)], { axis: 0 }));
        return b.reshapeLike(b.op('Slice', [g, b.i64(starts), ends, b.i64(axes)]), x);
      },
    ],
    [0],
  ),
  batch: {
    rule: (c) => {
      c.only(0);
      const f = c.axisOf(0);
      const { pads, axes } = padding(c.opset, c.rank(0), c.value(1), !!c.n.inputs[3], c.value(3), attrInts(c.n, 'pads'));
      if (!pads || !axes) return c.mixes('pads axes the analysis cannot read');
      const i = axes.indexOf(f.axis);
      if (i >= 0 && (pads[i] !== 0 || pads[i + axes.length] !== 0)) c.mixes('pads the batch axis');
      return f;
    },
  },
};

export const slicingOps: OpDef[] = [concat, split, slice, pad];
