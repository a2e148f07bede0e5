/** ReduceSum / ReduceMean: broadcast the gradient back over the reduced axes. */
import { WeightscopeError } from '../../errors.js';
import type { GradContext, GradRule } from '../autodiff.js';
import { attrInt, attrInts } from '../ir.js';

function spread(ctx: GradContext, axesFromInput: boolean): string {
  const { b, node, dOut } = ctx;
  const x = node.inputs[0];
  // keepdims: reduced axes are size 1 in g, so broadcasting alone restores x's shape (axes may even be dynamic).
  if (attrInt(node, 'keepdims', 1)) return b.expandLike(dOut[0]!, x);
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
  return b.expandLike(b.unsqueeze(dOut[0]!, na), x);
}

/** Normalised reduced axes of a ReduceMean node, or undefined when not constant. */
function reducedAxes(ctx: GradContext, r: number): number[] | undefined {
  const { b, node } = ctx;
  let axes = b.opset >= 18 ? (node.inputs[1] ? b.constValue(node.inputs[1]) : []) : (attrInts(node, 'axes') ?? []);
  if (!axes) return undefined;
  if (axes.length === 0) axes = Array.from({ length: r }, (_, i) => i);
  return axes.map((a) => (a < 0 ? a + r : a));
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
      // count = product of the reduced dims of x; at run time Size(x)/Size(y) when some are symbolic.
      const xs = b.shapeOf(x);
      const ax = xs ? reducedAxes(ctx, xs.length) : undefined;
      const dims = xs && ax ? ax.map((a) => xs[a]) : [null];
      const count = dims.every((d) => typeof d === 'number')
        ? b.scalarLike(x, (dims as number[]).reduce((p, q) => p * q, 1))
        : b.cast(b.div(b.op('Size', [x]), b.op('Size', [y])), b.dtype(x));
      return [b.div(spread(ctx, b.opset >= 18), count)];
    },
  },
];
