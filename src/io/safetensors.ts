/**
 * safetensors reader. Only the 8-byte length and the JSON header are read up front; each tensor's bytes come from
 * one positioned read when asked for, so memory is bounded by the largest tensor requested.
 *
 * Validation follows the official loader (huggingface/safetensors `Metadata::validate`): header ≤ 100 MB and inside
 * the file, a JSON object, known dtypes, byte length = prod(shape)·size, and the tensors, sorted by offset, must
 * tile the data section exactly — no holes, no overlaps, nothing after the last tensor.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { WeightscopeError } from '../errors.js';
import { DTYPE_SIZE, isDType, toFloat64 } from './dtype.js';
import { readAt } from './fileio.js';
import { checkShardIndex, readShardIndex } from './shard-index.js';
import type { DType, TensorInfo, TensorLocation, TensorReader } from './types.js';

export const MAX_HEADER_BYTES = 100_000_000;

interface Entry {
  readonly info: TensorInfo;
  readonly fh: FileHandle;
  readonly path: string;
  /** Absolute byte position of the tensor's data in its file. */
  readonly start: number;
  readonly length: number;
}

export interface SafetensorsHeader {
  readonly tensors: { info: TensorInfo; begin: number; end: number }[];
  readonly metadata: Record<string, string>;
  readonly dataStart: number;
}

