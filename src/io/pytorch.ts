/**
 * PyTorch checkpoints in the zip format (torch.save since 1.6): `<prefix>/data.pkl` is unpickled through the
 * allow-list VM; tensors refer to storages `<prefix>/data/<key>` by persistent id
 * ('storage', StorageType, key, location, numel), and tensor bytes are read from those STORED entries on demand.
 *
 * Which tensors are listed: if the top-level dict holds any tensors, exactly those (a state dict; other values such
 * as an epoch counter are ignored). Otherwise nested dicts are flattened with '.'-joined keys, so checkpoints like
 * {'model': state_dict, 'optimizer': ...} or {'state_dict': {...}} expose 'model.layer.weight' etc.
 */
import { open } from 'node:fs/promises';
import { WeightscopeError } from '../errors.js';
import { DTYPE_SIZE, toFloat64 } from './dtype.js';
import { readAt } from './fileio.js';
import { PyDict, PyGlobal, PyOpaque, PyTuple, unpickle, type PyValue } from './unpickle.js';
import { MAX_PICKLE_BYTES, ZipArchive } from './zip.js';
import type { DType, TensorInfo, TensorReader } from './types.js';

export const LEGACY_MESSAGE =
  'legacy PyTorch serialization; re-save with torch>=1.6 (torch.save(..., _use_new_zipfile_serialization=True))';

const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** torch dtype objects that may appear as plain values. */
const TORCH_DTYPE_NAMES = [
  'float64',
  'float32',
  'float16',
  'bfloat16',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
  'double',
  'float',
  'half',
  'long',
  'int',
  'short',
];

interface StorageRef {
  readonly key: string;
  readonly dtype: DType;
  readonly numel: number;
}

interface TensorRef {
  readonly storage: StorageRef;
  readonly offset: number;
  readonly shape: number[];
  readonly stride: number[];
}

interface Entry {
  readonly info: TensorInfo;
  readonly ref: TensorRef;
  readonly zipName: string;
}

function corrupt(path: string, msg: string): WeightscopeError {
  return new WeightscopeError('corrupt-file', `${path}: ${msg}`, { path });
}

function intTuple(v: PyValue, what: string, path: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw corrupt(path, `tensor ${what} is not a tuple of non-negative integers`);
  }
  return items as number[];
}

function allowList(path: string): Map<string, ((args: readonly PyValue[]) => PyValue) | null> {
  const g = new Map<string, ((args: readonly PyValue[]) => PyValue) | null>();
  g.set('collections.OrderedDict', (args) => {
    const d = new PyDict();
    const init = args[0];
    if (Array.isArray(init)) {
      for (const pair of init) {
        if (!(pair instanceof PyTuple) || pair.items.length !== 2) throw corrupt(path, 'bad OrderedDict initialiser');
        const k = pair.items[0];
        if (typeof k !== 'string' && typeof k !== 'number') throw corrupt(path, 'bad OrderedDict key');
        d.map.set(k, pair.items[1]);
      }
    }
    return d;
  });
  const rebuildTensor = (args: readonly PyValue[]): PyValue => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof PyOpaque) || storage.kind !== 'storage') throw corrupt(path, 'tensor without a storage');
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw corrupt(path, 'bad storage offset');
    const shape = intTuple(size, 'size', path);
    const strides = intTuple(stride, 'stride', path);
    if (shape.length !== strides.length) throw corrupt(path, 'tensor size and stride differ in length');
    const ref: TensorRef = { storage: storage.value as StorageRef, offset, shape, stride: strides };
    return new PyOpaque<TensorRef>('tensor', ref);
  };
  g.set('torch._utils._rebuild_tensor_v2', rebuildTensor);
  g.set('torch._utils._rebuild_tensor', rebuildTensor);
  const rebuildParameter = (args: readonly PyValue[]): PyValue => {
    const t = args[0];
    if (!(t instanceof PyOpaque) || t.kind !== 'tensor') throw corrupt(path, 'parameter without a tensor');
    return t;
  };
  g.set('torch._utils._rebuild_parameter', rebuildParameter);
  g.set('torch._utils._rebuild_parameter_with_state', rebuildParameter);
  for (const s of Object.keys(STORAGE_DTYPES)) g.set(`torch.${s}`, null);
  for (const d of TORCH_DTYPE_NAMES) g.set(`torch.${d}`, null);
  return g;
}

