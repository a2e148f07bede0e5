/**
 * Streams a generated safetensors checkpoint to disk tensor by tensor, in chunks of 1 Mi values, so a multi-GB
 * benchmark model never sits in memory (bench/gpt2-small.ts, bench/gpu/llama-folder.ts). Written to PATH.tmp and
 * renamed, so an interrupted run leaves no half file under the real name.
 */
import { open, rename } from 'node:fs/promises';

export interface StreamTensor {
  readonly name: string;
  readonly shape: readonly number[];
}

/** The chunk to fill: float32 values for 'F32', raw bfloat16 bits for 'BF16'. */
export type Chunk<D extends 'F32' | 'BF16'> = D extends 'F32' ? Float32Array : Uint16Array;

/** Writes `tensors` in the given order, each chunk's values from `fill`; returns the number of values written. */
export async function streamSafetensors<D extends 'F32' | 'BF16'>(
  path: string,
  tensors: readonly StreamTensor[],
  dtype: D,
  fill: (t: StreamTensor, chunk: Chunk<D>) => void,
  generator: string,
): Promise<number> {
  const size = dtype === 'F32' ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', generator } };
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size * n] };
    offset += size * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fh = await open(path + '.tmp', 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    await fh.write(len);
    await fh.write(Buffer.from(json, 'utf8'));
    const chunk = (dtype === 'F32' ? new Float32Array(1 << 20) : new Uint16Array(1 << 20)) as Chunk<D>;
    for (const t of tensors) {
      let left = t.shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const c = chunk.subarray(0, Math.min(left, chunk.length)) as Chunk<D>;
        fill(t, c);
        await fh.write(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
        left -= c.length;
      }
    }
  } finally {
    await fh.close();
  }
  await rename(path + '.tmp', path);
  return offset / size;
}
