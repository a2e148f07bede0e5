/**
 * Pooling. MaxPool and AveragePool are supported for non-overlapping windows (kernel = strides, no padding,
 * sizes divisible), the form CNN exports use; their gradients upsample with Unsqueeze/Expand/Reshape, all
 * differentiable. MaxPool routes the gradient to every window element equal to the max (ties: each gets it).
 */
import { WeightscopeError } from '../../errors.js';
import type { GradRule } from '../autodiff.js';
import type { Builder } from '../builder.js';
import { attrInt, attrInts, attrString, type GNode } from '../ir.js';

function windows(b: Builder, node: GNode): number[] {
  const why = `${node.opType} gradient (node '${node.name}')`;
  const k = attrInts(node, 'kernel_shape');
  if (!k) throw new WeightscopeError('unsupported-op', `${why}: no kernel_shape`);
  const s = attrInts(node, 'strides') ?? k.map(() => 1);
  const pads = attrInts(node, 'pads') ?? [];
  const dil = attrInts(node, 'dilations') ?? [];
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const xs = b.staticDims(node.inputs[0], why).slice(2);
  const ok = k.every((v, i) => s[i] === v && xs[i] % v === 0) && pads.every((p) => p === 0) && dil.every((d) => d === 1)
    && (autoPad === 'NOTSET' || autoPad === 'VALID') && attrInt(node, 'storage_order', 0) === 0;
  if (!ok) {
    throw new WeightscopeError('unsupported-op', `${why}: only non-overlapping windows (kernel = strides, no padding or dilation, sizes divisible by the kernel) are supported; got kernel ${k}, strides ${s}, input ${xs}`);
  }
  return k;
}

/** Repeat each element of t over a k-window: [N,C,o1,…] → the shape of x ([N,C,o1·k1,…]). */
function upsample(b: Builder, t: string, k: number[], x: string): string {
  const axes = k.map((_, i) => 3 + 2 * i);
  const u = b.unsqueeze(t, axes);
  const rep = [1, 1, ...k.flatMap((v) => [1, v])];
  return b.reshape(b.expand(u, b.i64(rep)), b.shapeConst(x));
}

export const poolRules: GradRule[] = [
  {
    op: 'MaxPool',
    grad: ({ b, node, dOut: [g] }) => {
      const k = windows(b, node);
      const [x] = node.inputs;
      const mask = b.cast(b.op('Equal', [x, upsample(b, node.outputs[0], k, x)]), b.dtype(x));
      return [b.mul(mask, upsample(b, g!, k, x))];
    },
  },
  {
    op: 'AveragePool',
    grad: ({ b, node, dOut: [g] }) => {
      const k = windows(b, node);
      const [x] = node.inputs;
      return [b.div(upsample(b, g!, k, x), b.scalarLike(x, k.reduce((p, q) => p * q, 1)))];
    },
  },
  {
    op: 'GlobalAveragePool',
    grad: ({ b, node, dOut: [g] }) => {
      const [x] = node.inputs;
      const count = b.cast(b.div(b.op('Size', [x]), b.op('Size', [g!])), b.dtype(x));
      return [b.div(b.expand(g!, b.shapeConst(x)), count)];
    },
  },
];
