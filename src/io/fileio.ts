/** Positioned reads that either return exactly the bytes asked for or fail as a truncated file. */
import type { FileHandle } from 'node:fs/promises';
import { WeightscopeError } from '../errors.js';

/** `into`: a buffer to read into (its first `length` bytes are returned) instead of a new one. */
export async function readAt(fh: FileHandle, position: number, length: number, what: string, into?: Uint8Array): Promise<Uint8Array> {
  const out = into && into.byteLength >= length ? into.subarray(0, length) : new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new WeightscopeError('corrupt-file', `${what}: file ends after ${done} of ${length} bytes (truncated)`);
    }
    done += bytesRead;
  }
  return out;
}

/** Write all of `data` at the current position (a single write may be short). */
export async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await fh.write(data, done, data.byteLength - done);
    done += bytesWritten;
  }
}
