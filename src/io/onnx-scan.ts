/**
 * An index of an ONNX file without loading it: the graph's nodes (names, inputs, outputs, subgraphs) and every
 * TensorProto's metadata (name, type, dims, where its data lies), read with src/io/proto-scan.ts. Tensor data stays
 * in the file until asked for, so memory is the graph's size plus a few tensors, not the file's (protobufjs decodes
 * the whole file at ~80 bytes of heap per byte). Weights are found wherever ONNX keeps them: initializers,
 * Constant nodes' `value`, and both inside If/Loop/Scan subgraphs.
 */
import { statSync } from 'node:fs';
import { WeightscopeError } from '../errors.js';
import { dtypeSize } from './dtype.js';
import {
  externalDataRef,
  longToNumber,
  onnxTypeToDType,
  readExternalData,
  typedFieldBytes,
  type IntLike,
  type TensorProto,
} from './onnx-model.js';
import { type ProtoFile, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, type Long64 } from './proto-scan.js';
import type { DType, TensorLocation } from './types.js';

/** The file's bytes of a field: [offset, length). */
interface Span {
  offset: number;
  length: number;
}

export interface ScannedTensor {
  name: string;
  dataType: number;
  dims: number[];
  /** 1 = EXTERNAL. */
  dataLocation: number;
  raw: Span | null;
  /** Packed repeated typed fields (4 float_data, 5 int32_data, 7 int64_data, 10 double_data, 11 uint64_data). */
  packed: Map<number, Span[]>;
  /** The same fields written unpacked, one value per tag. */
  values: Map<number, (number | Long64)[]>;
  externalData: { key: string; value: string }[];
}

export interface ScannedAttribute {
  name: string;
  tensor: ScannedTensor | null;
  graphs: ScannedGraph[];
}

export interface ScannedNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: ScannedAttribute[];
}

export interface ScannedGraph {
  name: string;
  nodes: ScannedNode[];
  initializers: ScannedTensor[];
}

export interface ScannedModel {
  irVersion: number;
  graph: ScannedGraph;
}

/** Subgraph nesting beyond this is a hostile file, not a model. */
const MAX_DEPTH = 64;

const TYPED_FIELDS = new Set([4, 5, 7, 10, 11]);

/**
 * Typed data written unpacked (one tag per value) is held as JS values, ~10× its size: exporters pack repeated
 * numbers, so more than this many unpacked values in one tensor is refused rather than exhausting the heap.
 */
const MAX_UNPACKED_VALUES = 1 << 22;

function scanTensor(f: ProtoFile, end: number): ScannedTensor {
  const t: ScannedTensor = {
    name: '',
    dataType: 0,
    dims: [],
    dataLocation: 0,
    raw: null,
    packed: new Map(),
    values: new Map(),
    externalData: [],
  };
  while (f.pos < end) {
    const [field, wire] = f.tag(end);
    if (field === 1 && wire === WIRE_VARINT) t.dims.push(longToNumber(f.varint64(end, false), 'dimension'));
    else if (field === 1 && wire === WIRE_LEN) {
      const e = f.lengthEnd(end);
      while (f.pos < e) t.dims.push(longToNumber(f.varint64(e, false), 'dimension'));
    } else if (field === 2 && wire === WIRE_VARINT) t.dataType = f.varint(end);
    else if (field === 8 && wire === WIRE_LEN) t.name = f.string(end);
    else if (field === 9 && wire === WIRE_LEN) {
      const e = f.lengthEnd(end);
      t.raw = { offset: f.pos, length: e - f.pos };
      f.pos = e;
    } else if (field === 14 && wire === WIRE_VARINT) t.dataLocation = f.varint(end);
    else if (field === 13 && wire === WIRE_LEN) {
      const e = f.lengthEnd(end);
      let key = '';
      let value = '';
      while (f.pos < e) {
        const [k, w] = f.tag(e);
        if (k === 1 && w === WIRE_LEN) key = f.string(e);
        else if (k === 2 && w === WIRE_LEN) value = f.string(e);
        else f.skip(w, e);
      }
      t.externalData.push({ key, value });
    } else if (TYPED_FIELDS.has(field) && wire === WIRE_LEN) {
      const e = f.lengthEnd(end);
      if (!t.packed.has(field)) t.packed.set(field, []);
      t.packed.get(field)!.push({ offset: f.pos, length: e - f.pos });
      f.pos = e;
    } else if (TYPED_FIELDS.has(field)) {
      if (!t.values.has(field)) t.values.set(field, []);
      const v = t.values.get(field)!;
      if (v.length >= MAX_UNPACKED_VALUES)
        throw f.corrupt(`tensor '${t.name}' has over ${MAX_UNPACKED_VALUES} unpacked values in field ${field}`);
      if (field === 4 && wire === WIRE_I32) v.push(f.fixed32(end));
      else if (field === 10 && wire === WIRE_I64) v.push(f.fixed64(end));
      else if (wire === WIRE_VARINT) v.push(f.varint64(end, field === 11));
      else throw f.corrupt(`TensorProto field ${field} has wire type ${wire}`);
    } else f.skip(wire, end);
  }
  return t;
}

