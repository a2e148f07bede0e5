/**
 * Batch-axis dataflow: follows the samples of a batch from the data inputs (axis 0) through every node, to decide
 * whether cutting the batch into contiguous shards and concatenating the shards' results gives the whole batch's
 * result (runtime/separable.ts; engine.ts runs shards on parallel lanes). A whitelist: each op has a rule saying
 * where the batch axis goes, or why the op may mix samples; an op without a rule, control flow, or an axis the
 * rules cannot follow ends the analysis with a reason. Conservative by construction: a null answer is a proof
 * under the inferred shapes, a reason may be a false alarm.
 *
 * An axis "carries the batch" when samples occupy contiguous blocks along it with the batch as its outermost
 * factor: axis 0 of the input, or the merged axis of a Reshape [B, T, C] → [B·T, C]. Every per-row rule holds for
 * blocks as for single rows, so one notion serves both.
 *
 * Values that are independent of the samples (weights, shapes) are not tracked, except for one hazard: a value
 * computed from the batch size (Shape → Gather 0) is fine as a Reshape/Expand target but would change under
 * sharding if used as a number, so that use is a reason too.
 */
import { divide, einsumTerms, ONE, prodOf, sameProd, times, type Prod } from './dim-product.js';
import { attrInt, attrInts, type Dim, type GNode, type Graph } from './ir.js';

/** Samples lie along `axis`; `b` is the batch-size symbol of the input they came from. */
interface OnAxis { axis: number; b: string }
/** Samples merged into an axis in a way the rules cannot follow (`by` names the node); only elementwise ops pass it on. */
interface Folded { folded: true; by: string }
type Flow = OnAxis | Folded;

const isFolded = (f: Flow): f is Folded => 'folded' in f;

/** Rank-preserving ops that act on each element alone (extra inputs are scalars or attributes-like). */
const UNARY = new Set([
  'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Softplus', 'Softsign',
  'Gelu', 'com.microsoft:Gelu', 'Mish', 'ThresholdedRelu', 'Shrink', 'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Reciprocal',
  'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh',
  'Atanh', 'Erf', 'Not', 'IsNaN', 'IsInf', 'Cast', 'Identity', 'Dropout', 'Clip', 'BitwiseNot',
]);
/** Broadcasting elementwise ops with several tensor inputs. */
const BROADCAST = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Equal', 'Less', 'Greater',
  'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'PRelu',
]);
const RESHAPE = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten']);
/** Ops over [N, C, spatial…] that treat each sample alone when the batch is axis 0 and the other inputs are weights. */
const PER_IMAGE = new Set([
  'Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'LpPool', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool',
  'InstanceNormalization', 'GroupNormalization', 'LRN', 'DepthToSpace', 'SpaceToDepth', 'Resize', 'Upsample',
]);
const REDUCE = new Set([
  'ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum',
  'ReduceLogSumExp', 'ReduceSumSquare',
]);
const DATA_DEPENDENT_SIZE = new Set(['NonZero', 'Compress', 'Unique', 'NonMaxSuppression']);
const CONTROL = new Set(['If', 'Loop', 'Scan', 'SequenceMap']);
/** Ops whose outputs do not depend on their inputs' values, only on shapes (Shape and Size are handled apart). */
const SHAPE_ONLY = new Set(['ConstantOfShape', 'EyeLike', 'RandomNormalLike', 'RandomUniformLike']);
/** Input slots read as shapes: a batch-size-derived value is expected there. */
const SHAPE_SLOTS: Record<string, number[]> = { Reshape: [1], Expand: [1], Resize: [3] };

// ---- Reshape: where the batch axis lands -------------------------------------------------------------------

