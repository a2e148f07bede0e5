/**
 * Minimal ZIP reader over a file handle, enough for torch.save archives: end-of-central-directory (with zip64),
 * central directory, local headers. STORED entries are read by positioned reads (ranges, for tensors); DEFLATED
 * entries (small ones such as data.pkl) are inflated whole with fflate. Anything malformed → 'corrupt-file'.
 * Also `writeZipStored`, a tiny STORED-only writer used to build test archives.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { inflateSync } from 'fflate';
import { WeightscopeError } from '../errors.js';
import { readAt, writeAll } from './fileio.js';

export interface ZipEntry {
  readonly name: string;
  readonly method: number; // 0 stored, 8 deflated
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
/** Central directories and inflated entries beyond this are refused (data.pkl of a 7B model is a few MB). */
const MAX_CENTRAL_DIR = 256 * 1024 * 1024;
const MAX_INFLATED = 512 * 1024 * 1024;
/**
 * A checkpoint's pickle (data.pkl) is refused past this, before it is inflated: a 70B model's is well under 1 MB,
 * while a 0.5 MB deflated bomb would otherwise inflate to 512 MiB and feed the unpickler as much.
 */
export const MAX_PICKLE_BYTES = 64 * 1024 * 1024;

let crcTable: Uint32Array | undefined;
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u64(dv: DataView, at: number, path: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(path, 'zip64 field out of range');
  return Number(v);
}

function corrupt(path: string, msg: string): WeightscopeError {
  return new WeightscopeError('corrupt-file', `${path}: ${msg}`, { path });
}

export class ZipArchive {
  readonly path: string;
  readonly entries: ReadonlyMap<string, ZipEntry>;
  readonly #fh: FileHandle;
  readonly #size: number;
  readonly #dataOffsets = new Map<string, number>();

  private constructor(path: string, fh: FileHandle, size: number, entries: Map<string, ZipEntry>) {
    this.path = path;
    this.#fh = fh;
    this.#size = size;
    this.entries = entries;
  }

