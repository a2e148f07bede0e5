/**
 * Ops that act on each element alone: math functions and activations (Gelu decomposed into Erf or Tanh), tests
 * (IsNaN, Not), Cast, Clip, Dropout (evaluation: the identity) and Trilu (a fixed mask over the last two axes).
 */
import { attrFloat, attrInt, attrString, DT, makeTensor, type GNode } from '../ir.js';
import { MICROSOFT_DOMAIN, type OpName } from '../op-names.js';
import type { Emitter } from '../emitter.js';
import { PER_ELEMENT } from './batch-context.js';
import { SAME_AS_INPUT, sameShapeAs } from './shapes.js';
import { decomposed, differentiable, family, NO_GRADIENT, NOT_DIFFERENTIABLE, type GradCtx, type GradSpec, type OpDef } from './types.js';

/** An elementwise op with one differentiable input: dx = f(ctx). */
function unary(op: OpName, dx: (c: GradCtx) => string): OpDef {
  return { op, infer: SAME_AS_INPUT, grad: differentiable((c) => [() => dx(c)]), batch: PER_ELEMENT };
}

const zeroOf = (b: Emitter, x: string): string => b.scalarLike(x, 0);
const positive = (b: Emitter, x: string): string => b.op('Greater', [x, zeroOf(b, x)]);

/** Bind a computed value to a node's original output name (decompositions). */
export function bind(b: Emitter, value: string, name: string): void {
  if (name) b.op('Identity', [value], undefined, name);
}

/** Gelu (ONNX opset 20, or com.microsoft): 0.5·x·(1 + erf(x/√2)), or the tanh approximation. */
function gelu(b: Emitter, node: GNode): void {
  const [x] = node.inputs;
  const c = (v: number): string => b.scalarLike(x, v);
  let inner: string;
  if (attrString(node, 'approximate', 'none') === 'tanh') {
    const cube = b.mul(b.mul(x, x), x);
    inner = b.op('Tanh', [b.mul(c(Math.sqrt(2 / Math.PI)), b.add(x, b.mul(c(0.044715), cube)))]);
  } else {
    inner = b.op('Erf', [b.mul(x, c(Math.SQRT1_2))]);
  }
  bind(b, b.mul(b.mul(c(0.5), x), b.add(c(1), inner)), node.outputs[0]);
}

/** Dropout in evaluation: the identity, its mask all true. */
function dropout(b: Emitter, node: GNode): void {
  bind(b, node.inputs[0], node.outputs[0]);
  if (node.outputs[1]) {
    b.op('ConstantOfShape', [b.shape(node.inputs[0])], { value: { t: makeTensor('', DT.BOOL, [1], [1]) } }, node.outputs[1]);
  }
}

const clipGrad: GradSpec = differentiable(
  ({
    b,
    node: {
      inputs: [x, lo, hi],
    },
    g,
  }) => [
    () => {
      let mask: string | undefined;
      if (lo) mask = b.op('GreaterOrEqual', [x, lo]);
      if (hi) {
        const m = b.op('LessOrEqual', [x, hi]);
        mask = mask ? b.op('And', [mask, m]) : m;
      }
      return mask ? b.where(mask, g, zeroOf(b, x)) : g;
    },
  ],
  [0],
); // the bounds are treated as constants

