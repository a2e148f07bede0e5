/** Element-wise arithmetic and activations. Binary ops undo broadcasting with the shared helper. */
import type { GradRule } from '../autodiff.js';
import { unbroadcast } from '../broadcast.js';
import { attrInt } from '../ir.js';

const un = unbroadcast;

export const elementwiseRules: GradRule[] = [
  { op: 'Add', grad: ({ b, node: { inputs: [x, y] }, dOut: [g], needs }) => [needs[0] ? un(b, g!, x) : undefined, needs[1] ? un(b, g!, y) : undefined] },
  { op: 'Sub', grad: ({ b, node: { inputs: [x, y] }, dOut: [g], needs }) => [needs[0] ? un(b, g!, x) : undefined, needs[1] ? un(b, b.neg(g!), y) : undefined] },
  { op: 'Mul', grad: ({ b, node: { inputs: [x, y] }, dOut: [g], needs }) => [needs[0] ? un(b, b.mul(g!, y), x) : undefined, needs[1] ? un(b, b.mul(g!, x), y) : undefined] },
  {
    op: 'Div',
    // d(x/y)/dy = -(x/y)/y: reuse the output.
    grad: ({ b, node: { inputs: [x, y], outputs: [z] }, dOut: [g], needs }) => [
      needs[0] ? un(b, b.div(g!, y), x) : undefined,
      needs[1] ? un(b, b.neg(b.div(b.mul(g!, z), y)), y) : undefined,
    ],
  },
  { op: 'Neg', grad: ({ b, dOut: [g] }) => [b.neg(g!)] },
  { op: 'Identity', grad: ({ dOut: [g] }) => [g] },
  {
    op: 'Sum', // variadic, broadcasting
    grad: ({ b, node, dOut: [g], needs }) => node.inputs.map((x, i) => (needs[i] ? un(b, g!, x) : undefined)),
  },
  {
    op: 'Pow',
    grad: ({ b, node: { inputs: [x, p], outputs: [z] }, dOut: [g], needs }) => {
      const dx = needs[0]
        ? un(b, b.mul(b.mul(g!, b.cast(p, b.dtype(x))), b.op('Pow', [x, b.sub(p, b.scalarLike(p, 1))])), x)
        : undefined;
      const dp = needs[1] ? un(b, b.cast(b.mul(b.mul(g!, z), b.op('Log', [x])), b.dtype(p)), p) : undefined;
      return [dx, dp];
    },
  },
  { op: 'Sqrt', grad: ({ b, node: { outputs: [z] }, dOut: [g] }) => [b.div(g!, b.mul(z, b.scalarLike(z, 2)))] },
  { op: 'Exp', grad: ({ b, node: { outputs: [z] }, dOut: [g] }) => [b.mul(g!, z)] },
  { op: 'Log', grad: ({ b, node: { inputs: [x] }, dOut: [g] }) => [b.div(g!, x)] },
  { op: 'Reciprocal', grad: ({ b, node: { outputs: [z] }, dOut: [g] }) => [b.neg(b.mul(g!, b.mul(z, z)))] },
  { op: 'Tanh', grad: ({ b, node: { outputs: [z] }, dOut: [g] }) => [b.mul(g!, b.sub(b.scalarLike(z, 1), b.mul(z, z)))] },
  { op: 'Sigmoid', grad: ({ b, node: { outputs: [z] }, dOut: [g] }) => [b.mul(g!, b.mul(z, b.sub(b.scalarLike(z, 1), z)))] },
  {
    op: 'Erf',
    grad: ({ b, node: { inputs: [x] }, dOut: [g] }) => [
      b.mul(b.mul(g!, b.scalarLike(x, 2 / Math.sqrt(Math.PI))), b.op('Exp', [b.neg(b.mul(x, x))])),
    ],
  },
  { op: 'Sin', grad: ({ b, node: { inputs: [x] }, dOut: [g] }) => [b.mul(g!, b.op('Cos', [x]))] },
  { op: 'Cos', grad: ({ b, node: { inputs: [x] }, dOut: [g] }) => [b.neg(b.mul(g!, b.op('Sin', [x])))] },
  { op: 'Softplus', grad: ({ b, node: { inputs: [x] }, dOut: [g] }) => [b.mul(g!, b.op('Sigmoid', [x]))] },
  {
    op: 'Elu', // y = x (x > 0), α(eˣ − 1) otherwise: dy/dx = 1 or y + α
    grad: ({ b, node, dOut: [g] }) => {
      const [x] = node.inputs;
      const alpha = node.attrs.find((a) => a.name === 'alpha')?.f ?? 1;
      const neg = b.mul(g!, b.add(node.outputs[0], b.scalarLike(x, alpha)));
      return [b.where(b.op('Greater', [x, b.scalarLike(x, 0)]), g!, neg)];
    },
  },
  { op: 'Abs', grad: ({ b, node: { inputs: [x] }, dOut: [g] }) => [b.mul(g!, b.op('Sign', [x]))] },
  {
    op: 'Relu',
    grad: ({ b, node: { inputs: [x] }, dOut: [g] }) => [b.where(b.op('Greater', [x, b.scalarLike(x, 0)]), g!, b.scalarLike(x, 0))],
  },
  {
    op: 'LeakyRelu',
    grad: ({ b, node, dOut: [g] }) => {
      const x = node.inputs[0];
      const alpha = node.attrs.find((a) => a.name === 'alpha')?.f ?? 0.01;
      return [b.where(b.op('Greater', [x, b.scalarLike(x, 0)]), g!, b.mul(g!, b.scalarLike(x, alpha)))];
    },
  },
  {
    op: 'Clip', // min/max bounds are treated as constants
    diffInputs: [0],
    grad: ({ b, node: { inputs: [x, lo, hi] }, dOut: [g] }) => {
      let mask: string | undefined;
      if (lo) mask = b.op('GreaterOrEqual', [x, lo]);
      if (hi) {
        const m = b.op('LessOrEqual', [x, hi]);
        mask = mask ? b.op('And', [mask, m]) : m;
      }
      return [mask ? b.where(mask, g!, b.scalarLike(x, 0)) : g];
    },
  },
  {
    op: 'Max', // ties share the gradient equally, as torch.maximum does
    grad: ({ b, node, dOut: [g], needs }) => minMaxGrad(b, node.inputs, node.outputs[0], g!, needs),
  },
  { op: 'Min', grad: ({ b, node, dOut: [g], needs }) => minMaxGrad(b, node.inputs, node.outputs[0], g!, needs) },
  {
    op: 'Where',
    diffInputs: [1, 2],
    grad: ({ b, node: { inputs: [c, x, y] }, dOut: [g], needs }) => [
      undefined,
      needs[1] ? un(b, b.where(c, g!, b.scalarLike(x, 0)), x) : undefined,
      needs[2] ? un(b, b.where(c, b.scalarLike(y, 0), g!), y) : undefined,
    ],
  },
  { op: 'Cast', grad: ({ b, node: { inputs: [x] }, dOut: [g] }) => [b.cast(g!, b.dtype(x))] },
  {
    op: 'Trilu', // a fixed mask: the gradient is masked the same way
    diffInputs: [0],
    grad: ({ b, node, dOut: [g] }) => [
      b.op('Trilu', node.inputs[1] ? [g!, node.inputs[1]] : [g!], { upper: attrInt(node, 'upper', 1) }),
    ],
  },
];

function minMaxGrad(b: Parameters<typeof unbroadcast>[0], inputs: string[], y: string, g: string, needs: boolean[]): (string | undefined)[] {
  const masks = inputs.map((x) => b.cast(b.op('Equal', [x, y]), b.dtype(y)));
  let count = masks[0];
  for (let i = 1; i < masks.length; i++) count = b.add(count, masks[i]);
  const share = b.div(g, count);
  return inputs.map((x, i) => (needs[i] ? unbroadcast(b, b.mul(share, masks[i]), x) : undefined));
}
