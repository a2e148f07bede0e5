/**
 * Best-effort dtype/shape inference for one node, given its inputs' ValueInfo. ONNX Runtime's Node binding exposes
 * no shape inference, and the gradient rules need ranks (for transposes, axes) and a few static sizes (conv).
 * Small integer tensors (shapes, axes) also carry their values when they are computable.
 */
import { WeightscopeError } from '../errors.js';
import { asDim, divide, einsumTerms, prodOf } from './dim-product.js';
import { attr, attrInt, attrInts, attrString, DT, INTERNAL_DOMAIN, tensorDims, tensorValues, type Dim, type GNode, type ValueInfo } from './ir.js';

const UNKNOWN: ValueInfo = { dtype: 0, shape: null };
const SMALL = 64;

function broadcast(shapes: (Dim[] | null)[]): Dim[] | null {
  if (shapes.some((s) => s === null)) return null;
  const ss = shapes as Dim[][];
  const r = Math.max(...ss.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    let d: Dim = 1;
    for (const s of ss) {
      const x = s[s.length - r + i];
      if (x === undefined || x === 1) continue;
      if (d === 1) d = x;
      else if (d !== x) {
        if (typeof d === 'number' && typeof x === 'number') {
          throw new WeightscopeError('shape-mismatch', `shapes [${ss.map((q) => q.join(',')).join('] and [')}] do not broadcast`);
        }
        d = typeof d === 'number' ? d : typeof x === 'number' ? x : null;
      }
    }
    out.push(d);
  }
  return out;
}

/** Contents of a small int tensor: numbers, or dim symbols when it came from Shape. */
const sym = (i: ValueInfo | undefined): Dim[] | undefined => i?.value ?? i?.dimsValue;
/** value when every entry is a number, dimsValue otherwise. */
function contents(d: Dim[] | undefined): Partial<ValueInfo> {
  if (!d || d.length > SMALL) return {};
  return d.every((x) => typeof x === 'number') ? { value: d as number[] } : { dimsValue: d };
}
const norm = (a: number, r: number): number => (a < 0 ? a + r : a);
const isStatic = (s: Dim[] | null): s is number[] => s !== null && s.every((d) => typeof d === 'number');
const prod = (xs: number[]): number => xs.reduce((a, b) => a * b, 1);

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

function elementwiseValue(op: string, ins: ValueInfo[]): number[] | undefined {
  const vs = ins.map((i) => i.value);
  if (vs.some((v) => v === undefined)) return undefined;
  const [a, b] = vs as number[][];
  const n = Math.max(a.length, b.length);
  if (!(a.length === n || a.length === 1) || !(b.length === n || b.length === 1)) return undefined;
  const f: Record<string, (x: number, y: number) => number> = {
    Add: (x, y) => x + y, Sub: (x, y) => x - y, Mul: (x, y) => x * y, Div: (x, y) => Math.trunc(x / y),
  };
  const fn = f[op];
  if (!fn) return undefined;
  return Array.from({ length: n }, (_, i) => fn(a[a.length === 1 ? 0 : i], b[b.length === 1 ? 0 : i]));
}

function poolShape(node: GNode, x: Dim[] | null, kernel: number[] | undefined, outC: Dim): Dim[] | null {
  if (!x || !kernel) return x ? [x[0], outC, ...kernel!.map(() => null)] : null;
  const ns = kernel.length;
  const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
  const dil = attrInts(node, 'dilations') ?? kernel.map(() => 1);
  const pads = attrInts(node, 'pads') ?? new Array<number>(2 * ns).fill(0);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ceil = attrInt(node, 'ceil_mode', 0);
  const sp: Dim[] = [];
  for (let i = 0; i < ns; i++) {
    const d = x[2 + i];
    if (typeof d !== 'number') { sp.push(null); continue; }
    const k = (kernel[i] - 1) * dil[i] + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') sp.push(Math.ceil(d / strides[i]));
    else if (autoPad === 'VALID') sp.push(Math.floor((d - k) / strides[i]) + 1);
    else {
      const t = d + pads[i] + pads[i + ns] - k;
      sp.push((ceil ? Math.ceil(t / strides[i]) : Math.floor(t / strides[i])) + 1);
    }
  }
  return [x[0], outC, ...sp];
}