/** Reshape's output dims as products, from its target (0 copies the input dim, -1 takes the rest). */
function reshapeTarget(inDims: Prod[], target: Dim[] | undefined, allowZero: boolean): Prod[] | null {
  if (!target) return null;
  const out = target.map((d, i): Prod | null => (d === 0 && !allowZero ? inDims[i] ?? null : d === -1 ? null : prodOf([d])));
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

// ---- the analysis ---------------------------------------------------------------------------------------------

/** Thrown by a rule: the reason sharding is unsafe. */
class Mixes extends Error {}

/**
 * A reason why shards of a batch might not reproduce the whole batch's outputs (naming the node), or null when the
 * outputs are per-sample along axis 0. `g` must carry inferred shapes (Builder.addNode / decomposeAndInfer).
 */
export function batchAxisReason(g: Graph): string | null {
  const flows = new Map<string, Flow>();
  const batchSyms = new Set<string>();
  /** Independent values computed from the batch size. */
  const sized = new Set<string>();
  const info = (v: string) => (v ? g.values.get(v) : undefined);
  const shapeOf = (v: string): Dim[] | null => info(v)?.shape ?? null;

  for (const x of g.inputs) {
    const s = shapeOf(x);
    if (s && typeof s[0] === 'number' && s[0] !== 1) return `input '${x}' has a fixed batch size ${s[0]}`;
    const b = s && typeof s[0] === 'string' ? s[0] : `?batch:${x}`;
    batchSyms.add(b);
    flows.set(x, { axis: 0, b });
  }
  /** Whether an independent output holds batch-size-derived numbers (from its inferred contents, else its inputs). */
  const sizedOutput = (o: string, fromInputs: boolean): boolean => {
    const i = info(o);
    if (i?.value) return false;
    if (i?.dimsValue) return i.dimsValue.some((d) => typeof d === 'string' && batchSyms.has(d));
    return fromInputs;
  };

  try {
    for (const n of g.nodes) {
      const op = n.domain ? `${n.domain}:${n.opType}` : n.opType;
      const where = `${op} node '${n.name}'`;
      if (CONTROL.has(op)) throw new Mixes(`${where} is control flow; its body may read any value`);
      const ins = n.inputs.map((v) => (v ? flows.get(v) : undefined));
      if (op === 'Shape' || op === 'Size') {
        const f = ins[0];
        // The extent of an axis that carries the batch scales with it: remember its symbol.
        if (f && !isFolded(f)) {
          const d = shapeOf(n.inputs[0])?.[f.axis];
          if (typeof d === 'string') batchSyms.add(d);
        }
        for (const o of n.outputs) if (o && (op === 'Size' ? f !== undefined : sizedOutput(o, f !== undefined))) sized.add(o);
        continue;
      }
      if (ins.every((f) => f === undefined)) {
        const fromInputs = !SHAPE_ONLY.has(op) && n.inputs.some((v) => sized.has(v));
        for (const o of n.outputs) if (o && sizedOutput(o, fromInputs)) sized.add(o);
        continue;
      }
      n.inputs.forEach((v, i) => {
        if (sized.has(v) && !(SHAPE_SLOTS[op] ?? []).includes(i)) {
          throw new Mixes(`${where} uses a number computed from the batch size (input '${v}')`);
        }
      });
      const out = ruleFor(g, n, op, where, ins);
      n.outputs.forEach((o, i) => {
        const f = Array.isArray(out) ? out[i] : out;
        if (o && f) flows.set(o, f);
      });
    }
    for (const o of g.outputs) {
      const f = flows.get(o);
      if (f && isFolded(f)) throw new Mixes(`output '${o}' holds the batch merged with other axes by node '${f.by}'`);
      if (f && f.axis !== 0) throw new Mixes(`output '${o}' carries the batch along axis ${f.axis}, not 0`);
    }
  } catch (e) {
    if (e instanceof Mixes) return e.message;
    throw e;
  }
  return null;
}

/** The flow of each output (one Flow for all outputs, or per output; undefined = independent). */
function ruleFor(g: Graph, n: GNode, op: string, where: string, ins: (Flow | undefined)[]): Flow | (Flow | undefined)[] {
  const shape = (i: number): Dim[] | null => (n.inputs[i] ? g.values.get(n.inputs[i])?.shape ?? null : null);
  const rank = (i: number): number => {
    const s = shape(i);
    if (!s) throw new Mixes(`${where}: the rank of input '${n.inputs[i]}' is unknown`);
    return s.length;
  };
  const value = (i: number): number[] | undefined => (n.inputs[i] ? g.values.get(n.inputs[i])?.value : undefined);
  const outRank = (): number => {
    const s = g.values.get(n.outputs[0])?.shape;
    if (!s) throw new Mixes(`${where}: the rank of its output is unknown`);
    return s.length;
  };
  const norm = (a: number, r: number): number => (a < 0 ? a + r : a);
  const sampled = ins.map((f, i) => (f ? i : -1)).filter((i) => i >= 0);
  const only = (...slots: number[]): void => {
    const bad = sampled.find((i) => !slots.includes(i));
    if (bad !== undefined) throw new Mixes(`${where}: input '${n.inputs[bad]}' depends on the samples`);
  };
  /** The flow of input i, which must be on an axis (not folded). */
  const axisOf = (i: number): OnAxis => {
    const f = ins[i]!;
    if (isFolded(f)) throw new Mixes(`${where} gets the batch merged with other axes by node '${f.by}'`);
    return f;
  };
  const at = (f: OnAxis, axis: number): OnAxis => ({ axis, b: f.b });
  const mixes = (what: string): never => {
    throw new Mixes(`${where} ${what}`);
  };

  if (UNARY.has(op) || op === 'CastLike') {
    only(0);
    return ins[0]!;
  }
  if (BROADCAST.has(op)) {
    const folded = sampled.map((i) => ins[i]!).find(isFolded);
    if (folded) {
      if (sampled.length > 1) mixes(`combines samples merged by node '${folded.by}' with others`);
      return folded;
    }
    const r = outRank();
    let axis = -1, b = '';
    for (const i of sampled) {
      const f = axisOf(i);
      const a = f.axis + r - rank(i);
      if (axis >= 0 && a !== axis) mixes('combines samples along different axes');
      axis = a; b = f.b;
    }
    n.inputs.forEach((v, i) => {
      const s = ins[i] ? null : shape(i);
      const d = s ? s[axis - (r - s.length)] : undefined;
      if (typeof d === 'number' && d !== 1) mixes(`broadcasts '${v}' (extent ${d}) along the batch axis`);
    });
    return { axis, b };
  }
  if (RESHAPE.has(op)) {
    only(0);
    const f = ins[0]!;
    if (isFolded(f)) return f;
    const inShape = shape(0), outShape = g.values.get(n.outputs[0])?.shape ?? null;
    if (!inShape || !outShape) return { folded: true, by: n.name };
    const inDims = inShape.map((d) => prodOf([d]));
    let outDims = outShape.map((d) => prodOf([d]));
    if (op === 'Flatten') {
      const a = norm(attrInt(n, 'axis', 1), inShape.length);
      outDims = [prodOf(inShape.slice(0, a)), prodOf(inShape.slice(a))];
    } else if (op === 'Reshape') {
      // From the target itself: a merged extent such as 4·batch is a product here, an anonymous dim to inference.
      const t = g.values.get(n.inputs[1]);
      outDims = reshapeTarget(inDims, t?.value ?? t?.dimsValue, attrInt(n, 'allowzero', 0) === 1) ?? outDims;
    }
    const j = reshapedAxis(inDims, outDims, f.axis, f.b);
    return j >= 0 ? at(f, j) : { folded: true, by: n.name };
  }
  if (PER_IMAGE.has(op)) {
    only(0);
    if (axisOf(0).axis !== 0) mixes('needs the batch on axis 0');
    // MaxPool's Indices count positions across the whole batch: a shard's would differ.
    if (op === 'MaxPool' && n.outputs[1]) mixes('numbers its Indices across the whole batch');
    return ins[0]!;
  }
  if (REDUCE.has(op)) {
    only(0);
    const f = axisOf(0);
    const r = rank(0);
    const fromInput = op === 'ReduceSum' ? g.opset >= 13 : g.opset >= 18;
    let axes = fromInput ? (n.inputs[1] ? value(1) : []) : attrInts(n, 'axes') ?? [];
    if (!axes) mixes('reduces over axes the analysis cannot read');
    if (axes!.length === 0) {
      if (fromInput && attrInt(n, 'noop_with_empty_axes', 0)) return f;
      axes = Array.from({ length: r }, (_, i) => i);
    }
    const na = axes!.map((a) => norm(a, r));
    if (na.includes(f.axis)) mixes('reduces over the batch axis');
    return at(f, attrInt(n, 'keepdims', 1) ? f.axis : f.axis - na.filter((a) => a < f.axis).length);
  }
  switch (op) {
    case 'Transpose': {
      only(0);
      const f = axisOf(0);
      const perm = attrInts(n, 'perm') ?? Array.from({ length: rank(0) }, (_, i) => rank(0) - 1 - i);
      return at(f, perm.indexOf(f.axis));
    }
    case 'Expand': {
      only(0);
      const f = axisOf(0);
      return at(f, f.axis + outRank() - rank(0));
    }
    case 'Tile': {
      only(0);
      const f = axisOf(0);
      if (value(1)?.[f.axis] !== 1) mixes('may repeat along the batch axis');
      return f;
    }
    case 'Slice': {
      only(0);
      const f = axisOf(0);
      const old = g.opset < 10;
      const starts = old ? attrInts(n, 'starts') : value(1);
      const ends = old ? attrInts(n, 'ends') : value(2);
      const axes = old ? attrInts(n, 'axes') ?? starts?.map((_, i) => i) : n.inputs[3] ? value(3) : starts?.map((_, i) => i);
      const steps = old || !n.inputs[4] ? starts?.map(() => 1) : value(4);
      if (!starts || !ends || !axes || !steps) mixes('slices axes the analysis cannot read');
      axes!.forEach((a, i) => {
        if (norm(a, rank(0)) !== f.axis) return;
        const whole = (starts![i] === 0 || starts![i] <= -(2 ** 31)) && ends![i] >= 2 ** 31 - 1 && steps![i] === 1;
        if (!whole) mixes('slices the batch axis');
      });
      return f;
    }
    case 'Pad': {
      only(0);
      const f = axisOf(0);
      const pads = g.opset >= 11 ? value(1) : attrInts(n, 'pads');
      const r = rank(0);
      const axes = g.opset >= 18 && n.inputs[3] ? value(3)?.map((a) => norm(a, r)) : Array.from({ length: r }, (_, i) => i);
      if (!pads || !axes) mixes('pads axes the analysis cannot read');
      const i = axes!.indexOf(f.axis);
      if (i >= 0 && (pads![i] !== 0 || pads![i + axes!.length] !== 0)) mixes('pads the batch axis');
      return f;
    }
    case 'Concat': {
      let axis = -1, b = '';
      for (const i of sampled) {
        const f = axisOf(i);
        if (axis >= 0 && f.axis !== axis) mixes('joins samples along different axes');
        axis = f.axis; b = f.b;
      }
      if (norm(attrInt(n, 'axis', 0), outRank()) === axis) mixes('concatenates along the batch axis');
      return { axis, b };
    }
    case 'Split': {
      only(0);
      const f = axisOf(0);
      if (norm(attrInt(n, 'axis', 0), rank(0)) === f.axis) mixes('splits along the batch axis');
      return f;
    }
    case 'Gather': {
      if (ins[0] && ins[1]) mixes('gathers sample-dependent data at sample-dependent indices');
      const a = attrInt(n, 'axis', 0);
      const na = a < 0 ? a + rank(0) : a;
      if (ins[1]) {
        const fi = axisOf(1);
        return at(fi, na + fi.axis);
      }
      const f = axisOf(0);
      if (na === f.axis) mixes('gathers along the batch axis');
      return at(f, f.axis < na ? f.axis : f.axis - 1 + rank(1));
    }
    case 'GatherElements': {
      const a = attrInt(n, 'axis', 0);
      if (!ins[0]) return axisOf(1); // constant table, per-sample indices: output row i reads only indices row i
      const f = axisOf(0);
      if (norm(a, rank(0)) === f.axis) mixes('gathers along the batch axis');
      if (ins[1] && axisOf(1).axis !== f.axis) mixes('combines samples along different axes');
      return f;
    }
    case 'GatherND': {
      const bd = attrInt(n, 'batch_dims', 0);
      if (ins[0]) {
        const f = axisOf(0);
        if (!(f.axis < bd && (!ins[1] || axisOf(1).axis === f.axis))) mixes('may gather across samples');
        return f;
      }
      const fi = axisOf(1);
      if (fi.axis >= rank(1) - 1) mixes('indexes with the batch axis');
      return fi;
    }
    case 'ScatterElements': {
      const f = ins[0] ? axisOf(0) : mixes('scatters samples into a shared tensor');
      for (const i of sampled) if (axisOf(i).axis !== f.axis) mixes('combines samples along different axes');
      if (norm(attrInt(n, 'axis', 0), rank(0)) === f.axis) mixes('scatters along the batch axis');
      return f;
    }
    case 'MatMul': {
      const ra = rank(0), rb = rank(1), ro = outRank();
      let axis = -1, b = '';
      const land = (a: number): void => {
        if (axis >= 0 && a !== axis) mixes('combines samples along different axes');
        axis = a;
      };
      if (ins[0]) {
        const f = axisOf(0);
        b = f.b;
        if (ra === 1 || f.axis === ra - 1) mixes('contracts over the batch axis');
        land(f.axis === ra - 2 ? (rb === 1 ? ro - 1 : ro - 2) : f.axis + ro - ra + (rb === 1 ? 1 : 0));
      }
      if (ins[1]) {
        const f = axisOf(1);
        b = f.b;
        if (rb === 1 || f.axis === rb - 2) mixes('contracts over the batch axis');
        land(f.axis === rb - 1 ? ro - 1 : f.axis + ro - rb + (ra === 1 ? 1 : 0));
      }
      return { axis, b };
    }
    case 'Gemm': {
      const ta = attrInt(n, 'transA', 0), tb = attrInt(n, 'transB', 0);
      let axis = -1, b = '';
      const land = (a: number, f: OnAxis): void => {
        if (axis >= 0 && a !== axis) mixes('combines samples along different axes');
        axis = a; b = f.b;
      };
      if (ins[0]) {
        const f = axisOf(0);
        if (f.axis !== (ta ? 1 : 0)) mixes(`contracts over the batch axis${ta ? ' (transA)' : ''}`);
        land(0, f);
      }
      if (ins[1]) {
        const f = axisOf(1);
        if (f.axis !== (tb ? 0 : 1)) mixes('contracts over the batch axis');
        land(1, f);
      }
      if (ins[2]) {
        const f = axisOf(2);
        land(f.axis + 2 - rank(2), f);
      }
      return { axis, b };
    }
    case 'BatchNormalization': {
      only(0);
      const training = g.opset >= 14 ? attrInt(n, 'training_mode', 0) === 1 : n.outputs.slice(1).some(Boolean);
      if (training) mixes('uses batch statistics');
      if (axisOf(0).axis === 1) mixes('would scale samples by channel parameters');
      return [ins[0]];
    }
    case 'LayerNormalization': {
      only(0);
      const f = axisOf(0);
      if (f.axis >= norm(attrInt(n, 'axis', -1), rank(0))) mixes('normalises over the batch axis');
      return f;
    }
    case 'MeanVarianceNormalization': case 'LpNormalization': {
      only(0);
      const f = axisOf(0);
      const r = rank(0);
      const axes = op === 'LpNormalization' ? [attrInt(n, 'axis', -1)] : attrInts(n, 'axes') ?? [0, 2, 3];
      if (axes.map((a) => norm(a, r)).includes(f.axis)) mixes('normalises over the batch axis');
      return f;
    }
    case 'Softmax': case 'LogSoftmax': case 'Hardmax': {
      only(0);
      const f = axisOf(0);
      const r = rank(0);
      const a = norm(attrInt(n, 'axis', g.opset >= 13 ? -1 : 1), r);
      // Before opset 13 the input is coerced to 2-D at `axis`: every axis from there on is normalised together.
      if (g.opset >= 13 ? f.axis === a : f.axis >= a) mixes('works along the batch axis');
      return f;
    }
    case 'ArgMax': case 'ArgMin': {
      only(0);
      const f = axisOf(0);
      const a = norm(attrInt(n, 'axis', 0), rank(0));
      if (a === f.axis) mixes('reduces over the batch axis');
      return at(f, attrInt(n, 'keepdims', 1) || a > f.axis ? f.axis : f.axis - 1);
    }
    case 'CumSum': {
      only(0);
      const f = axisOf(0);
      const a = value(1)?.[0];
      if (a === undefined || norm(a, rank(0)) === f.axis) mixes('may accumulate along the batch axis');
      return f;
    }
    case 'TopK': {
      only(0);
      const f = axisOf(0);
      if (norm(attrInt(n, 'axis', -1), rank(0)) === f.axis) mixes('ranks along the batch axis');
      return f;
    }
    case 'OneHot': {
      only(0);
      const f = axisOf(0);
      const a = norm(attrInt(n, 'axis', -1), rank(0) + 1);
      return at(f, a <= f.axis ? f.axis + 1 : f.axis);
    }
    case 'Trilu': {
      only(0);
      const f = axisOf(0);
      if (f.axis >= rank(0) - 2) mixes('masks along the batch axis');
      return f;
    }
    case 'Einsum': {
      const e = einsumTerms(n);
      if (!e) mixes('has an equation the analysis cannot follow');
      const { terms, rhs } = e!;
      let letter = '', b = '';
      for (const i of sampled) {
        const f = axisOf(i);
        const c = terms[i]?.[f.axis];
        if (!c || (letter && c !== letter)) mixes('combines samples along different axes');
        letter = c; b = f.b;
      }
      for (const i of sampled) if (terms[i].split(letter).length !== 2) mixes('repeats the batch letter');
      const axis = rhs.indexOf(letter);
      if (axis < 0) mixes('contracts over the batch axis');
      return { axis, b };
    }
  }
  if (DATA_DEPENDENT_SIZE.has(op)) mixes('has an output size that depends on the values');
  return mixes('has no batch-axis rule (sharding off)');
}