function scanAttribute(f: ProtoFile, end: number, depth: number): ScannedAttribute {
  const a: ScannedAttribute = { name: '', tensor: null, graphs: [] };
  while (f.pos < end) {
    const [field, wire] = f.tag(end);
    if (field === 1 && wire === WIRE_LEN) a.name = f.string(end);
    else if (field === 5 && wire === WIRE_LEN) a.tensor = scanTensor(f, f.lengthEnd(end));
    else if ((field === 6 || field === 11) && wire === WIRE_LEN) a.graphs.push(scanGraph(f, f.lengthEnd(end), depth + 1));
    else f.skip(wire, end);
  }
  return a;
}

function scanNode(f: ProtoFile, end: number, depth: number): ScannedNode {
  const n: ScannedNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  while (f.pos < end) {
    const [field, wire] = f.tag(end);
    if (field === 1 && wire === WIRE_LEN) n.inputs.push(f.string(end));
    else if (field === 2 && wire === WIRE_LEN) n.outputs.push(f.string(end));
    else if (field === 3 && wire === WIRE_LEN) n.name = f.string(end);
    else if (field === 4 && wire === WIRE_LEN) n.opType = f.string(end);
    else if (field === 7 && wire === WIRE_LEN) n.domain = f.string(end);
    else if (field === 5 && wire === WIRE_LEN) n.attributes.push(scanAttribute(f, f.lengthEnd(end), depth));
    else f.skip(wire, end);
  }
  return n;
}

function scanGraph(f: ProtoFile, end: number, depth: number): ScannedGraph {
  if (depth > MAX_DEPTH) throw f.corrupt(`subgraphs nested more than ${MAX_DEPTH} deep`);
  const g: ScannedGraph = { name: '', nodes: [], initializers: [] };
  while (f.pos < end) {
    const [field, wire] = f.tag(end);
    if (field === 1 && wire === WIRE_LEN) g.nodes.push(scanNode(f, f.lengthEnd(end), depth));
    else if (field === 2 && wire === WIRE_LEN) g.name = f.string(end);
    else if (field === 5 && wire === WIRE_LEN) g.initializers.push(scanTensor(f, f.lengthEnd(end)));
    else f.skip(wire, end);
  }
  return g;
}

/** Indexes the ModelProto in `f` (see the module comment); a file that is not one is 'corrupt-file'. */
export function scanOnnx(f: ProtoFile): ScannedModel {
  let irVersion = 0;
  let graph: ScannedGraph | null = null;
  f.pos = 0;
  while (f.pos < f.size) {
    const [field, wire] = f.tag(f.size);
    if (field === 1 && wire === WIRE_VARINT) irVersion = f.varint(f.size);
    else if (field === 7 && wire === WIRE_LEN) graph = scanGraph(f, f.lengthEnd(f.size), 0);
    else f.skip(wire, f.size);
  }
  if (!graph) throw new WeightscopeError('corrupt-file', `${f.path}: ONNX model has no graph`);
  return { irVersion, graph };
}

export function scannedDType(t: ScannedTensor): DType | null {
  return onnxTypeToDType(t.dataType);
}

function expectedBytes(t: ScannedTensor, dtype: DType): number {
  let n = 1;
  for (const d of t.dims) n *= d;
  const bytes = n * dtypeSize(dtype);
  if (!Number.isSafeInteger(bytes)) throw new WeightscopeError('corrupt-file', `ONNX tensor '${t.name}' has too many elements`);
  return bytes;
}

/** The TensorProto fields external-data handling reads. */
function asProto(t: ScannedTensor): TensorProto {
  return { name: t.name, externalData: t.externalData } as TensorProto;
}