/** Output infos of a node. Unknown ops give unknown infos (fine off the differentiable path). */
export function inferNode(node: GNode, get: (name: string) => ValueInfo, opset: number): ValueInfo[] {
  const ins = node.inputs.map((n) => (n ? get(n) : UNKNOWN));
  const x = ins[0] ?? UNKNOWN;
  const same = (): ValueInfo[] => [{ dtype: x.dtype, shape: x.shape }];
  const op = node.domain === '' ? node.opType : `${node.domain}:${node.opType}`;
  const axesOf = (idx: number, attrName = 'axes'): number[] | undefined =>
    opset >= 13 && node.inputs[idx] ? ins[idx].value : attrInts(node, attrName);
  switch (op) {
    case 'Relu': case 'Neg': case 'Abs': case 'Exp': case 'Log': case 'Sqrt': case 'Tanh': case 'Sigmoid':
    case 'Erf': case 'Softmax': case 'LogSoftmax': case 'Sign': case 'Floor': case 'Ceil': case 'Round':
    case 'Reciprocal': case 'Trilu': case 'Clip': case 'Gelu': case 'LeakyRelu': case 'Elu': case 'Softplus':
    case 'Tan': case 'Asin': case 'Acos': case 'Atan': case 'Sinh': case 'Cosh': case 'Asinh': case 'Acosh': case 'Atanh':
    case 'Selu': case 'Celu': case 'Softsign': case 'ThresholdedRelu': case 'Hardmax': case 'Mish': case 'HardSwish': case 'Shrink':
    case 'Sin': case 'Cos': case 'com.microsoft:Gelu': case 'HardSigmoid': case 'CumSum':
      return same();
    case 'Identity':
      return [{ ...x }];
    case 'Dropout':
      return [{ ...x }, { dtype: DT.BOOL, shape: x.shape }];
    case 'Not':
      return [{ dtype: DT.BOOL, shape: x.shape }];
    case 'IsNaN': case 'IsInf':
      return [{ dtype: DT.BOOL, shape: x.shape }];
    case 'Cast': {
      const to = attrInt(node, 'to', 0);
      const isInt = to === DT.INT64 || to === DT.INT32;
      const v = x.value && isInt ? x.value.map(Math.trunc) : undefined;
      return [{ dtype: to, shape: x.shape, ...(v ? { value: v } : isInt && x.dimsValue ? { dimsValue: x.dimsValue } : {}) }];
    }
    case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Pow': case 'Max': case 'Min': case 'Sum': case 'Mean': {
      const v = ins.length === 2 && (x.dtype === DT.INT64 || x.dtype === DT.INT32) ? elementwiseValue(op, ins) : undefined;
      return [{ dtype: x.dtype, shape: broadcast(ins.map((i) => i.shape)), ...(v ? { value: v } : {}) }];
    }
    case 'Equal': case 'Less': case 'Greater': case 'LessOrEqual': case 'GreaterOrEqual': case 'And': case 'Or': case 'Xor':
      return [{ dtype: DT.BOOL, shape: broadcast(ins.map((i) => i.shape)) }];
    case 'Where':
      return [{ dtype: ins[1].dtype, shape: broadcast(ins.map((i) => i.shape)) }];
    case 'MatMul': {
      const [a, b] = [ins[0].shape, ins[1].shape];
      if (!a || !b) return [{ dtype: x.dtype, shape: null }];
      const a2 = a.length === 1 ? [1, a[0]] : a;
      const b2 = b.length === 1 ? [b[0], 1] : b;
      const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]) ?? [];
      const out = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
      if (a.length === 1) out.splice(out.length - 2, 1);
      if (b.length === 1) out.splice(out.length - 1, 1);
      return [{ dtype: x.dtype, shape: out }];
    }
    case 'Gemm': {
      const [a, b] = [ins[0].shape, ins[1].shape];
      const ta = attrInt(node, 'transA', 0), tb = attrInt(node, 'transB', 0);
      const m = a ? a[ta ? 1 : 0] : null, n = b ? b[tb ? 0 : 1] : null;
      return [{ dtype: x.dtype, shape: [m, n] }];
    }
    case 'Conv': case `${INTERNAL_DOMAIN}:PatchConv`: {
      const w = ins[1].shape;
      const kernel = attrInts(node, 'kernel_shape') ?? (isStatic(w) ? w.slice(2) : undefined);
      return [{ dtype: x.dtype, shape: poolShape(node, x.shape, kernel, w ? w[0] : null) }];
    }
    case `${INTERNAL_DOMAIN}:ConvWeightGrad`: {
      const dy = ins[1].shape;
      const kernel = attrInts(node, 'kernel_shape');
      return [{ dtype: x.dtype, shape: kernel ? [dy ? dy[1] : null, x.shape ? x.shape[1] : null, ...kernel] : null }];
    }
    case 'ConvTranspose': {
      const w = ins[1].shape;
      const kernel = attrInts(node, 'kernel_shape') ?? (isStatic(w) ? w.slice(2) : undefined);
      const group = attrInt(node, 'group', 1);
      const outC = w && typeof w[1] === 'number' ? w[1] * group : null;
      if (!x.shape || !kernel) return [{ dtype: x.dtype, shape: null }];
      const ns = kernel.length;
      const outShape = attrInts(node, 'output_shape');
      const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
      const dil = attrInts(node, 'dilations') ?? kernel.map(() => 1);
      const pads = attrInts(node, 'pads') ?? new Array<number>(2 * ns).fill(0);
      const op2 = attrInts(node, 'output_padding') ?? kernel.map(() => 0);
      const sp: Dim[] = kernel.map((k, i) => {
        if (outShape) return outShape[outShape.length - ns + i];
        const d = x.shape![2 + i];
        return typeof d === 'number' ? strides[i] * (d - 1) + op2[i] + (k - 1) * dil[i] + 1 - pads[i] - pads[i + ns] : null;
      });
      return [{ dtype: x.dtype, shape: [x.shape[0], outC, ...sp] }];
    }
    case 'MaxPool': case 'AveragePool': {
      const c = x.shape ? x.shape[1] : null;
      const outs: ValueInfo[] = [{ dtype: x.dtype, shape: poolShape(node, x.shape, attrInts(node, 'kernel_shape'), c) }];
      if (node.outputs.length > 1) outs.push({ dtype: DT.INT64, shape: outs[0].shape });
      return outs;
    }
    case 'SpaceToDepth': case 'DepthToSpace': {
      // [N, C, H, W] ↔ [N, C·bs², H/bs, W/bs].
      const bs = attrInt(node, 'blocksize', 1);
      if (!x.shape || x.shape.length !== 4) return [{ dtype: x.dtype, shape: x.shape ? x.shape.map(() => null) : null }];
      const [n, c, h, w] = x.shape;
      const f = (d: Dim, up: boolean): Dim => (typeof d === 'number' ? (up ? d * bs : d / bs) : null);
      const s2d = op === 'SpaceToDepth';
      return [{ dtype: x.dtype, shape: [n, typeof c === 'number' ? (s2d ? c * bs * bs : c / (bs * bs)) : null, f(h, !s2d), f(w, !s2d)] }];
    }
    case 'GlobalAveragePool': case 'GlobalMaxPool':
      return [{ dtype: x.dtype, shape: x.shape ? [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] : null }];
    case 'BatchNormalization':
      return [same()[0], ins[3] ?? UNKNOWN, ins[4] ?? UNKNOWN, ins[3] ?? UNKNOWN, ins[4] ?? UNKNOWN].slice(0, node.outputs.length);
    case 'LayerNormalization': {
      const axis = attrInt(node, 'axis', -1);
      const r = x.shape?.length;
      const stat: ValueInfo = { dtype: x.dtype, shape: x.shape && r !== undefined ? x.shape.map((d, i) => (i < norm(axis, r) ? d : 1)) : null };
      return [same()[0], stat, stat].slice(0, node.outputs.length);
    }
    case 'Flatten': {
      if (!x.shape) return [{ dtype: x.dtype, shape: [null, null] }];
      const a = norm(attrInt(node, 'axis', 1), x.shape.length);
      const f = (ds: Dim[]): Dim => (ds.every((d) => typeof d === 'number') ? prod(ds as number[]) : null);
      return [{ dtype: x.dtype, shape: [f(x.shape.slice(0, a)), f(x.shape.slice(a))] }];
    }
    case 'Reshape': {
      const s = ins[1];
      const v = sym(s);
      if (v) {
        const out: Dim[] = v.map((d, i) => (d === 0 ? (x.shape ? x.shape[i] : null) : d === -1 ? null : d));
        const neg = v.indexOf(-1);
        if (neg >= 0 && x.shape) out[neg] = inferredMinusOne(x.shape, out.filter((_, i) => i !== neg));
        return [{ dtype: x.dtype, shape: out, ...contents(sym(x)) }];
      }
      const len = s.shape && typeof s.shape[0] === 'number' ? s.shape[0] : null;
      return [{ dtype: x.dtype, shape: len === null ? null : new Array<Dim>(len).fill(null) }];
    }
    case 'Shape': {
      if (!x.shape) return [{ dtype: DT.INT64, shape: [null] }];
      const r = x.shape.length;
      let st = attrInt(node, 'start', 0), en = attrInt(node, 'end', r);
      st = Math.min(Math.max(norm(st, r), 0), r); en = Math.min(Math.max(norm(en, r), 0), r);
      const dims = x.shape.slice(st, en);
      return [{ dtype: DT.INT64, shape: [dims.length], ...contents(dims) }];
    }
    case 'Size':
      return [{ dtype: DT.INT64, shape: [], ...(isStatic(x.shape) ? { value: [prod(x.shape)] } : {}) }];
    case 'Gather': {
      const idx = ins[1];
      if (!x.shape || !idx.shape) return [{ dtype: x.dtype, shape: null }];
      const a = norm(attrInt(node, 'axis', 0), x.shape.length);
      const shape = [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)];
      const xv = sym(x);
      const picked = xv && idx.value && x.shape.length === 1 ? idx.value.map((i) => xv[norm(i, xv.length)]) : undefined;
      return [{ dtype: x.dtype, shape, ...contents(picked) }];
    }
    case 'ScatterElements': case 'ScatterND':
      return same();
    case 'GatherND': {
      const idx = ins[1].shape;
      const k = idx?.[idx.length - 1];
      if (!x.shape || !idx || typeof k !== 'number') return [{ dtype: x.dtype, shape: null }];
      return [{ dtype: x.dtype, shape: [...idx.slice(0, -1), ...x.shape.slice(k)] }];
    }
    case 'GatherElements':
      return [{ dtype: x.dtype, shape: ins[1].shape }];
    case 'Unsqueeze': {
      const axes = axesOf(1);
      if (!x.shape || !axes) return [{ dtype: x.dtype, shape: null }];
      const r = x.shape.length + axes.length;
      const na = axes.map((a) => norm(a, r));
      const out: Dim[] = [];
      let j = 0;
      for (let i = 0; i < r; i++) out.push(na.includes(i) ? 1 : x.shape[j++]);
      return [{ dtype: x.dtype, shape: out, ...contents(sym(x)) }];
    }
    case 'Squeeze': {
      const axes = axesOf(1);
      if (!x.shape) return [{ dtype: x.dtype, shape: null }];
      const r = x.shape.length;
      const na = axes ? axes.map((a) => norm(a, r)) : x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      if (!axes && !isStatic(x.shape)) return [{ dtype: x.dtype, shape: null }];
      return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !na.includes(i)), ...contents(sym(x)) }];
    }
    case 'Concat': {
      if (ins.some((i) => !i.shape)) return [{ dtype: x.dtype, shape: null }];
      const r = x.shape!.length;
      const a = norm(attrInt(node, 'axis', 0), r);
      const out = [...x.shape!];
      const ds = ins.map((i) => i.shape![a]);
      out[a] = ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((p, q) => p + q, 0) : null;
      const all = r === 1 && ins.every((i) => sym(i)) ? ins.flatMap((i) => sym(i)!) : undefined;
      return [{ dtype: x.dtype, shape: out, ...contents(all) }];
    }
    case 'Split': {
      const n = node.outputs.length;
      if (!x.shape) return node.outputs.map(() => ({ dtype: x.dtype, shape: null }));
      const a = norm(attrInt(node, 'axis', 0), x.shape.length);
      const split = opset >= 13 ? (node.inputs[1] ? ins[1].value : undefined) : attrInts(node, 'split');
      const d = x.shape[a];
      return node.outputs.map((_, i) => {
        const s = [...x.shape!];
        s[a] = split ? split[i] : typeof d === 'number' ? (opset >= 18 ? Math.ceil(d / n) : d / n) : null;
        if (!split && typeof d === 'number' && opset >= 18 && i === n - 1) s[a] = d - Math.ceil(d / n) * (n - 1);
        return { dtype: x.dtype, shape: s };
      });
    }
    case 'Slice': {
      if (!x.shape) return [{ dtype: x.dtype, shape: null }];
      const r = x.shape.length;
      const starts = ins[1]?.value, ends = ins[2]?.value;
      const axes = node.inputs[3] ? ins[3].value : starts?.map((_, i) => i);
      const steps = node.inputs[4] ? ins[4].value : starts?.map(() => 1);
      if (!starts || !ends || !axes || !steps) {
        const out = [...x.shape];
        if (axes) for (const a of axes) out[norm(a, r)] = null;
        else return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
        return [{ dtype: x.dtype, shape: out }];
      }
      const out = [...x.shape];
      for (let i = 0; i < axes.length; i++) {
        const a = norm(axes[i], r);
        const d = x.shape[a];
        if (typeof d !== 'number') { out[a] = null; continue; }
        const st = steps[i];
        let s = starts[i] < 0 ? starts[i] + d : starts[i];
        let e = ends[i] < 0 ? ends[i] + d : ends[i];
        if (st > 0) { s = Math.min(Math.max(s, 0), d); e = Math.min(Math.max(e, 0), d); out[a] = Math.max(0, Math.ceil((e - s) / st)); }
        else { s = Math.min(Math.max(s, 0), d - 1); e = Math.min(Math.max(e, -1), d - 1); out[a] = Math.max(0, Math.ceil((e - s) / st)); }
      }
      let value: Dim[] | undefined;
      const xv = sym(x);
      if (xv && r === 1 && typeof out[0] === 'number') {
        const d = xv.length;
        let s = starts[0] < 0 ? starts[0] + d : starts[0];
        s = Math.min(Math.max(s, 0), d);
        if (steps[0] === 1) value = xv.slice(s, s + (out[0] as number));
      }
      return [{ dtype: x.dtype, shape: out, ...contents(value) }];
    }
    case 'Transpose': {
      if (!x.shape) return [{ dtype: x.dtype, shape: null }];
      const perm = attrInts(node, 'perm') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
      return [{ dtype: x.dtype, shape: perm.map((p) => x.shape![p]) }];
    }
    case 'Expand': {
      const s = ins[1];
      const target: Dim[] | null = sym(s) ?? (s.shape && typeof s.shape[0] === 'number' ? new Array<Dim>(s.shape[0]).fill(null) : null);
      if (!target) return [{ dtype: x.dtype, shape: null }];
      // A null target dim may be 1 (keep x's dim) or equal to x's dim: only x's non-1 dims survive.
      const tb = target.map((d) => (d === null ? 1 : d));
      const sh = broadcast([x.shape, tb]);
      return [{ dtype: x.dtype, shape: sh ? sh.map((d, i) => (target[i - (sh.length - target.length)] === null && d === 1 ? null : d)) : null }];
    }
    case 'Pad': {
      const pads = opset >= 11 ? ins[1]?.value : attrInts(node, 'pads');
      const axesIn = opset >= 18 && node.inputs[3] ? ins[3].value : undefined;
      if (!x.shape || !pads || (opset >= 18 && node.inputs[3] && !axesIn)) return [{ dtype: x.dtype, shape: x.shape ? x.shape.map(() => null) : null }];
      const r = x.shape.length;
      const axes = axesIn ? axesIn.map((a) => norm(a, r)) : x.shape.map((_, i) => i);
      const n = axes.length;
      const out = [...x.shape];
      axes.forEach((a, i) => {
        const d = out[a];
        out[a] = typeof d === 'number' ? d + pads[i] + pads[i + n] : null;
      });
      return [{ dtype: x.dtype, shape: out }];
    }
    case 'Tile':
      return [{ dtype: x.dtype, shape: x.shape ? x.shape.map(() => null) : null }];
    case 'ConstantOfShape': {
      const t = attr(node, 'value')?.t;
      const dtype = t?.dataType ?? DT.FLOAT;
      const v = x.value;
      const shape = sym(x) ?? (x.shape && typeof x.shape[0] === 'number' ? new Array<Dim>(x.shape[0]).fill(null) : null);
      let value: number[] | undefined;
      if (v && (dtype === DT.INT64 || dtype === DT.INT32) && prod(v) <= SMALL) {
        const fill = t ? (tensorValues(t)?.[0] ?? 0) : 0;
        value = new Array<number>(prod(v)).fill(fill);
      }
      return [{ dtype, shape, ...(value ? { value } : {}) }];
    }
    case 'Constant': {
      const a = node.attrs[0];
      if (a?.t) {
        const t = a.t;
        const dims = tensorDims(t);
        const info: ValueInfo = { dtype: t.dataType ?? 0, shape: dims };
        if ((t.dataType === DT.INT64 || t.dataType === DT.INT32) && prod(dims) <= SMALL) {
          const v = tensorValues(t);
          if (v) info.value = Array.from(v);
        }
        return [info];
      }
      if (a?.name === 'value_int') return [{ dtype: DT.INT64, shape: [], value: [Number(a.i ?? 0)] }];
      if (a?.name === 'value_ints') return [{ dtype: DT.INT64, shape: [a.ints?.length ?? 0], value: (a.ints ?? []).map(Number) }];
      if (a?.name === 'value_float') return [{ dtype: DT.FLOAT, shape: [] }];
      if (a?.name === 'value_floats') return [{ dtype: DT.FLOAT, shape: [a.floats?.length ?? 0] }];
      return [UNKNOWN];
    }
    case 'Range': {
      const [s, l, d] = ins.map((i) => i.value?.[0]);
      const n = s !== undefined && l !== undefined && d !== undefined ? Math.max(Math.ceil((l - s) / d), 0) : null;
      // Range(0, dim, 1) has length dim, also when dim is symbolic.
      const ls = sym(ins[1])?.[0];
      return [{ dtype: x.dtype, shape: [n ?? (s === 0 && d === 1 && ls !== undefined ? ls : null)] }];
    }
    case 'ReduceSum': case 'ReduceMean': case 'ReduceMax': case 'ReduceMin': case 'ReduceProd': case 'ReduceL2':
    case 'ReduceLogSumExp': case 'ReduceSumSquare': case 'ArgMax': case 'ArgMin': {
      const isArg = op === 'ArgMax' || op === 'ArgMin';
      const dtype = isArg ? DT.INT64 : x.dtype;
      const keep = attrInt(node, 'keepdims', 1);
      if (!x.shape) return [{ dtype, shape: null }];
      const r = x.shape.length;
      const inputAxes = op === 'ReduceSum' ? opset >= 13 : opset >= 18;
      let axes: number[] | undefined = isArg ? [attrInt(node, 'axis', 0)] : inputAxes ? (node.inputs[1] ? ins[1].value : []) : (attrInts(node, 'axes') ?? []);
      if (axes === undefined) return [{ dtype, shape: keep ? x.shape.map(() => null) : null }];
      if (axes.length === 0) {
        if (attrInt(node, 'noop_with_empty_axes', 0)) return [{ dtype, shape: x.shape }];
        axes = x.shape.map((_, i) => i);
      }
      const na = axes.map((a) => norm(a, r));
      const shape = keep ? x.shape.map((d, i) => (na.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !na.includes(i));
      const value = op === 'ReduceProd' && x.value && r === 1 ? [prod(x.value)] : undefined;
      return [{ dtype, shape, ...(value ? { value } : {}) }];
    }
    case 'OneHot': {
      const depth = ins[1].value?.[0] ?? null;
      const dtype = ins[2].dtype;
      if (!x.shape) return [{ dtype, shape: null }];
      const r = x.shape.length + 1;
      const a = norm(attrInt(node, 'axis', -1), r);
      const out = [...x.shape];
      out.splice(a, 0, depth);
      return [{ dtype, shape: out }];
    }
    case 'Einsum': {
      const e = einsumTerms(node);
      if (!e || e.terms.length !== ins.length) return [{ dtype: x.dtype, shape: null }];
      const dims = new Map<string, Dim>();
      e.terms.forEach((t, i) => [...t].forEach((c, j) => {
        const d = ins[i].shape?.[j] ?? null;
        if (!dims.has(c) || dims.get(c) === null || dims.get(c) === 1) dims.set(c, d);
      }));
      return [{ dtype: x.dtype, shape: [...e.rhs].map((c) => dims.get(c) ?? null) }];
    }
    case 'Compress':
      return [{ dtype: x.dtype, shape: x.shape && node.inputs.length > 1 && attr(node, 'axis') ? x.shape.map(() => null) : [null] }];
    default:
      return node.outputs.map(() => UNKNOWN);
  }
}
