/**
 * safetensors writer. Layout as the reference (Rust) serializer: tensors ordered by element size (largest first,
 * so every tensor stays aligned to its dtype), then by name; header padded with spaces to a multiple of 8.
 * Written to `<path>.tmp-<pid>-<n>` and renamed into place, so a crash never leaves a half-written file.
 */
import { open, rename, rm } from 'node:fs/promises';
import { WeightscopeError } from '../errors.js';
import { DTYPE_SIZE, fromFloat64 } from './dtype.js';
import { writeAll } from './fileio.js';
import type { DType } from './types.js';

export interface TensorToWrite {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Raw little-endian bytes of `dtype`, or float64 values converted (rounded to nearest-even) on write. */
  readonly data: Uint8Array | Float64Array;
}

let tmpCounter = 0;

export async function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const order = [...tensors].sort((a, b) => DTYPE_SIZE[b.dtype] - DTYPE_SIZE[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  const seen = new Set<string>();
  let offset = 0;
  for (const t of order) {
    if (t.name === '__metadata__') throw new WeightscopeError('invalid-input', 'a tensor cannot be named "__metadata__"');
    if (seen.has(t.name)) throw new WeightscopeError('invalid-input', `tensor "${t.name}" given twice`);
    seen.add(t.name);
    const numel = t.shape.reduce((p, d) => p * d, 1);
    const bytes = t.data instanceof Float64Array ? numel * DTYPE_SIZE[t.dtype] : t.data.byteLength;
    const count = t.data instanceof Float64Array ? t.data.length : t.data.byteLength / DTYPE_SIZE[t.dtype];
    if (count !== numel || bytes !== numel * DTYPE_SIZE[t.dtype]) {
      throw new WeightscopeError(
        'shape-mismatch',
        `tensor "${t.name}": shape ${JSON.stringify(t.shape)} (${numel} elements) does not match its data (${count})`,
      );
    }
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hbytes = enc.encode(json);
  const pad = (8 - (hbytes.byteLength % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    hbytes = enc.encode(json);
  }
  const tmp = `${path}.tmp-${process.pid}-${tmpCounter++}`;
  const fh = await open(tmp, 'w');
  try {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(hbytes.byteLength), true);
    await writeAll(fh, len);
    await writeAll(fh, hbytes);
    for (const t of order) {
      // One tensor converted at a time: memory stays bounded by the largest tensor.
      const bytes = t.data instanceof Float64Array ? fromFloat64(t.dtype, t.data) : t.data;
      await writeAll(fh, bytes);
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}
