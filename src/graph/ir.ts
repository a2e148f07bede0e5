/**
 * A small mutable IR over an ONNX graph: nodes in topological order, and per value its dtype and (partial) shape.
 * Static shapes are best effort (symbolic or unknown dims are strings/null); rules that need a static fact ask
 * for it and fail with a clear error when it is unknown.
 */
import { onnx, longToNumber, type IntLike } from '../io/onnx-model.js';
import { WeightscopeError } from '../errors.js';
import { INTERNAL_DOMAIN } from './op-names.js';

export { INTERNAL_DOMAIN };

export type OnnxModel = onnx.IModelProto;
export type OnnxTensor = onnx.ITensorProto;
export type OnnxAttr = onnx.IAttributeProto;

/** ONNX TensorProto.DataType numbers used here. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;

export function isFloatType(dt: number): boolean {
  return dt === DT.FLOAT || dt === DT.DOUBLE || dt === DT.FLOAT16 || dt === 16;
}

/** A dimension: a number when static, a symbol name (graph input dim_param), or null when unknown. */
export type Dim = number | string | null;

export interface ValueInfo {
  dtype: number; // 0 = unknown
  shape: Dim[] | null; // null = rank unknown
  /** Known values of small integer tensors (shapes, axes), flattened. */
  value?: number[];
  /** Symbolic contents of a 1-D/scalar integer tensor that holds dims (from Shape), when not all known. */
  dimsValue?: Dim[];
}

export interface GNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[]; // '' = omitted optional input
  outputs: string[];
  attrs: OnnxAttr[];
}

export interface Graph {
  name: string;
  opset: number;
  irVersion: number;
  /** Non-default opset imports of the source model, kept verbatim. */
  extraOpsets: onnx.IOperatorSetIdProto[];
  nodes: GNode[];
  /** Graph inputs (data inputs, then parameters), in order. */
  inputs: string[];
  outputs: string[];
  values: Map<string, ValueInfo>;
  initializers: Map<string, OnnxTensor>;
  /** Types the file declares for intermediates/outputs (value_info): a fallback where inference knows less. */
  declared?: Map<string, ValueInfo>;
}

/** A graph with nothing in it yet (IR version 8), to be filled by the builder. */
export function emptyGraph(name: string, opset: number): Graph {
  return {
    name,
    opset,
    irVersion: 8,
    extraOpsets: [],
    nodes: [],
    inputs: [],
    outputs: [],
    values: new Map(),
    initializers: new Map(),
    declared: new Map(),
  };
}

export function cloneGraph(g: Graph): Graph {
  return {
    ...g,
    extraOpsets: [...g.extraOpsets],
    nodes: [...g.nodes],
    inputs: [...g.inputs],
    outputs: [...g.outputs],
    values: new Map([...g.values].map(([k, v]) => [k, { ...v, shape: v.shape ? [...v.shape] : null }])),
    initializers: new Map(g.initializers),
  };
}

// ---------- attributes (read only through these) ----------

const AT = onnx.AttributeProto.AttributeType;

export function attr(node: GNode, name: string): OnnxAttr | undefined {
  return node.attrs.find((a) => a.name === name);
}
export function attrInt(node: GNode, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? longToNumber((a.i ?? 0) as IntLike, `attribute ${name}`) : dflt;
}
export function attrInts(node: GNode, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map((v) => longToNumber(v as IntLike, `attribute ${name}`)) : undefined;
}
export function attrFloat(node: GNode, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? (a.f ?? 0) : dflt;
}
export function attrString(node: GNode, name: string, dflt: string): string {
  const a = attr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : dflt;
}
export function attrFloats(node: GNode, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? [...(a.floats ?? [])] : undefined;
}
export function attrTensor(node: GNode, name: string): OnnxTensor | undefined {
  return attr(node, name)?.t ?? undefined;
}

// ---------- axes ----------

/** An axis index in [0, rank): ONNX counts negative axes from the end. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
export function normAxes(axes: readonly number[], rank: number): number[] {
  return axes.map((a) => normAxis(a, rank));
}

/** Attribute values as builder calls write them: integers as numbers, floats as {f}, tensors as {t}. */
export type AttrValue = number | number[] | string | { f: number } | { fs: number[] } | { t: OnnxTensor };
export type Attrs = Record<string, AttrValue | undefined>;

