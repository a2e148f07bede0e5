/**
 * ONNX ModelProto on disk: decode, encode, and the data of one TensorProto.
 *
 * Memory: `readOnnxModel` reads the whole file and protobufjs hands back `rawData` as zero-copy views into that
 * buffer, so an in-file model costs its file size once (protobuf caps such files at 2 GB anyway). Large models keep
 * their weights in external data files (`data_location = EXTERNAL`); those are read one tensor at a time, with
 * exactly the bytes a tensor needs, so memory stays bounded by the largest tensor.
 */
import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import onnxProto from 'onnx-proto';
import { WeightscopeError } from '../errors.js';
import { FLOAT_DTYPES, type DType } from './types.js';
import { dtypeSize, fromFloat64, toFloat64 } from './dtype.js';
import { readAt } from './fileio.js';

/** The protobufjs ONNX classes, usable both as values (onnx.ModelProto.decode) and as types (onnx.IModelProto). */
export import onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type TensorProto = onnxProto.onnx.ITensorProto;

/** protobufjs 6 returns 64-bit integers as `long` objects (or numbers when `long` is absent). */
interface LongLike {
  readonly low: number;
  readonly high: number;
  readonly unsigned: boolean;
}
export type IntLike = number | LongLike;

/** An int64 from protobufjs as a JS number; refuses values outside ±2^53 instead of rounding them silently. */
export function longToNumber(v: IntLike | null | undefined, what = 'integer'): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new WeightscopeError('corrupt-file', `ONNX ${what} is not a safe integer: ${v}`);
    return v;
  }
  const lo = v.low >>> 0;
  const hi = v.unsigned ? v.high >>> 0 : v.high | 0;
  // value = hi·2^32 + lo is exact in a double when |hi| < 2^21.
  if (hi >= 2 ** 21 || hi < -(2 ** 21)) {
    throw new WeightscopeError('corrupt-file', `ONNX ${what} does not fit in a safe integer`);
  }
  return hi * 4294967296 + lo;
}

/** ONNX TensorProto.DataType numbers ↔ our DType (STRING and COMPLEX have no DType). */
const ONNX_TO_DTYPE: ReadonlyMap<number, DType> = new Map<number, DType>([
  [1, 'F32'],
  [2, 'U8'],
  [3, 'I8'],
  [4, 'U16'],
  [5, 'I16'],
  [6, 'I32'],
  [7, 'I64'],
  [9, 'BOOL'],
  [10, 'F16'],
  [11, 'F64'],
  [12, 'U32'],
  [13, 'U64'],
  [16, 'BF16'],
  [17, 'F8_E4M3'], // FLOAT8E4M3FN (ONNX ≥ 1.14)
  [19, 'F8_E5M2'],
]);

export function onnxTypeToDType(dataType: number): DType | null {
  return ONNX_TO_DTYPE.get(dataType) ?? null;
}

/** DType of a TensorProto, or an 'unsupported-dtype' error naming the tensor. */
export function tensorDType(t: TensorProto): DType {
  const d = onnxTypeToDType(t.dataType ?? 0);
  if (d === null) {
    throw new WeightscopeError('unsupported-dtype', `ONNX tensor '${t.name ?? ''}' has data type ${t.dataType ?? 0}, which is not read`);
  }
  return d;
}

export function tensorShape(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => {
    const n = longToNumber(d as IntLike, `dimension of '${t.name ?? ''}'`);
    if (n < 0) throw new WeightscopeError('corrupt-file', `ONNX tensor '${t.name ?? ''}' has a negative dimension`);
    return n;
  });
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n)) throw new WeightscopeError('corrupt-file', 'ONNX tensor has too many elements');
  return n;
}

export async function readOnnxModel(path: string): Promise<ModelProto> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new WeightscopeError('not-found', `cannot read ONNX file ${path}: ${(e as Error).message}`);
  }
  return decodeOnnxModel(buf, path);
}

/** Decode bytes as a ModelProto; anything protobufjs rejects, or a model without a graph, is 'corrupt-file'. */
export function decodeOnnxModel(buf: Uint8Array, path = '<buffer>'): ModelProto {
  let m: ModelProto;
  try {
    m = onnx.ModelProto.decode(buf);
  } catch (e) {
    throw new WeightscopeError('corrupt-file', `${path} is not a readable ONNX model (${(e as Error).message})`);
  }
  if (!m.graph) throw new WeightscopeError('corrupt-file', `${path}: ONNX model has no graph`);
  return m;
}