export const unaryOps: OpDef[] = [
  unary('Neg', ({ b, g }) => b.neg(g)),
  unary(
    'Sqrt',
    ({
      b,
      node: {
        outputs: [z],
      },
      g,
    }) => b.div(g, b.mul(z, b.scalarLike(z, 2))),
  ),
  unary(
    'Exp',
    ({
      b,
      node: {
        outputs: [z],
      },
      g,
    }) => b.mul(g, z),
  ),
  unary(
    'Log',
    ({
      b,
      node: {
        inputs: [x],
      },
      g,
    }) => b.div(g, x),
  ),
  unary(
    'Reciprocal',
    ({
      b,
      node: {
        outputs: [z],
      },
      g,
    }) => b.neg(b.mul(g, b.mul(z, z))),
  ),
  unary(
    'Tanh',
    ({
      b,
      node: {
        outputs: [z],
      },
      g,
    }) => b.mul(g, b.sub(b.scalarLike(z, 1), b.mul(z, z))),
  ),
  unary(
    'Sigmoid',
    ({
      b,
      node: {
        outputs: [z],
      },
      g,
    }) => b.mul(g, b.mul(z, b.sub(b.scalarLike(z, 1), z))),
  ),
  unary(
    'Erf',
    ({
      b,
      node: {
        inputs: [x],
      },
      g,
    }) => b.mul(b.mul(g, b.scalarLike(x, 2 / Math.sqrt(Math.PI))), b.op('Exp', [b.neg(b.mul(x, x))])),
  ),
  unary(
    'Sin',
    ({
      b,
      node: {
        inputs: [x],
      },
      g,
    }) => b.mul(g, b.op('Cos', [x])),
  ),
  unary(
    'Cos',
    ({
      b,
      node: {
        inputs: [x],
      },
      g,
    }) => b.neg(b.mul(g, b.op('Sin', [x]))),
  ),
  unary(
    'Softplus',
    ({
      b,
      node: {
        inputs: [x],
      },
      g,
    }) => b.mul(g, b.op('Sigmoid', [x])),
  ),
  // y = x (x > 0), α(eˣ − 1) otherwise: dy/dx = 1 or y + α
  unary('Elu', ({ b, node, g }) => {
    const [x] = node.inputs;
    const neg = b.mul(g, b.add(node.outputs[0], b.scalarLike(x, attrFloat(node, 'alpha', 1))));
    return b.where(positive(b, x), g, neg);
  }),
  unary(
    'Abs',
    ({
      b,
      node: {
        inputs: [x],
      },
      g,
    }) => b.mul(g, b.op('Sign', [x])),
  ),
  unary(
    'Relu',
    ({
      b,
      node: {
        inputs: [x],
      },
      g,
    }) => b.where(positive(b, x), g, zeroOf(b, x)),
  ),
  unary('LeakyRelu', ({ b, node, g }) => {
    const x = node.inputs[0];
    return b.where(positive(b, x), g, b.mul(g, b.scalarLike(x, attrFloat(node, 'alpha', 0.01))));
  }),
  { op: 'Identity', infer: ({ x }) => [{ ...x }], grad: differentiable(({ g }) => [() => g]), batch: PER_ELEMENT },
  { op: 'Clip', infer: SAME_AS_INPUT, grad: clipGrad, batch: PER_ELEMENT },
  ...family(
    [
      'Tan',
      'Asin',
      'Acos',
      'Atan',
      'Sinh',
      'Cosh',
      'Asinh',
      'Acosh',
      'Atanh',
      'Selu',
      'Celu',
      'Softsign',
      'ThresholdedRelu',
      'Mish',
      'HardSwish',
      'HardSigmoid',
      'Shrink',
      'Swish',
    ],
    { infer: SAME_AS_INPUT, grad: NO_GRADIENT, batch: PER_ELEMENT },
  ),
  // Piecewise constant: zero gradient almost everywhere.
  ...family(['Sign', 'Floor', 'Ceil', 'Round', 'BitwiseNot'], { infer: SAME_AS_INPUT, grad: NOT_DIFFERENTIABLE, batch: PER_ELEMENT }),
  ...family(['Not', 'IsNaN', 'IsInf'], { infer: sameShapeAs(DT.BOOL), grad: NOT_DIFFERENTIABLE, batch: PER_ELEMENT }),
  {
    op: 'Cast',
    infer: ({ node, x }) => {
      const to = attrInt(node, 'to', 0);
      const isInt = to === DT.INT64 || to === DT.INT32;
      const v = x.value && isInt ? x.value.map(Math.trunc) : undefined;
      return [{ dtype: to, shape: x.shape, ...(v ? { value: v } : isInt && x.dimsValue ? { dimsValue: x.dimsValue } : {}) }];
    },
    grad: differentiable(
      ({
        b,
        node: {
          inputs: [x],
        },
        g,
      }) => [() => b.cast(g, b.dtype(x))],
    ),
    batch: PER_ELEMENT,
  },
  { op: 'CastLike', infer: ({ x, ins }) => [{ dtype: ins[1]?.dtype ?? 0, shape: x.shape }], grad: NO_GRADIENT, batch: PER_ELEMENT },
  { op: 'Gelu', infer: SAME_AS_INPUT, grad: decomposed(gelu), batch: PER_ELEMENT },
  { op: 'Gelu', domain: MICROSOFT_DOMAIN, infer: SAME_AS_INPUT, grad: decomposed(gelu), batch: PER_ELEMENT },
  { op: 'Dropout', infer: ({ x }) => [{ ...x }, { dtype: DT.BOOL, shape: x.shape }], grad: decomposed(dropout), batch: PER_ELEMENT },
  {
    op: 'Trilu', // a fixed mask: the gradient is masked the same way
    infer: SAME_AS_INPUT,
    grad: differentiable(
      ({ b, node, g }) => [() => b.op('Trilu', node.inputs[1] ? [g, node.inputs[1]] : [g], { upper: attrInt(node, 'upper', 1) })],
      [0],
    ),
    batch: {
      rule: (c) => {
        c.only(0);
        const f = c.axisOf(0);
        if (f.axis >= c.rank(0) - 2) c.mixes('masks along the batch axis');
        return f;
      },
    },
  },
];
