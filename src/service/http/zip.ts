/**
 * Streams stored job files as one ZIP response (a repaired Hugging Face folder): entries STORED (weights do not
 * deflate), written by fflate's streaming Zip as each file is read, so memory holds a chunk, not the model. fflate
 * writes no ZIP64 records, so archives that would pass 4 GiB are refused before the first byte is sent.
 */
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { Zip, ZipPassThrough } from 'fflate';
import { WeightscopeError } from '../../errors.js';
import type { JobFile } from '../context.js';

export interface ZipEntry {
  /** The path inside the archive ('/' separators). */
  name: string;
  file: JobFile;
}

const ZIP32_LIMIT = 0xffffffff;

/** Archive size: local header + data + data descriptor + central header per entry, and the end record. */
export function zipSize(entries: readonly { name: string; size: number }[]): number {
  let total = 22;
  for (const e of entries) {
    const n = Buffer.byteLength(e.name);
    total += 30 + n + e.size + 16 + 46 + n;
  }
  return total;
}

/** Sends `entries` as `filename` (application/zip); a read error after the headers can only cut the response short. */
export async function sendZip(res: Response, entries: readonly ZipEntry[], filename: string): Promise<void> {
  const size = zipSize(entries.map((e) => ({ name: e.name, size: e.file.size })));
  if (size >= ZIP32_LIMIT) {
    throw new WeightscopeError(
      'too-large',
      `the archive would be ${size} bytes; ZIP files without ZIP64 stop at 4 GiB: download the files one by one`,
      { limit: ZIP32_LIMIT },
    );
  }
  const out = new PassThrough();
  res.type('application/zip').setHeader('content-disposition', `attachment; filename="${filename}"`);
  // Every entry is STORED with sizes known up front, so the length is exact.
  res.setHeader('content-length', String(size));
  const sending = pipeline(out, res);
  const zip = new Zip((err, data, final) => {
    if (err) return void out.destroy(err);
    out.write(data);
    if (final) out.end();
  });
  const roomOrGone = (): Promise<void> =>
    new Promise((resolve) => {
      out.once('drain', resolve);
      out.once('close', resolve);
    });
  try {
    for (const e of entries) {
      const entry = new ZipPassThrough(e.name);
      zip.add(entry);
      for await (const chunk of await e.file.open()) {
        if (out.destroyed) return;
        entry.push(chunk as Uint8Array);
        if (out.writableNeedDrain) await roomOrGone();
      }
      entry.push(new Uint8Array(0), true);
    }
    zip.end();
  } catch (err) {
    out.destroy(err as Error);
  } finally {
    await sending.catch(() => res.destroy());
  }
}
