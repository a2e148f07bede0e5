/**
 * Reshape, Flatten, Squeeze, Unsqueeze: the same elements laid out anew. The gradient reshapes back. For the batch
 * axis the question is where the samples' blocks land, worked out on products of (possibly symbolic) dims.
 */
import { asDim, divide, ONE, prodOf, sameProd, times, type Prod } from '../dim-product.js';
import { attrInt, attrInts, normAxes, normAxis, type Dim } from '../ir.js';
import { isFolded, type BatchCtx, type Flow } from './batch-context.js';
import { contents, isStatic, prod, sym } from './shapes.js';
import { differentiable, type BatchSpec, type GradRule, type InferRule, type OpDef } from './types.js';

/** Reshape the gradient back to the input's shape. */
const reshapeBack: GradRule = ({ b, node, g }) => [() => b.reshapeLike(g, node.inputs[0])];

// ---- shapes ------------------------------------------------------------------------------------------------------

/**
 * The extent Reshape gives its -1 entry: the input's elements over the other entries' product. Symbolic dims cancel
 * when the known entries name them: [batch, 1, 28, 28] → [-1, 784] gives batch. Null when it does not come out
 * as one number or one symbol, or a dim is unknown.
 */
function inferredMinusOne(input: Dim[], known: Dim[]): Dim {
  if (input.includes(null) || known.includes(null)) return null;
  const q = divide(prodOf(input), prodOf(known));
  return q ? asDim(q) : null;
}

const reshapeShape: InferRule = ({ x, ins }) => {
  const s = ins[1];
  const v = sym(s);
  if (v) {
    const out: Dim[] = v.map((d, i) => (d === 0 ? (x.shape ? x.shape[i] : null) : d === -1 ? null : d));
    const neg = v.indexOf(-1);
    if (neg >= 0 && x.shape)
      out[neg] = inferredMinusOne(
        x.shape,
        out.filter((_, i) => i !== neg),
      );
    return [{ dtype: x.dtype, shape: out, ...contents(sym(x)) }];
  }
  const len = s.shape && typeof s.shape[0] === 'number' ? s.shape[0] : null;
  return [{ dtype: x.dtype, shape: len === null ? null : new Array<Dim>(len).fill(null) }];
};

const flattenShape: InferRule = ({ node, x }) => {
  if (!x.shape) return [{ dtype: x.dtype, shape: [null, null] }];
  const a = normAxis(attrInt(node, 'axis', 1), x.shape.length);
  const f = (ds: Dim[]): Dim => (isStatic(ds) ? prod(ds) : null);
  return [{ dtype: x.dtype, shape: [f(x.shape.slice(0, a)), f(x.shape.slice(a))] }];
};

/** The axes input (opset ≥ 13) or attribute of Squeeze/Unsqueeze. */
const axesOf = (c: Parameters<InferRule>[0]): number[] | undefined =>
  c.opset >= 13 && c.node.inputs[1] ? c.ins[1].value : attrInts(c.node, 'axes');

const unsqueezeShape: InferRule = (c) => {
  const { x } = c;
  const axes = axesOf(c);
  if (!x.shape || !axes) return [{ dtype: x.dtype, shape: null }];
  const r = x.shape.length + axes.length;
  const na = normAxes(axes, r);
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(na.includes(i) ? 1 : x.shape[j++]);
  return [{ dtype: x.dtype, shape: out, ...contents(sym(x)) }];
};

const squeezeShape: InferRule = (c) => {
  const { x } = c;
  const axes = axesOf(c);
  if (!x.shape) return [{ dtype: x.dtype, shape: null }];
  if (!axes && !isStatic(x.shape)) return [{ dtype: x.dtype, shape: null }];
  const na = axes ? normAxes(axes, x.shape.length) : x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
  return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !na.includes(i)), ...contents(sym(x)) }];
};

// ---- the batch axis ----------------------------------------------------------------------------------------------

/** Reshape's output dims as products, from its target (0 copies the input dim, -1 takes the rest). */
function reshapeTarget(inDims: Prod[], target: Dim[] | undefined, allowZero: boolean): Prod[] | null {
  if (!target) return null;
  const out = target.map((d, i): Prod | null => (d === 0 && !allowZero ? (inDims[i] ?? null) : d === -1 ? null : prodOf([d])));
  const rest = target.indexOf(-1);
  if (rest >= 0) {
    const known = out.filter((d, i): d is Prod => i !== rest && d !== null);
    if (known.length !== out.length - 1) return null;
    out[rest] = divide(inDims.reduce(times, ONE), known.reduce(times, ONE));
  }
  return out.every((d): d is Prod => d !== null) ? out : null;
}

/**
 * Where the batch axis k of `inDims` lands in `outDims` when the same elements are laid out anew (row-major): an
 * output axis with the same product of dims before it, whose extent is a multiple of the batch block. -1 if none.
 */
function reshapedAxis(inDims: Prod[], outDims: Prod[], k: number, b: string): number {
  const before = inDims.slice(0, k).reduce(times, ONE);
  let acc = ONE;
  for (let j = 0; j < outDims.length; j++) {
    const d = outDims[j];
    if (sameProd(acc, before) && (d.s.includes(b) || divide(d, inDims[k]) !== null)) return j;
    acc = times(acc, d);
  }
  return -1;
}

const relaid: BatchSpec = {
  rule: (c: BatchCtx): Flow => {
    c.only(0);
    const f = c.ins[0]!;
    if (isFolded(f)) return f;
    const inShape = c.shape(0),
      outShape = c.outShape();
    if (!inShape || !outShape) return { folded: true, by: c.n.name };
    const inDims = inShape.map((d) => prodOf([d]));
    let outDims = outShape.map((d) => prodOf([d]));
    if (c.n.opType === 'Flatten') {
      const a = normAxis(attrInt(c.n, 'axis', 1), inShape.length);
      outDims = [prodOf(inShape.slice(0, a)), prodOf(inShape.slice(a))];
    } else if (c.n.opType === 'Reshape') {
      // From the target itself: a merged extent such as 4·batch is a product here, an anonymous dim to inference.
      const t = c.g.values.get(c.n.inputs[1]);
      outDims = reshapeTarget(inDims, t?.value ?? t?.dimsValue, attrInt(c.n, 'allowzero', 0) === 1) ?? outDims;
    }
    const j = reshapedAxis(inDims, outDims, f.axis, f.b);
    return j >= 0 ? c.at(f, j) : { folded: true, by: c.n.name };
  },
};

export const reshapeOps: OpDef[] = [
  // The target (input 1) may be built from the batch size: that is what it is for.
  { op: 'Reshape', infer: reshapeShape, grad: differentiable(reshapeBack, [0]), batch: { ...relaid, shapeInputs: [1] } },
  { op: 'Flatten', infer: flattenShape, grad: differentiable(reshapeBack), batch: relaid },
  { op: 'Squeeze', infer: squeezeShape, grad: differentiable(reshapeBack, [0]), batch: relaid },
  { op: 'Unsqueeze', infer: unsqueezeShape, grad: differentiable(reshapeBack, [0]), batch: relaid },
];