function storageLoader(path: string): (pid: PyValue) => PyValue {
  const cache = new Map<string, PyOpaque<StorageRef>>();
  return (pid) => {
    const items = pid instanceof PyTuple ? pid.items : null;
    if (!items || items.length < 5 || items[0] !== 'storage') throw corrupt(path, 'unsupported persistent id in data.pkl');
    const [, type, key, , numel] = items;
    if (!(type instanceof PyGlobal) || !(type.name in STORAGE_DTYPES)) throw corrupt(path, 'persistent id without a storage type');
    if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key)) throw corrupt(path, 'bad storage key');
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw corrupt(path, 'bad storage size');
    const dtype = STORAGE_DTYPES[type.name];
    const prev = cache.get(key);
    if (prev) {
      if (prev.value.dtype !== dtype) throw corrupt(path, `storage ${key} used with two dtypes`);
      return prev;
    }
    const s = new PyOpaque<StorageRef>('storage', { key, dtype, numel });
    cache.set(key, s);
    return s;
  };
}

function keyString(k: unknown): string {
  return typeof k === 'string' ? k : String(k);
}

function isTensor(v: PyValue | undefined): v is PyOpaque<TensorRef> {
  return v instanceof PyOpaque && v.kind === 'tensor';
}

/** The tensors of a checkpoint's root object, named (see the module comment for the rule). */
export function collectTensors(root: PyValue, path: string): Map<string, TensorRef> {
  if (!(root instanceof PyDict)) {
    throw new WeightscopeError('unsupported-format', `${path}: data.pkl does not hold a dict of tensors`, { path });
  }
  const out = new Map<string, TensorRef>();
  for (const [k, v] of root.map) if (isTensor(v)) out.set(keyString(k), v.value);
  if (out.size > 0) return out;
  const seen = new Set<PyDict>();
  const walk = (d: PyDict, prefix: string, depth: number): void => {
    if (depth > 32 || seen.has(d)) return;
    seen.add(d);
    for (const [k, v] of d.map) {
      const name = prefix + keyString(k);
      if (isTensor(v)) {
        if (out.has(name)) throw corrupt(path, `two tensors flatten to the name "${name}"`);
        out.set(name, v.value);
      } else if (v instanceof PyDict) walk(v, `${name}.`, depth + 1);
    }
  };
  walk(root, '', 0);
  if (out.size === 0) throw new WeightscopeError('unsupported-format', `${path}: no tensors found in data.pkl`, { path });
  return out;
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) return false;
    expect *= shape[i];
  }
  return true;
}

export class PytorchReader implements TensorReader {
  readonly format = 'pytorch' as const;
  readonly tensors: readonly TensorInfo[];
  readonly #zip: ZipArchive;
  readonly #entries: Map<string, Entry>;

  private constructor(zip: ZipArchive, entries: Map<string, Entry>) {
    this.#zip = zip;
    this.#entries = entries;
    this.tensors = [...entries.values()].map((e) => e.info);
  }

