/**
 * Broadcasting elementwise ops with several tensor inputs: arithmetic, Max/Min, Where, comparisons and logic.
 * Gradients undo the broadcasting (broadcast.ts).
 */
import { unbroadcast } from '../broadcast.js';
import type { Emitter } from '../emitter.js';
import { DT, type ValueInfo } from '../ir.js';
import { BROADCASTING } from './batch-context.js';
import { broadcastShapes } from './shapes.js';
import { differentiable, family, NO_GRADIENT, NOT_DIFFERENTIABLE, once, type GradRule, type InferRule, type OpDef } from './types.js';

const un = unbroadcast;

/** Integer Add/Sub/Mul/Div of small known tensors (shape arithmetic) computed at inference time. */
function elementwiseValue(op: string, ins: readonly ValueInfo[]): number[] | undefined {
  const vs = ins.map((i) => i.value);
  if (vs.some((v) => v === undefined)) return undefined;
  const [a, b] = vs as number[][];
  const n = Math.max(a.length, b.length);
  if (!(a.length === n || a.length === 1) || !(b.length === n || b.length === 1)) return undefined;
  const f: Record<string, (x: number, y: number) => number> = {
    Add: (x, y) => x + y,
    Sub: (x, y) => x - y,
    Mul: (x, y) => x * y,
    Div: (x, y) => Math.trunc(x / y),
  };
  const fn = f[op];
  if (!fn) return undefined;
  return Array.from({ length: n }, (_, i) => fn(a[a.length === 1 ? 0 : i], b[b.length === 1 ? 0 : i]));
}

const arithmeticShape: InferRule = ({ node, x, ins }) => {
  const v = ins.length === 2 && (x.dtype === DT.INT64 || x.dtype === DT.INT32) ? elementwiseValue(node.opType, ins) : undefined;
  return [{ dtype: x.dtype, shape: broadcastShapes(ins.map((i) => i.shape)), ...(v ? { value: v } : {}) }];
};
const boolShape: InferRule = ({ ins }) => [{ dtype: DT.BOOL, shape: broadcastShapes(ins.map((i) => i.shape)) }];

/** Max/Min: ties share the gradient equally, as torch.maximum does. */
const minMaxGrad: GradRule = ({ b, node, g }) => {
  const y = node.outputs[0];
  const shared = once(() => {
    const masks = node.inputs.map((x) => b.cast(b.op('Equal', [x, y]), b.dtype(y)));
    let count = masks[0];
    for (let i = 1; i < masks.length; i++) count = b.add(count, masks[i]);
    return { share: b.div(g, count), masks };
  });
  return node.inputs.map((x, i) => () => {
    const { share, masks } = shared();
    return un(b, b.mul(share, masks[i]), x);
  });
};

const arith = (op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Pow' | 'Sum' | 'Max' | 'Min', rule: GradRule): OpDef => ({
  op,
  infer: arithmeticShape,
  grad: differentiable(rule),
  batch: BROADCASTING,
});

const pow = (b: Emitter, x: string, p: string): string => b.op('Pow', [x, p]);

export const binaryOps: OpDef[] = [
  arith(
    'Add',
    ({
      b,
      node: {
        inputs: [x, y],
      },
      g,
    }) => [() => un(b, g, x), () => un(b, g, y)],
  ),
  arith(
    'Sub',
    ({
      b,
      node: {
        inputs: [x, y],
      },
      g,
    }) => [() => un(b, g, x), () => un(b, b.neg(g), y)],
  ),
  arith(
    'Mul',
    ({
      b,
      node: {
        inputs: [x, y],
      },
      g,
    }) => [() => un(b, b.mul(g, y), x), () => un(b, b.mul(g, x), y)],
  ),
  // d(x/y)/dy = -(x/y)/y: reuse the output.
  arith(
    'Div',
    ({
      b,
      node: {
        inputs: [x, y],
        outputs: [z],
      },
      g,
    }) => [() => un(b, b.div(g, y), x), () => un(b, b.neg(b.div(b.mul(g, z), y)), y)],
  ),
  arith(
    'Pow',
    ({
      b,
      node: {
        inputs: [x, p],
        outputs: [z],
      },
      g,
    }) => [
      () => un(b, b.mul(b.mul(g, b.cast(p, b.dtype(x))), pow(b, x, b.sub(p, b.scalarLike(p, 1)))), x),
      () => un(b, b.cast(b.mul(b.mul(g, z), b.op('Log', [x])), b.dtype(p)), p),
    ],
  ),
  arith('Sum', ({ b, node, g }) => node.inputs.map((x) => () => un(b, g, x))), // variadic, broadcasting
  arith('Max', minMaxGrad),
  arith('Min', minMaxGrad),
  { op: 'Mean', infer: arithmeticShape, grad: NO_GRADIENT, batch: BROADCASTING },
  {
    op: 'Where',
    infer: ({ ins }) => [{ dtype: ins[1].dtype, shape: broadcastShapes(ins.map((i) => i.shape)) }],
    grad: differentiable(
      ({
        b,
        node: {
          inputs: [c, x, y],
        },
        g,
      }) => [undefined, () => un(b, b.where(c, g, b.scalarLike(x, 0)), x), () => un(b, b.where(c, b.scalarLike(y, 0), g), y)],
      [1, 2],
    ),
    batch: BROADCASTING,
  },
  ...family(['Mod', 'PRelu'], { infer: arithmeticShape, grad: NO_GRADIENT, batch: BROADCASTING }),
  ...family(['BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor'], {
    infer: arithmeticShape,
    grad: NOT_DIFFERENTIABLE,
    batch: BROADCASTING,
  }),
  ...family(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'], {
    infer: boolShape,
    grad: NOT_DIFFERENTIABLE,
    batch: BROADCASTING,
  }),
];
