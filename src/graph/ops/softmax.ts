/** Softmax, LogSoftmax and Hardmax along one axis (gradients with opset ≥ 13 semantics: one axis, not a 2-D coercion). */
import { attrInt, normAxis } from '../ir.js';
import { SAME_AS_INPUT } from './shapes.js';
import { differentiable, NOT_DIFFERENTIABLE, type BatchSpec, type OpDef } from './types.js';

/** Before opset 13 the input is coerced to 2-D at `axis` (default 1): every axis from there on is normalised together. */
const alongAxis: BatchSpec = {
  rule: (c) => {
    c.only(0);
    const f = c.axisOf(0);
    const a = normAxis(attrInt(c.n, 'axis', c.opset >= 13 ? -1 : 1), c.rank(0));
    if (c.opset >= 13 ? f.axis === a : f.axis >= a) c.mixes('works along the batch axis');
    return f;
  },
};

export const softmaxOps: OpDef[] = [
  {
    op: 'Softmax',
    infer: SAME_AS_INPUT,
    grad: differentiable(({ b, node, g }) => [
      () => {
        const y = node.outputs[0];
        const s = b.op('ReduceSum', [b.mul(g, y), b.i64([attrInt(node, 'axis', -1)])], { keepdims: 1 });
        return b.mul(y, b.sub(g, s));
      },
    ]),
    batch: alongAxis,
  },
  {
    op: 'LogSoftmax',
    infer: SAME_AS_INPUT,
    grad: differentiable(({ b, node, g }) => [
      () => {
        const y = node.outputs[0];
        const s = b.op('ReduceSum', [g, b.i64([attrInt(node, 'axis', -1)])], { keepdims: 1 });
        return b.sub(g, b.mul(b.op('Exp', [y]), s));
      },
    ]),
    batch: alongAxis,
  },
  // One-hot of the maximum: piecewise constant.
  { op: 'Hardmax', infer: SAME_AS_INPUT, grad: NOT_DIFFERENTIABLE, batch: alongAxis },
];
