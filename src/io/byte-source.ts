/** ByteSources: a file range read with positioned reads, or bytes already in memory. */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { WeightscopeError } from '../errors.js';
import { readAt } from './fileio.js';
import type { ByteSource, TensorLocation } from './types.js';

function checkRange(offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new WeightscopeError('corrupt-file', `read [${offset}, ${offset + length}) is outside the ${size} bytes of the source`);
  }
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    length: bytes.byteLength,
    async read(offset, length) {
      checkRange(offset, length, bytes.byteLength);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** The bytes of `loc` read on demand; close() releases the file. */
export async function fileSource(loc: TensorLocation): Promise<ByteSource & { close(): Promise<void> }> {
  let fh;
  try {
    fh = await open(loc.path, 'r');
  } catch (e) {
    throw new WeightscopeError('not-found', `cannot open ${loc.path}: ${(e as Error).message}`);
  }
  const handle = fh;
  return {
    length: loc.length,
    async read(offset, length, into) {
      checkRange(offset, length, loc.length);
      return readAt(handle, loc.offset + offset, length, `${loc.path} [${loc.offset + offset}, +${length})`, into);
    },
    close: () => handle.close(),
  };
}

/** sha256 (hex) of a file range, read 8 MiB at a time. */
export async function sha256OfRange(loc: TensorLocation): Promise<string> {
  const src = await fileSource(loc);
  try {
    const h = createHash('sha256');
    const buf = new Uint8Array(Math.min(loc.length, 8 << 20));
    for (let o = 0; o < loc.length; o += buf.length) h.update(await src.read(o, Math.min(buf.length, loc.length - o), buf));
    return h.digest('hex');
  } finally {
    await src.close();
  }
}
