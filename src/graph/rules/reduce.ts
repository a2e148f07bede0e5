/** ReduceSum / ReduceMean: broadcast the gradient back over the reduced axes. */
import { WeightscopeError } from '../../errors.js';
import type { GradContext, GradRule } from '../autodiff.js';
import { attrInt, attrInts, DT } from '../ir.js';

function spread(ctx: GradContext, axesFromInput: boolean): string {
  const { b, node, dOut } = ctx;
  const x = node.inputs[0];
  const r = b.rank(x, `${node.opType} gradient (node '${node.name}')`);
  let axes: number[] | undefined;
  if (axesFromInput) {
    axes = node.inputs[1] ? b.constValue(node.inputs[1]) : [];
    if (!axes) throw new WeightscopeError('unsupported-op', `${node.opType} node '${node.name}': axes must be constant`);
  } else axes = attrInts(node, 'axes') ?? [];
  if (axes.length === 0) {
    if (attrInt(node, 'noop_with_empty_axes', 0)) return dOut[0]!;
    axes = Array.from({ length: r }, (_, i) => i);
  }
  const na = axes.map((a) => (a < 0 ? a + r : a)).sort((p, q) => p - q);
  const g = attrInt(node, 'keepdims', 1) ? dOut[0]! : b.unsqueeze(dOut[0]!, na);
  return b.expand(g, b.shapeConst(x));
}

export const reduceRules: GradRule[] = [
  { op: 'ReduceSum', diffInputs: [0], grad: (ctx) => [spread(ctx, ctx.b.opset >= 13)] },
  {
    op: 'ReduceMean',
    diffInputs: [0],
    grad: (ctx) => {
      const { b, node } = ctx;
      const [x] = node.inputs;
      const y = node.outputs[0];
      const xs = b.shapeOf(x), ys = b.shapeOf(y);
      const stat = (s: typeof xs): number | null =>
        s && s.every((d) => typeof d === 'number') ? (s as number[]).reduce((p, q) => p * q, 1) : null;
      const nx = stat(xs), ny = stat(ys);
      const count = nx !== null && ny !== null
        ? b.scalarLike(x, nx / ny)
        : b.cast(b.div(b.op('Size', [x]), b.op('Size', [y])), b.dtype(x));
      void DT;
      return [b.div(spread(ctx, b.opset >= 18), count)];
    },
  },
];