export function makeAttrs(attrs: Attrs | undefined): OnnxAttr[] {
  const out: OnnxAttr[] = [];
  for (const [name, v] of Object.entries(attrs ?? {})) {
    if (v === undefined) continue;
    if (typeof v === 'number') out.push({ name, type: AT.INT, i: v });
    else if (typeof v === 'string') out.push({ name, type: AT.STRING, s: new TextEncoder().encode(v) });
    else if (Array.isArray(v)) out.push({ name, type: AT.INTS, ints: v });
    else if ('f' in v) out.push({ name, type: AT.FLOAT, f: v.f });
    else if ('fs' in v) out.push({ name, type: AT.FLOATS, floats: v.fs });
    else out.push({ name, type: AT.TENSOR, t: v.t });
  }
  return out;
}

// ---------- tensors ----------

export function tensorDims(t: OnnxTensor): number[] {
  return (t.dims ?? []).map((d) => longToNumber(d as IntLike, 'dimension'));
}

function rawBytes(t: OnnxTensor): Uint8Array | null {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return null;
  return t.rawData && t.rawData.length > 0 ? t.rawData : null;
}

/** Values of an in-file numeric tensor as float64 (int64 beyond 2^53 rounds), or null when stored externally. */
export function tensorValues(t: OnnxTensor): Float64Array | null {
  const dt = t.dataType ?? 0;
  const n = tensorDims(t).reduce((a, b) => a * b, 1);
  const raw = rawBytes(t);
  if (raw) {
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    switch (dt) {
      case DT.FLOAT:
        return Float64Array.from(new Float32Array(buf));
      case DT.DOUBLE:
        return new Float64Array(buf);
      case DT.INT64:
        return Float64Array.from(new BigInt64Array(buf), (x) => Number(x));
      case DT.INT32:
        return Float64Array.from(new Int32Array(buf));
      case DT.INT8:
        return Float64Array.from(new Int8Array(buf));
      case DT.UINT8:
      case DT.BOOL:
        return Float64Array.from(new Uint8Array(buf));
      default:
        return null;
    }
  }
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return null;
  if (dt === DT.FLOAT && t.floatData?.length) return Float64Array.from(t.floatData);
  if (dt === DT.DOUBLE && t.doubleData?.length) return Float64Array.from(t.doubleData);
  if (dt === DT.INT64 && t.int64Data?.length) return Float64Array.from(t.int64Data, (v) => longToNumber(v as IntLike));
  if ((dt === DT.INT32 || dt === DT.BOOL || dt === DT.UINT8 || dt === DT.INT8) && t.int32Data?.length) {
    return Float64Array.from(t.int32Data);
  }
  return n === 0 ? new Float64Array(0) : null;
}

/** A tensor proto with raw little-endian data. */
export function makeTensor(name: string, dtype: number, dims: number[], values: ArrayLike<number>): OnnxTensor {
  let bytes: Uint8Array;
  switch (dtype) {
    case DT.FLOAT:
      bytes = new Uint8Array(Float32Array.from(values).buffer);
      break;
    case DT.DOUBLE:
      bytes = new Uint8Array(Float64Array.from(values).buffer);
      break;
    case DT.INT64:
      bytes = new Uint8Array(BigInt64Array.from(Array.from(values), (v) => BigInt(Math.trunc(v))).buffer);
      break;
    case DT.INT32:
      bytes = new Uint8Array(Int32Array.from(values).buffer);
      break;
    case DT.BOOL:
    case DT.UINT8:
      bytes = Uint8Array.from(values);
      break;
    default:
      throw new WeightscopeError('unsupported-dtype', `cannot build a constant of ONNX type ${dtype}`);
  }
  return { name, dataType: dtype, dims, rawData: bytes };
}

// ---------- ModelProto in/out ----------

function valueInfoFromProto(vi: onnx.IValueInfoProto): ValueInfo {
  const tt = vi.type?.tensorType;
  if (!tt) return { dtype: 0, shape: null };
  const shape = tt.shape
    ? (tt.shape.dim ?? []).map(
        (d): Dim =>
          d.dimValue !== null && d.dimValue !== undefined && longToNumber(d.dimValue as IntLike) > 0
            ? longToNumber(d.dimValue as IntLike)
            : d.dimParam
              ? d.dimParam
              : null,
      )
    : null;
  return { dtype: tt.elemType ?? 0, shape };
}

