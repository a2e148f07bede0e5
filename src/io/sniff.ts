/**
 * What a checkpoint file is, from its first bytes rather than its name.
 * safetensors: u64 LE header length (≤ 100 MB), then '{'. PyTorch ≥ 1.6: a zip ('PK\x03\x04').
 * Legacy PyTorch: a bare pickle (0x80 protocol byte). ONNX: a protobuf ModelProto whose first field is
 * ir_version (field 1, varint) — serializers write fields in number order, and the ONNX checker requires it —
 * followed by well-formed top-level fields as far as the head of the file reaches.
 */
import { open } from 'node:fs/promises';
import { WeightscopeError } from '../errors.js';
import type { CheckpointFormat } from './types.js';

export type SniffedFormat = CheckpointFormat | 'legacy-pytorch' | 'unknown';

const HEAD_BYTES = 4096;
/** The safetensors reference implementation refuses headers over 100 MB. */
const MAX_SAFETENSORS_HEADER = 100_000_000n;

export async function sniffFormat(path: string): Promise<SniffedFormat> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new WeightscopeError('not-found', `cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    const size = (await fh.stat()).size;
    const head = new Uint8Array(Math.min(size, HEAD_BYTES));
    let done = 0;
    while (done < head.length) {
      const { bytesRead } = await fh.read(head, done, head.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return sniffBytes(head.subarray(0, done), size);
  } finally {
    await fh.close();
  }
}

/** `head`: the first bytes of a file of `fileSize` bytes. */
export function sniffBytes(head: Uint8Array, fileSize: number): SniffedFormat {
  if (head.length >= 9) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    // No check against the file size: a truncated safetensors file is still one (its reader says 'truncated').
    if (n > 0n && n <= MAX_SAFETENSORS_HEADER && head[8] === 0x7b /* { */) return 'safetensors';
  }
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'pytorch';
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'legacy-pytorch';
  if (looksLikeOnnx(head, fileSize)) return 'onnx';
  return 'unknown';
}

/** ModelProto field numbers and their wire types (0 varint, 2 length-delimited). */
const MODEL_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, 0], // ir_version
  [2, 2],
  [3, 2],
  [4, 2], // producer_name, producer_version, domain
  [5, 0], // model_version
  [6, 2],
  [7, 2],
  [8, 2], // doc_string, graph, opset_import
  [14, 2],
  [20, 2],
  [25, 2], // metadata_props, training_info, functions
]);

function looksLikeOnnx(b: Uint8Array, fileSize: number): boolean {
  let pos = 0;
  const varint = (): number | null => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= b.length) return null;
      const byte = b[pos++];
      v += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return v;
      mul *= 128;
    }
    return null;
  };
  let fields = 0;
  while (pos < b.length) {
    const tag = varint();
    if (tag === null) return fields >= 1;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (MODEL_FIELDS.get(field) !== wire) return false;
    if (fields === 0 && field !== 1) return false;
    const v = varint();
    if (v === null) return fields >= 1;
    if (field === 1 && (v < 1 || v > 100)) return false;
    if (wire === 2) {
      // A length past the end of a file we hold entirely is truncation, not another format: say 'onnx' and let
      // the decoder report the corruption (ir_version came first, so the start was convincing).
      if (pos + v > fileSize) return true;
      if (pos + v > b.length) return true;
      pos += v;
    }
    fields++;
  }
  return fields >= 1;
}