/** Write atomically: encode, write a temporary file beside the target, rename over it. */
export async function writeOnnxModel(path: string, model: ModelProto): Promise<void> {
  const bytes = onnx.ModelProto.encode(model).finish();
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * The file an external-data location names, inside `baseDir` only. The check is lexical (no realpath), because
 * in a Hugging Face cache every file of the snapshot is a symlink into `blobs/`, outside the snapshot folder.
 */
export function resolveExternalPath(baseDir: string, location: string, tensorName = ''): string {
  const bad = (): never => {
    throw new WeightscopeError(
      'corrupt-file',
      `ONNX tensor '${tensorName}': external data location '${location}' is outside the model's folder`,
    );
  };
  if (location === '' || location.includes('\0') || isAbsolute(location) || /^[a-zA-Z]:/.test(location)) bad();
  const base = resolve(baseDir);
  const target = resolve(base, location);
  const rel = relative(base, target);
  if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) bad();
  return target;
}

export interface ExternalDataRef {
  readonly path: string;
  readonly offset: number;
  /** null: to the end of the file. */
  readonly length: number | null;
}

export function externalDataRef(t: TensorProto, baseDir: string): ExternalDataRef {
  let location: string | null = null;
  let offset = 0;
  let length: number | null = null;
  const name = t.name ?? '';
  for (const e of t.externalData ?? []) {
    const key = e.key ?? '';
    const value = e.value ?? '';
    const asInt = (): number => {
      if (!/^\d+$/.test(value))
        throw new WeightscopeError('corrupt-file', `ONNX tensor '${name}': external data ${key} '${value}' is not an integer`);
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw new WeightscopeError('corrupt-file', `ONNX tensor '${name}': external data ${key} is too large`);
      return n;
    };
    if (key === 'location') location = value;
    else if (key === 'offset') offset = asInt();
    else if (key === 'length') length = asInt();
  }
  if (location === null) throw new WeightscopeError('corrupt-file', `ONNX tensor '${name}' is external but has no location`);
  return { path: resolveExternalPath(baseDir, location, name), offset, length };
}

/** The external data of `t`, checked to hold exactly `expected` bytes inside its file. */
export async function readExternalData(t: TensorProto, baseDir: string, expected: number): Promise<Uint8Array> {
  const ref = externalDataRef(t, baseDir);
  const name = t.name ?? '';
  let size: number;
  try {
    size = (await stat(ref.path)).size;
  } catch {
    throw new WeightscopeError('not-found', `ONNX tensor '${name}': external data file ${ref.path} is missing`);
  }
  const length = ref.length ?? size - ref.offset;
  if (length !== expected) {
    throw new WeightscopeError(
      'corrupt-file',
      `ONNX tensor '${name}': external data holds ${length} bytes, its shape and type need ${expected}`,
    );
  }
  if (ref.offset + length > size) {
    throw new WeightscopeError(
      'corrupt-file',
      `ONNX tensor '${name}': external data [${ref.offset}, ${ref.offset + length}) runs past the end of ${ref.path} (${size} bytes)`,
    );
  }
  const fh = await open(ref.path, 'r');
  try {
    return await readAt(fh, ref.offset, length, `ONNX tensor '${name}' external data ${ref.path}`);
  } finally {
    await fh.close();
  }
}

/** Typed-field storage (no raw_data) → little-endian bytes in the tensor's own dtype. */
export function typedFieldBytes(t: TensorProto, dtype: DType, n: number): Uint8Array {
  const name = t.name ?? '';
  const check = (len: number, field: string): void => {
    if (len !== n) throw new WeightscopeError('corrupt-file', `ONNX tensor '${name}': ${field} has ${len} values, its shape needs ${n}`);
  };
  const ints = (): number[] => t.int32Data ?? [];
  switch (dtype) {
    case 'F32': {
      const v = t.floatData ?? [];
      check(v.length, 'float_data');
      return new Uint8Array(Float32Array.from(v).buffer);
    }
    case 'F64': {
      const v = t.doubleData ?? [];
      check(v.length, 'double_data');
      return new Uint8Array(Float64Array.from(v).buffer);
    }
    // F16/BF16/F8 store their bit patterns in int32_data; the integer types up to 32 bits store values there.
    case 'F16':
    case 'BF16':
    case 'U16': {
      check(ints().length, 'int32_data');
      return new Uint8Array(Uint16Array.from(ints()).buffer);
    }
    case 'I16': {
      check(ints().length, 'int32_data');
      return new Uint8Array(Int16Array.from(ints()).buffer);
    }
    case 'I32': {
      check(ints().length, 'int32_data');
      return new Uint8Array(Int32Array.from(ints()).buffer);
    }
    case 'I8': {
      check(ints().length, 'int32_data');
      return new Uint8Array(Int8Array.from(ints()).buffer);
    }
    case 'U8':
    case 'BOOL':
    case 'F8_E4M3':
    case 'F8_E5M2': {
      check(ints().length, 'int32_data');
      return Uint8Array.from(ints());
    }
    case 'I64': {
      const v = t.int64Data ?? [];
      check(v.length, 'int64_data');
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = longToBigInt(v[i] as IntLike);
      return new Uint8Array(out.buffer);
    }
    case 'U32':
    case 'U64': {
      const v = t.uint64Data ?? [];
      check(v.length, 'uint64_data');
      if (dtype === 'U32') return new Uint8Array(Uint32Array.from(v, (x) => longToNumber(x as IntLike)).buffer);
      const out = new BigUint64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt.asUintN(64, longToBigInt(v[i] as IntLike));
      return new Uint8Array(out.buffer);
    }
  }
}

