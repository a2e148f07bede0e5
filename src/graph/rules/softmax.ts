/** Softmax and LogSoftmax along one axis (opset ≥ 13 semantics). */
import type { GradRule } from '../autodiff.js';
import { attrInt } from '../ir.js';

export const softmaxRules: GradRule[] = [
  {
    op: 'Softmax',
    grad: ({ b, node, dOut: [g] }) => {
      const y = node.outputs[0];
      const axis = attrInt(node, 'axis', -1);
      const s = b.op('ReduceSum', [b.mul(g!, y), b.i64([axis])], { keepdims: 1 });
      return [b.mul(y, b.sub(g!, s))];
    },
  },
  {
    op: 'LogSoftmax',
    grad: ({ b, node, dOut: [g] }) => {
      const y = node.outputs[0];
      const axis = attrInt(node, 'axis', -1);
      const s = b.op('ReduceSum', [g!, b.i64([axis])], { keepdims: 1 });
      return [b.sub(g!, b.mul(b.op('Exp', [y]), s))];
    },
  },
];