function corrupt(path: string, msg: string): WeightscopeError {
  return new WeightscopeError('corrupt-file', `${path}: ${msg}`, { path });
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parse and validate a header. `fileSize` is the whole file's size. Pure: usable on bytes from anywhere. */
export function parseSafetensorsHeader(path: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw corrupt(path, 'safetensors header is not valid UTF-8');
  }
  if (!text.startsWith('{')) throw corrupt(path, 'safetensors header does not start with "{"');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw corrupt(path, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw corrupt(path, 'safetensors header is not a JSON object');
  }
  // Null-prototype record: a "__proto__" metadata key stays a plain key.
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const tensors: { info: TensorInfo; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw corrupt(path, '__metadata__ must be an object of strings');
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw corrupt(path, `__metadata__ value for "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw corrupt(path, `entry "${name}" is not an object`);
    }
    const { dtype, shape, data_offsets: offs } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') throw corrupt(path, `tensor "${name}" has no dtype`);
    if (!isDType(dtype)) {
      throw new WeightscopeError('unsupported-dtype', `${path}: tensor "${name}" has unsupported dtype "${dtype}"`, {
        path,
        tensor: name,
        dtype,
      });
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      throw corrupt(path, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !isNonNegInt(offs[0]) || !isNonNegInt(offs[1]) || offs[1] < offs[0]) {
      throw corrupt(path, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    let numel = 1;
    for (const d of shape as number[]) numel *= d;
    const want = numel * DTYPE_SIZE[dtype];
    if (!Number.isSafeInteger(want) || offs[1] - offs[0] !== want) {
      throw corrupt(
        path,
        `tensor "${name}" (${dtype} ${JSON.stringify(shape)}) needs ${want} bytes but data_offsets span ${offs[1] - offs[0]}`,
      );
    }
    tensors.push({ info: { name, dtype: dtype as DType, shape: [...(shape as number[])] }, begin: offs[0], end: offs[1] });
  }
  const dataStart = 8 + headerBytes.byteLength;
  const dataLen = fileSize - dataStart;
  // Sort by offset (stable by name for zero-sized tensors), then require an exact tiling of the data section.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end || (a.info.name < b.info.name ? -1 : 1));
  let expected = 0;
  let prev = '';
  for (const t of tensors) {
    if (t.begin < expected) throw corrupt(path, `tensor "${t.info.name}" overlaps tensor "${prev}" (offset ${t.begin} < ${expected})`);
    if (t.begin > expected)
      throw corrupt(path, `hole in data section before tensor "${t.info.name}" (offset ${t.begin}, expected ${expected})`);
    expected = t.end;
    prev = t.info.name;
  }
  if (expected > dataLen) {
    throw corrupt(path, `data section is ${dataLen} bytes but tensors need ${expected} (file truncated?)`);
  }
  if (expected < dataLen) throw corrupt(path, `${dataLen - expected} unexplained bytes after the last tensor`);
  return { tensors, metadata, dataStart };
}

export class SafetensorsReader implements TensorReader {
  readonly format = 'safetensors' as const;
  readonly tensors: readonly TensorInfo[];
  /** `__metadata__` of the (first) file; for several shards, later shards' keys fill in missing ones. */
  readonly metadata: Record<string, string>;
  readonly #entries: Map<string, Entry>;
  readonly #handles: FileHandle[];

  private constructor(entries: Map<string, Entry>, metadata: Record<string, string>, handles: FileHandle[]) {
    this.#entries = entries;
    this.tensors = [...entries.values()].map((e) => e.info);
    this.metadata = metadata;
    this.#handles = handles;
  }

  /** Open one file or several (shards) as one reader; a name in two files is an error. */
  static async open(paths: readonly string[]): Promise<SafetensorsReader> {
    const entries = new Map<string, Entry>();
    const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
    const handles: FileHandle[] = [];
    try {
      for (const path of paths) {
        const fh = await openOrNotFound(path);
        handles.push(fh);
        const { size } = await fh.stat();
        if (size < 8) throw corrupt(path, `file is ${size} bytes, too short for a safetensors header`);
        const lenBytes = await readAt(fh, 0, 8, path);
        const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
        if (n > BigInt(MAX_HEADER_BYTES)) throw corrupt(path, `header length ${n} exceeds the 100 MB limit`);
        if (n > BigInt(size - 8)) throw corrupt(path, `header length ${n} exceeds the file size ${size} (truncated?)`);
        const header = parseSafetensorsHeader(path, await readAt(fh, 8, Number(n), path), size);
        for (const [k, v] of Object.entries(header.metadata)) if (!(k in metadata)) metadata[k] = v;
        for (const t of header.tensors) {
          const prev = entries.get(t.info.name);
          if (prev) throw corrupt(path, `tensor "${t.info.name}" also appears in ${prev.path}`);
          entries.set(t.info.name, {
            info: t.info,
            fh,
            path,
            start: header.dataStart + t.begin,
            length: t.end - t.begin,
          });
        }
      }
    } catch (e) {
      await Promise.all(handles.map((h) => h.close()));
      throw e;
    }
    return new SafetensorsReader(entries, metadata, handles);
  }

  #entry(name: string): Entry {
    const e = this.#entries.get(name);
    if (!e) throw new WeightscopeError('not-found', `no tensor named "${name}"`, { tensor: name });
    return e;
  }

  async readBytes(name: string): Promise<Uint8Array> {
    const e = this.#entry(name);
    return readAt(e.fh, e.start, e.length, `${e.path}: tensor "${name}"`);
  }

  locate(name: string): TensorLocation {
    const e = this.#entry(name);
    return { path: e.path, offset: e.start, length: e.length };
  }

  async readFloat64(name: string): Promise<Float64Array> {
    const e = this.#entry(name);
    return toFloat64(e.info.dtype, await this.readBytes(name));
  }

  async close(): Promise<void> {
    await Promise.all(this.#handles.splice(0).map((h) => h.close()));
  }
}

async function openOrNotFound(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new WeightscopeError('not-found', `${path}: no such file`, { path });
    throw e;
  }
}

export async function openSafetensors(pathOrPaths: string | readonly string[]): Promise<SafetensorsReader> {
  return SafetensorsReader.open(typeof pathOrPaths === 'string' ? [pathOrPaths] : pathOrPaths);
}

/**
 * Sharded checkpoint: `model.safetensors.index.json` with `weight_map` {tensor: shard file}, read and checked by
 * src/io/shard-index.ts (shards beside the index; every mapped tensor must exist in the merged shards).
 */
export async function openSafetensorsIndex(indexPath: string): Promise<SafetensorsReader> {
  const index = await readShardIndex(indexPath);
  const reader = await SafetensorsReader.open(index.shards);
  try {
    checkShardIndex(indexPath, index, reader);
  } catch (e) {
    await reader.close();
    throw e;
  }
  return reader;
}