  static async open(path: string): Promise<PytorchReader> {
    await checkMagic(path);
    const zip = await ZipArchive.open(path);
    try {
      const pkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
      if (!pkl)
        throw new WeightscopeError('unsupported-format', `${path}: zip archive without <name>/data.pkl; not a torch.save file`, { path });
      const prefix = pkl.slice(0, -'data.pkl'.length);
      const bo = zip.entries.get(`${prefix}byteorder`);
      if (bo && new TextDecoder().decode(await zip.read(bo.name)).trim() !== 'little') {
        throw new WeightscopeError('unsupported-format', `${path}: big-endian PyTorch checkpoints are not supported`, { path });
      }
      const root = unpickle(await zip.read(pkl, MAX_PICKLE_BYTES), { globals: allowList(path), persistentLoad: storageLoader(path) });
      const entries = new Map<string, Entry>();
      for (const [name, ref] of collectTensors(root, path)) {
        const zipName = `${prefix}data/${ref.storage.key}`;
        const ze = zip.entries.get(zipName);
        if (!ze) throw corrupt(path, `storage file "${zipName}" for tensor "${name}" is missing from the archive`);
        const es = DTYPE_SIZE[ref.storage.dtype];
        if (ze.method !== 0) throw corrupt(path, `storage "${zipName}" is compressed; torch writes storages uncompressed`);
        if (ze.size < ref.storage.numel * es) {
          throw corrupt(path, `storage "${zipName}" has ${ze.size} bytes, fewer than its ${ref.storage.numel} elements need`);
        }
        const numel = ref.shape.reduce((p, d) => p * d, 1);
        const last = numel === 0 ? 0 : ref.offset + ref.shape.reduce((p, d, i) => p + (d - 1) * ref.stride[i], 0) + 1;
        if (numel > 0 && last > ref.storage.numel) {
          throw corrupt(path, `tensor "${name}" reaches element ${last - 1} of a ${ref.storage.numel}-element storage`);
        }
        entries.set(name, { info: { name, dtype: ref.storage.dtype, shape: ref.shape }, ref, zipName });
      }
      return new PytorchReader(zip, entries);
    } catch (e) {
      await zip.close();
      throw e;
    }
  }

  #entry(name: string): Entry {
    const e = this.#entries.get(name);
    if (!e) throw new WeightscopeError('not-found', `no tensor named "${name}"`, { tensor: name });
    return e;
  }

  async readBytes(name: string): Promise<Uint8Array> {
    const { ref, zipName } = this.#entry(name);
    const es = DTYPE_SIZE[ref.storage.dtype];
    const numel = ref.shape.reduce((p, d) => p * d, 1);
    if (numel === 0) return new Uint8Array(0);
    if (isContiguous(ref.shape, ref.stride)) return this.#zip.readRange(zipName, ref.offset * es, numel * es);
    // Strided view: read the span it touches once, then gather element by element in row-major order.
    const span = ref.shape.reduce((p, d, i) => p + (d - 1) * ref.stride[i], 0) + 1;
    const src = await this.#zip.readRange(zipName, ref.offset * es, span * es);
    const out = new Uint8Array(numel * es);
    const rank = ref.shape.length;
    const idx = new Array<number>(rank).fill(0);
    let at = 0;
    for (let k = 0; k < numel; k++) {
      out.set(src.subarray(at * es, at * es + es), k * es);
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < ref.shape[d]) {
          at += ref.stride[d];
          break;
        }
        at -= (ref.shape[d] - 1) * ref.stride[d];
        idx[d] = 0;
      }
    }
    return out;
  }

  async readFloat64(name: string): Promise<Float64Array> {
    const e = this.#entry(name);
    return toFloat64(e.info.dtype, await this.readBytes(name));
  }

  async close(): Promise<void> {
    await this.#zip.close();
  }
}

/** Refuse legacy (pre-1.6) checkpoints with a clear message before trying to read them as zips. */
async function checkMagic(path: string): Promise<void> {
  let head: Uint8Array;
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new WeightscopeError('not-found', `${path}: no such file`, { path });
    throw e;
  });
  try {
    const { size } = await fh.stat();
    head = await readAt(fh, 0, Math.min(size, 512), path);
  } finally {
    await fh.close();
  }
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b) return; // "PK"
  const isTar = head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar';
  if ((head.length >= 2 && head[0] === 0x80 && head[1] <= 5) || isTar) {
    throw new WeightscopeError('unsupported-format', `${path}: ${LEGACY_MESSAGE}`, { path });
  }
  throw new WeightscopeError('unsupported-format', `${path}: not a PyTorch checkpoint (no zip or pickle signature)`, { path });
}

export async function openPytorch(path: string): Promise<PytorchReader> {
  return PytorchReader.open(path);
}