function longToBigInt(v: IntLike): bigint {
  if (typeof v === 'number') return BigInt(v);
  const lo = BigInt(v.low >>> 0);
  const hi = BigInt(v.unsigned ? v.high >>> 0 : v.high | 0);
  return (hi << 32n) + lo;
}

/**
 * The tensor's data as little-endian bytes of its dtype, from raw_data, a typed field or external data.
 * For in-file raw_data this is a view into the decoded model's buffer: do not mutate it.
 */
export async function tensorProtoBytes(t: TensorProto, baseDir: string): Promise<Uint8Array> {
  const dtype = tensorDType(t);
  const n = numel(tensorShape(t));
  const expected = n * dtypeSize(dtype);
  const name = t.name ?? '';
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return readExternalData(t, baseDir, expected);
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    if (raw.length !== expected) {
      throw new WeightscopeError(
        'corrupt-file',
        `ONNX tensor '${name}': raw_data has ${raw.length} bytes, its shape and type need ${expected}`,
      );
    }
    // A plain Uint8Array view (protobufjs gives a Buffer, whose slice() would not copy).
    return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  }
  return typedFieldBytes(t, dtype, n);
}

/** Exact float64 values of a float tensor (F16/BF16/F32 widen without rounding). */
export async function tensorProtoToFloat64(t: TensorProto, baseDir: string): Promise<Float64Array> {
  const dtype = tensorDType(t);
  if (!FLOAT_DTYPES.has(dtype)) {
    throw new WeightscopeError('unsupported-dtype', `ONNX tensor '${t.name ?? ''}' is ${dtype}, not a float tensor`);
  }
  return toFloat64(dtype, await tensorProtoBytes(t, baseDir));
}

/**
 * A copy of `model` whose named float initializers hold `values` (rounded to each initializer's own dtype), stored
 * as raw_data in the model itself. Every other field, and every initializer not named, is shared with `model`.
 */
export function replaceInitializers(model: ModelProto, values: ReadonlyMap<string, Float32Array | Float64Array>): ModelProto {
  const graph = model.graph;
  if (!graph) throw new WeightscopeError('corrupt-file', 'ONNX model has no graph');
  const seen = new Set<string>();
  const initializer = (graph.initializer ?? []).map((t) => {
    const name = t.name ?? '';
    const v = values.get(name);
    if (v === undefined) return t;
    seen.add(name);
    const dtype = tensorDType(t);
    if (!FLOAT_DTYPES.has(dtype)) {
      throw new WeightscopeError('unsupported-dtype', `cannot replace ONNX initializer '${name}': it is ${dtype}`);
    }
    const shape = tensorShape(t);
    if (v.length !== numel(shape)) {
      throw new WeightscopeError('shape-mismatch', `ONNX initializer '${name}' has ${numel(shape)} values, got ${v.length}`);
    }
    const rawData =
      dtype === 'F32' && v instanceof Float32Array
        ? new Uint8Array(v.slice().buffer)
        : fromFloat64(dtype, v instanceof Float64Array ? v : Float64Array.from(v));
    return onnx.TensorProto.create({
      name,
      dims: t.dims,
      dataType: t.dataType,
      docString: t.docString,
      rawData,
    });
  });
  const missing = [...values.keys()].filter((k) => !seen.has(k));
  if (missing.length > 0) {
    throw new WeightscopeError('not-found', `ONNX model has no initializer named ${missing.map((m) => `'${m}'`).join(', ')}`);
  }
  const newGraph = onnx.GraphProto.create({ ...graph, initializer });
  return onnx.ModelProto.create({ ...model, graph: newGraph });
}