  static async open(path: string): Promise<ZipArchive> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const entries = await readCentralDirectory(path, fh, size);
      return new ZipArchive(path, fh, size, entries);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw corrupt(this.path, `archive has no entry "${name}"`);
    return e;
  }

  /** Absolute file position of an entry's data (from its local header, whose extra field may differ). */
  async dataOffset(name: string): Promise<number> {
    const cached = this.#dataOffsets.get(name);
    if (cached !== undefined) return cached;
    const e = this.entry(name);
    if (e.localHeaderOffset + 30 > this.#size) throw corrupt(this.path, `local header of "${name}" is past the end`);
    const h = await readAt(this.#fh, e.localHeaderOffset, 30, this.path);
    const dv = new DataView(h.buffer);
    if (dv.getUint32(0, true) !== SIG_LOCAL) throw corrupt(this.path, `bad local header signature for "${name}"`);
    const start = e.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
    if (start + e.compressedSize > this.#size) {
      throw corrupt(this.path, `data of "${name}" runs past the end of the file (truncated?)`);
    }
    this.#dataOffsets.set(name, start);
    return start;
  }

  /** Bytes [offset, offset+length) of a STORED entry, without reading the rest. */
  async readRange(name: string, offset: number, length: number): Promise<Uint8Array> {
    const e = this.entry(name);
    if (e.method !== 0) throw corrupt(this.path, `entry "${name}" is compressed; ranged reads need STORED entries`);
    if (offset < 0 || length < 0 || offset + length > e.size) {
      throw corrupt(this.path, `entry "${name}" has ${e.size} bytes; bytes ${offset}..${offset + length} requested`);
    }
    return readAt(this.#fh, (await this.dataOffset(name)) + offset, length, `${this.path}: ${name}`);
  }

  /** A whole entry, inflated if needed and checked against its CRC-32; `maxBytes` caps its (declared) size. */
  async read(name: string, maxBytes = MAX_INFLATED): Promise<Uint8Array> {
    const e = this.entry(name);
    if (e.size > maxBytes) {
      throw new WeightscopeError(
        'too-large',
        `${this.path}: entry "${name}" inflates to ${e.size} bytes, over the ${maxBytes}-byte limit`,
        { path: this.path, limit: maxBytes },
      );
    }
    const raw = await readAt(this.#fh, await this.dataOffset(name), e.compressedSize, `${this.path}: ${name}`);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (err) {
        throw corrupt(this.path, `entry "${name}" does not inflate (${(err as Error).message})`);
      }
    } else throw corrupt(this.path, `entry "${name}" uses unsupported compression method ${e.method}`);
    if (data.byteLength !== e.size || crc32(data) !== e.crc32) {
      throw corrupt(this.path, `entry "${name}" fails its size/CRC-32 check`);
    }
    return data;
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}

async function readCentralDirectory(path: string, fh: FileHandle, size: number): Promise<Map<string, ZipEntry>> {
  if (size < 22) throw corrupt(path, 'too short to be a zip archive');
  const tailLen = Math.min(size, 22 + 65535);
  const tailStart = size - tailLen;
  const tail = await readAt(fh, tailStart, tailLen, path);
  const tdv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tdv.getUint32(i, true) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt(path, 'no zip end-of-central-directory record (not a zip, or truncated)');
  let count = tdv.getUint16(eocd + 10, true);
  let cdSize = tdv.getUint32(eocd + 12, true);
  let cdOffset = tdv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locAbs = tailStart + eocd - 20;
    if (locAbs < 0) throw corrupt(path, 'zip64 locator missing');
    const loc = new DataView((await readAt(fh, locAbs, 20, path)).buffer);
    if (loc.getUint32(0, true) !== SIG_ZIP64_LOCATOR) throw corrupt(path, 'zip64 locator missing');
    const z64At = u64(loc, 8, path);
    if (z64At + 56 > size) throw corrupt(path, 'zip64 end record past the end of the file');
    const z = new DataView((await readAt(fh, z64At, 56, path)).buffer);
    if (z.getUint32(0, true) !== SIG_ZIP64_EOCD) throw corrupt(path, 'bad zip64 end record signature');
    count = u64(z, 32, path);
    cdSize = u64(z, 40, path);
    cdOffset = u64(z, 48, path);
  }
  if (cdSize > MAX_CENTRAL_DIR || cdOffset + cdSize > size) {
    throw corrupt(path, `central directory (${cdSize} bytes at ${cdOffset}) lies outside the file`);
  }
  const cd = await readAt(fh, cdOffset, cdSize, path);
  const dv = new DataView(cd.buffer);
  const entries = new Map<string, ZipEntry>();
  const dec = new TextDecoder();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || dv.getUint32(p, true) !== SIG_CENTRAL) throw corrupt(path, `bad central directory entry ${i}`);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let csize = dv.getUint32(p + 20, true);
    let usize = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) throw corrupt(path, `central directory entry ${i} runs past its end`);
    const name = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: present fields are those whose 32-bit value is saturated, in this order.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = dv.getUint16(x, true);
      const len = dv.getUint16(x + 2, true);
      if (x + 4 + len > xEnd) throw corrupt(path, `bad extra field in entry "${name}"`);
      if (id === 0x0001) {
        let q = x + 4;
        const take = (): number => {
          if (q + 8 > x + 4 + len) throw corrupt(path, `short zip64 extra field in entry "${name}"`);
          const v = u64(dv, q, path);
          q += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take();
        if (csize === 0xffffffff) csize = take();
        if (local === 0xffffffff) local = take();
      }
      x += 4 + len;
    }
    if (entries.has(name)) throw corrupt(path, `duplicate zip entry "${name}"`);
    if (local + csize > size) throw corrupt(path, `entry "${name}" lies outside the file (truncated?)`);
    entries.set(name, { name, method, crc32: crc, compressedSize: csize, size: usize, localHeaderOffset: local });
    p = end;
  }
  return entries;
}

/** Write a STORED (uncompressed) zip; no zip64, so for small test archives only. */
export async function writeZipStored(path: string, files: readonly { name: string; data: Uint8Array }[]): Promise<void> {
  const enc = new TextEncoder();
  const fh = await open(path, 'w');
  try {
    const central: Uint8Array[] = [];
    let offset = 0;
    for (const f of files) {
      const name = enc.encode(f.name);
      const crc = crc32(f.data);
      const lh = new Uint8Array(30 + name.length);
      const l = new DataView(lh.buffer);
      l.setUint32(0, SIG_LOCAL, true);
      l.setUint16(4, 20, true);
      l.setUint32(14, crc, true);
      l.setUint32(18, f.data.length, true);
      l.setUint32(22, f.data.length, true);
      l.setUint16(26, name.length, true);
      lh.set(name, 30);
      const ch = new Uint8Array(46 + name.length);
      const c = new DataView(ch.buffer);
      c.setUint32(0, SIG_CENTRAL, true);
      c.setUint16(4, 20, true);
      c.setUint16(6, 20, true);
      c.setUint32(16, crc, true);
      c.setUint32(20, f.data.length, true);
      c.setUint32(24, f.data.length, true);
      c.setUint16(28, name.length, true);
      c.setUint32(42, offset, true);
      ch.set(name, 46);
      central.push(ch);
      await writeAll(fh, lh);
      await writeAll(fh, f.data);
      offset += lh.length + f.data.length;
    }
    let cdSize = 0;
    for (const ch of central) {
      await writeAll(fh, ch);
      cdSize += ch.length;
    }
    const eocd = new Uint8Array(22);
    const e = new DataView(eocd.buffer);
    e.setUint32(0, SIG_EOCD, true);
    e.setUint16(8, files.length, true);
    e.setUint16(10, files.length, true);
    e.setUint32(12, cdSize, true);
    e.setUint32(16, offset, true);
    await writeAll(fh, eocd);
  } finally {
    await fh.close();
  }
}