/**
 * Where the tensor's data lies contiguously, uncompressed and little-endian in its own dtype: raw_data, external
 * data, or packed float_data/double_data of an F32/F64 tensor. Null for the other typed fields (varints).
 */
export function scannedLocation(t: ScannedTensor, path: string, baseDir: string): TensorLocation | null {
  const dtype = scannedDType(t);
  if (!dtype) return null;
  const expected = expectedBytes(t, dtype);
  if (t.dataLocation === 1) {
    const ref = externalDataRef(asProto(t), baseDir);
    let length = ref.length;
    if (length === null) {
      try {
        length = statSync(ref.path).size - ref.offset;
      } catch {
        throw new WeightscopeError('not-found', `ONNX tensor '${t.name}': external data file ${ref.path} is missing`);
      }
    }
    if (length !== expected) {
      throw new WeightscopeError(
        'corrupt-file',
        `ONNX tensor '${t.name}': external data holds ${length} bytes, its shape and type need ${expected}`,
      );
    }
    return { path: ref.path, offset: ref.offset, length };
  }
  if (t.raw && t.raw.length > 0) {
    if (t.raw.length !== expected) {
      throw new WeightscopeError(
        'corrupt-file',
        `ONNX tensor '${t.name}': raw_data has ${t.raw.length} bytes, its shape and type need ${expected}`,
      );
    }
    return { path, offset: t.raw.offset, length: t.raw.length };
  }
  const field = dtype === 'F32' ? 4 : dtype === 'F64' ? 10 : 0;
  const spans = t.packed.get(field);
  if (field && spans && spans.length === 1 && t.values.size === 0 && spans[0].length === expected)
    return { path, offset: spans[0].offset, length: expected };
  return null;
}

/** Decodes the varints of packed spans (int32_data, int64_data, uint64_data). */
function packedVarints(f: ProtoFile, spans: readonly Span[], unsigned: boolean): Long64[] {
  const out: Long64[] = [];
  for (const s of spans) {
    f.pos = s.offset;
    const end = s.offset + s.length;
    while (f.pos < end) out.push(f.varint64(end, unsigned));
  }
  return out;
}

function packedFixed(f: ProtoFile, spans: readonly Span[], size: 4 | 8): number[] {
  const out: number[] = [];
  for (const s of spans) {
    const b = f.readAt(s.offset, s.length);
    const dv = new DataView(b.buffer);
    if (s.length % size !== 0)
      throw new WeightscopeError(
        'corrupt-file',
        `${f.path}: packed field of ${s.length} bytes is not a whole number of ${size}-byte values`,
      );
    for (let o = 0; o < s.length; o += size) out.push(size === 4 ? dv.getFloat32(o, true) : dv.getFloat64(o, true));
  }
  return out;
}

/** The tensor's data as little-endian bytes of its dtype (a new buffer), wherever the file keeps it. */
export async function scannedTensorBytes(f: ProtoFile, t: ScannedTensor, baseDir: string): Promise<Uint8Array> {
  const dtype = scannedDType(t);
  if (!dtype) throw new WeightscopeError('unsupported-dtype', `ONNX tensor '${t.name}' has data type ${t.dataType}, which is not read`);
  const expected = expectedBytes(t, dtype);
  if (t.dataLocation === 1) return readExternalData(asProto(t), baseDir, expected);
  const loc = scannedLocation(t, f.path, baseDir);
  if (loc) return f.readAt(loc.offset, loc.length);
  // Typed fields: rebuild the protobufjs field arrays and convert them as the decoded path does.
  const long = (v: number | Long64): IntLike => v;
  const vals = (field: number): (number | Long64)[] => t.values.get(field) ?? [];
  const proto = {
    name: t.name,
    floatData: [...packedFixed(f, t.packed.get(4) ?? [], 4), ...(vals(4) as number[])],
    doubleData: [...packedFixed(f, t.packed.get(10) ?? [], 8), ...(vals(10) as number[])],
    int32Data: [...packedVarints(f, t.packed.get(5) ?? [], false), ...(vals(5) as Long64[])].map((v) =>
      typeof v === 'number' ? v : v.low | 0,
    ),
    int64Data: [...packedVarints(f, t.packed.get(7) ?? [], false), ...(vals(7) as Long64[])].map(long),
    uint64Data: [...packedVarints(f, t.packed.get(11) ?? [], true), ...(vals(11) as Long64[])].map(long),
  } as TensorProto;
  let n = 1;
  for (const d of t.dims) n *= d;
  return typedFieldBytes(proto, dtype, n);
}