/** Import a model's main graph. Shapes of intermediates are filled by the inference pass (see infer.ts). */
export function graphFromModel(model: OnnxModel): Graph {
  const gp = model.graph;
  if (!gp) throw new WeightscopeError('corrupt-file', 'ONNX model has no graph');
  let opset = 0;
  const extra: onnx.IOperatorSetIdProto[] = [];
  for (const o of model.opsetImport ?? []) {
    if (!o.domain || o.domain === 'ai.onnx') opset = longToNumber(o.version as IntLike);
    else extra.push(o);
  }
  const values = new Map<string, ValueInfo>();
  const initializers = new Map<string, OnnxTensor>();
  for (const t of gp.initializer ?? []) {
    const name = t.name ?? '';
    initializers.set(name, t);
    const info: ValueInfo = { dtype: t.dataType ?? 0, shape: tensorDims(t) };
    if (t.dataType === DT.INT64 || t.dataType === DT.INT32) {
      const n = tensorDims(t).reduce((a, b) => a * b, 1);
      if (n <= 64) {
        const v = tensorValues(t);
        if (v) info.value = Array.from(v);
      }
    }
    values.set(name, info);
  }
  const inputs: string[] = [];
  for (const vi of gp.input ?? []) {
    const name = vi.name ?? '';
    if (initializers.has(name)) continue; // old exporters list initializers as inputs too
    inputs.push(name);
    values.set(name, valueInfoFromProto(vi));
  }
  const declared = new Map<string, ValueInfo>();
  for (const vi of [...(gp.valueInfo ?? []), ...(gp.output ?? [])]) if (vi.name) declared.set(vi.name, valueInfoFromProto(vi));
  const nodes: GNode[] = (gp.node ?? []).map((n, i) => ({
    name: n.name || `${n.opType ?? 'node'}_${i}`,
    opType: n.opType ?? '',
    domain: n.domain && n.domain !== 'ai.onnx' ? n.domain : '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attrs: [...(n.attribute ?? [])],
  }));
  return {
    name: gp.name ?? 'graph',
    opset,
    irVersion: longToNumber((model.irVersion ?? 7) as IntLike),
    extraOpsets: extra,
    nodes: topoSort(nodes, new Set([...inputs, ...initializers.keys()])),
    inputs,
    outputs: (gp.output ?? []).map((o) => o.name ?? ''),
    values,
    initializers,
    declared,
  };
}

/** Nodes in an order where every input is produced before use (ONNX requires it; be lenient anyway). */
function topoSort(nodes: GNode[], available: Set<string>): GNode[] {
  const have = new Set(available);
  have.add('');
  const out: GNode[] = [];
  let pending = nodes;
  while (pending.length) {
    const next: GNode[] = [];
    for (const n of pending) {
      if (n.inputs.every((i) => have.has(i))) {
        out.push(n);
        for (const o of n.outputs) have.add(o);
      } else next.push(n);
    }
    if (next.length === pending.length) {
      // Inputs produced nowhere (or a cycle): keep the file's order and let the runtime report it.
      out.push(...next);
      break;
    }
    pending = next;
  }
  return out;
}

function typeProto(info: ValueInfo | undefined, withShape: boolean): onnx.ITypeProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: info?.dtype ?? 0 };
  if (withShape && info?.shape) {
    tensorType.shape = {
      dim: info.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
    };
  }
  return { tensorType };
}

/** Drop nodes that no output depends on. */
export function prune(g: Graph): void {
  const needed = new Set(g.outputs);
  const keep: GNode[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((o) => needed.has(o))) {
      keep.push(n);
      for (const x of n.inputs) if (x) needed.add(x);
    }
  }
  g.nodes = keep.reverse();
  for (const k of [...g.initializers.keys()]) if (!needed.has(k)) g.initializers.delete(k);
}

/** Serialise: graph inputs with their declared shapes, outputs with dtype only (ORT infers the rest). */
export function graphToModel(g: Graph, producer = 'weightscope'): onnx.ModelProto {
  const domains = new Set(g.nodes.map((n) => n.domain).filter((d) => d !== ''));
  if (domains.has(INTERNAL_DOMAIN)) throw new Error('internal op left in a graph (lowerInternalOps was not called)');
  return onnx.ModelProto.create({
    irVersion: Math.max(g.irVersion, 7),
    producerName: producer,
    opsetImport: [{ domain: '', version: g.opset }, ...g.extraOpsets.filter((o) => domains.has(o.domain ?? ''))],
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        input: n.inputs,
        output: n.outputs,
        attribute: n.attrs,
      })),
      input: g.inputs.map((name) => ({ name, type: typeProto(g.values.get(name), true) })),
      output: g.outputs.map((name) => ({ name, type: typeProto(g.values.get(name), false) })),
      initializer: [...g.initializers.values()],
    },
  });
}
