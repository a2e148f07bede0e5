/**
 * What a graph builder does, without knowing any op: appends nodes to a Graph and infers their outputs' dtype/shape
 * with the inference it is given (builder.ts gives it the op table's, infer.ts). The op table's rules receive this
 * type, so the table does not import the builder that reads it.
 */
import { WeightscopeError } from '../errors.js';
import { DT, makeAttrs, makeTensor, type Attrs, type Dim, type GNode, type Graph, type ValueInfo } from './ir.js';
import type { OpDomain, OpName } from './op-names.js';

/** Output infos of a node from its inputs' infos. */
export type NodeInference = (node: GNode, get: (name: string) => ValueInfo, opset: number) => ValueInfo[];

let nextSymbol = 0;

export class Emitter {
  readonly g: Graph;
  readonly #prefix: string;
  #counter = 0;
  readonly #constCache = new Map<string, string>();
  readonly #nodeNames: Set<string>;
  readonly #infer: NodeInference;

  constructor(g: Graph, prefix: string, infer: NodeInference) {
    this.g = g;
    this.#prefix = prefix;
    this.#infer = infer;
    this.#nodeNames = new Set(g.nodes.map((n) => n.name));
  }

  get opset(): number {
    return this.g.opset;
  }

  fresh(base: string): string {
    let name: string;
    do name = `${this.#prefix}/${base}_${this.#counter++}`;
    while (this.g.values.has(name) || this.#nodeNames.has(name));
    return name;
  }

  info(name: string): ValueInfo {
    return this.g.values.get(name) ?? { dtype: 0, shape: null };
  }
  dtype(name: string): number {
    return this.info(name).dtype;
  }
  shapeOf(name: string): Dim[] | null {
    return this.info(name).shape;
  }
  /** Rank of a value; rules that need it fail clearly when shape inference could not tell. */
  rank(name: string, why: string): number {
    const s = this.info(name).shape;
    if (!s) throw new WeightscopeError('unsupported-op', `${why}: the rank of '${name}' is not known statically`);
    return s.length;
  }
  staticDims(name: string, why: string): number[] {
    const s = this.info(name).shape;
    if (!s || !s.every((d) => typeof d === 'number')) {
      throw new WeightscopeError('unsupported-op', `${why}: the shape of '${name}' is not known statically ([${s?.join(',') ?? '?'}])`);
    }
    return s as number[];
  }
  /** Static spatial sizes (dims after batch and channel) of an N-C-spatial tensor. */
  spatialDims(name: string, why: string): number[] {
    const s = this.info(name).shape;
    const sp = s ? s.slice(2) : null;
    if (!sp || !sp.every((d) => typeof d === 'number')) {
      throw new WeightscopeError(
        'unsupported-op',
        `${why}: the spatial size of '${name}' is not known statically ([${s?.join(',') ?? '?'}])`,
      );
    }
    return sp as number[];
  }
  constValue(name: string): number[] | undefined {
    return this.info(name).value;
  }

  /** Append an existing node (outputs named by it) and infer its outputs. */
  addNode(node: GNode): void {
    this.#nodeNames.add(node.name);
    this.g.nodes.push(node);
    const infos = this.#infer(node, (n) => this.info(n), this.g.opset);
    node.outputs.forEach((o, i) => {
      if (!o) return;
      // A copy: a rule may hand back an input's info or a shared constant, which must not be changed below.
      const inferred = infos[i];
      const info: ValueInfo = inferred ? { ...inferred, shape: inferred.shape ? [...inferred.shape] : null } : { dtype: 0, shape: null };
      const decl = this.g.declared?.get(o);
      if (decl) {
        if (!info.dtype) info.dtype = decl.dtype;
        if (!info.shape && decl.shape) info.shape = [...decl.shape];
      }
      // An unknown dim is some fixed run-time size: give it its own symbol, so later ops can tell it equals itself.
      if (info.shape) info.shape = info.shape.map((d) => (d === null ? `?${nextSymbol++}` : d));
      this.g.values.set(o, info);
    });
  }

  /** Emit one node; returns its output names. `outputs` names them, or gives their count. */
  opN(opType: OpName, inputs: string[], outputs: number | string[], attrs?: Attrs, domain: OpDomain = ''): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType)) : outputs;
    let nodeName: string;
    do nodeName = `${this.#prefix}/${opType}_n${this.#counter++}`;
    while (this.#nodeNames.has(nodeName));
    this.addNode({ name: nodeName, opType, domain, inputs, outputs: outs, attrs: makeAttrs(attrs) });
    return outs;
  }
  op(opType: OpName, inputs: string[], attrs?: Attrs, output?: string): string {
    return this.opN(opType, inputs, output ? [output] : 1, attrs)[0];
  }

  // ---------- constants ----------

  constant(dtype: number, dims: number[], values: ArrayLike<number>): string {
    const key = `${dtype}|${dims.join(',')}|${Array.from(values).join(',')}`;
    const hit = this.#constCache.get(key);
    if (hit) return hit;
    const out = this.op('Constant', [], { value: { t: makeTensor('', dtype, dims, values) } });
    if (values.length <= 64) this.#constCache.set(key, out);
    return out;
  }
  /**
   * A constant too large for the value-keyed cache, built once per graph under `key`: rules that run again in an
   * Hv graph then emit identical nodes, which onnxruntime's common-subexpression pass merges.
   */
  keyedConstant(key: string, dtype: number, dims: number[], values: () => ArrayLike<number>): string {
    const k = `key|${dtype}|${dims.join(',')}|${key}`;
    const hit = this.#constCache.get(k);
    if (hit) return hit;
    const out = this.op('Constant', [], { value: { t: makeTensor('', dtype, dims, values()) } });
    this.#constCache.set(k, out);
    return out;
  }
  i64(values: number[]): string {
    return this.constant(DT.INT64, [values.length], values);
  }
  i64Scalar(v: number): string {
    return this.constant(DT.INT64, [], [v]);
  }
  scalar(value: number, dtype: number): string {
    return this.constant(dtype, [], [value]);
  }
  /** A rank-0 constant with x's dtype. */
  scalarLike(x: string, value: number): string {
    const dt = this.dtype(x);
    if (!dt) throw new WeightscopeError('unsupported-op', `dtype of '${x}' is not known`);
    return this.scalar(value, dt);
  }

  // ---------- op helpers (opset-aware where ONNX moved attributes to inputs) ----------

  add(a: string, c: string): string {
    return this.op('Add', [a, c]);
  }
  sub(a: string, c: string): string {
    return this.op('Sub', [a, c]);
  }
  mul(a: string, c: string): string {
    return this.op('Mul', [a, c]);
  }
  div(a: string, c: string): string {
    return this.op('Div', [a, c]);
  }
  neg(a: string): string {
    return this.op('Neg', [a]);
  }
  matmul(a: string, c: string): string {
    return this.op('MatMul', [a, c]);
  }
  shape(x: string): string {
    return this.op('Shape', [x]);
  }
  reshape(x: string, shape: string): string {
    return this.op('Reshape', [x, shape]);
  }
  expand(x: string, shape: string): string {
    return this.op('Expand', [x, shape]);
  }
  cast(x: string, to: number): string {
    return this.dtype(x) === to ? x : this.op('Cast', [x], { to });
  }
  where(c: string, a: string, e: string): string {
    return this.op('Where', [c, a, e]);
  }
  transpose(x: string, perm: number[]): string {
    if (perm.every((p, i) => p === i)) return x;
    return this.op('Transpose', [x], { perm });
  }
  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    return this.op('ReduceSum', [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  reduceMean(x: string, axes: number[], keepdims: boolean): string {
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }
  /** Product of a 1-D int64 tensor as a 1-element tensor. */
  reduceProd1(x: string): string {
    const v = this.constValue(x);
    if (v) return this.i64([v.reduce((a, b) => a * b, 1)]);
    if (this.opset >= 18) return this.op('ReduceProd', [x, this.i64([0])], { keepdims: 1 });
    return this.op('ReduceProd', [x], { axes: [0], keepdims: 1 });
  }
  unsqueeze(x: string, axes: number[]): string {
    if (axes.length === 0) return x;
    return this.op('Unsqueeze', [x, this.i64(axes)]);
  }
  squeeze(x: string, axes: number[]): string {
    if (axes.length === 0) return x;
    return this.op('Squeeze', [x, this.i64(axes)]);
  }
  concat(xs: string[], axis: number): string {
    return xs.length === 1 ? xs[0] : this.op('Concat', xs, { axis });
  }
  /** x[start:end] of a 1-D tensor (end may exceed the length). */
  slice1(x: string, start: number, end: number): string {
    const v = this.constValue(x);
    if (v) return this.i64(v.slice(start, Math.min(end, v.length)));
    return this.op('Slice', [x, this.i64([start]), this.i64([end]), this.i64([0])]);
  }
  /** Shape of x as a 1-D int64 tensor, folded to a constant when static. */
  shapeConst(x: string): string {
    const s = this.shapeOf(x);
    if (s && s.every((d) => typeof d === 'number')) return this.i64(s as number[]);
    return this.shape(x);
  }
  /** Reshape/Expand t to x's shape; x's inferred shape carries over (symbolic dims included). */
  reshapeLike(t: string, x: string): string {
    return this.#like(this.reshape(t, this.shapeConst(x)), x);
  }
  expandLike(t: string, x: string): string {
    return this.#like(this.expand(t, this.shapeConst(x)), x);
  }
  #like(out: string, x: string): string {
    const s = this.shapeOf(x);
    this.g.values.set(out, { dtype: this.dtype(out), shape: s ? [...s] : null });
    return out;
  }
  /** Zeros with x's shape and dtype. */
  zerosLike(x: string): string {
    return this.op('ConstantOfShape', [this.shapeConst(x)], { value: { t: makeTensor('', this.dtype(x), [1], [0]) } });
  }
}
