/**
 * A protobuf wire-format reader over a file, for scanning large messages without loading them: fields are read
 * through a 1 MiB window with positioned reads, and a length-delimited field can be skipped (or its position
 * remembered) without reading its bytes. Used to index ONNX files whose weights are inside the file.
 * Every length is checked against the enclosing message's end, so a corrupt or hostile file fails with
 * 'corrupt-file' instead of reading out of bounds.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { WeightscopeError } from '../errors.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const MAX_STRING_BYTES = 1 << 20;

/** A 64-bit varint as two 32-bit halves (protobufjs's Long shape), for int64 data that may exceed 2^53. */
export interface Long64 {
  low: number;
  high: number;
  unsigned: boolean;
}

export class ProtoFile {
  readonly path: string;
  readonly size: number;
  readonly #fd: number;
  #buf = Buffer.alloc(1 << 20);
  #bufStart = 0;
  #bufLen = 0;
  /** Current absolute position in the file. */
  pos = 0;

  private constructor(path: string, fd: number, size: number) {
    this.path = path;
    this.#fd = fd;
    this.size = size;
  }

  static open(path: string): ProtoFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new WeightscopeError('not-found', `cannot read ONNX file ${path}: ${(e as Error).message}`);
    }
    return new ProtoFile(path, fd, fstatSync(fd).size);
  }

  corrupt(msg: string): WeightscopeError {
    return new WeightscopeError('corrupt-file', `${this.path} is not a readable ONNX model (${msg} at byte ${this.pos})`);
  }

  /** Makes [pos, pos + n) available in the window (within `end`). */
  #ensure(n: number, end: number): void {
    if (this.pos + n > end) throw this.corrupt('a field runs past the end of its message');
    if (this.pos >= this.#bufStart && this.pos + n <= this.#bufStart + this.#bufLen) return;
    if (n > this.#buf.length) this.#buf = Buffer.alloc(n);
    const want = Math.min(this.#buf.length, this.size - this.pos);
    let got = 0;
    while (got < want) {
      const r = readSync(this.#fd, this.#buf, got, want - got, this.pos + got);
      if (r === 0) break;
      got += r;
    }
    this.#bufStart = this.pos;
    this.#bufLen = got;
    if (got < n) throw this.corrupt('the file ends inside a field');
  }

  byte(end: number): number {
    this.#ensure(1, end);
    return this.#buf[this.pos++ - this.#bufStart];
  }

  /** An unsigned varint that must fit in 2^53 (lengths, tags, dims, enums). */
  varint(end: number): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte(end);
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(v)) throw this.corrupt('an integer does not fit in 2^53');
        return v;
      }
      mul *= 128;
    }
    throw this.corrupt('a varint is longer than 10 bytes');
  }

  /** A varint as a 64-bit two's-complement value. */
  varint64(end: number, unsigned: boolean): Long64 {
    let low = 0;
    let high = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.byte(end);
      const bits = b & 0x7f;
      const shift = 7 * i;
      if (shift < 28) low |= bits << shift;
      else if (shift === 28) {
        low |= (bits & 0xf) << 28;
        high |= bits >>> 4;
      } else high |= bits << (shift - 32);
      if ((b & 0x80) === 0) return { low: low | 0, high: unsigned ? high >>> 0 : high | 0, unsigned };
    }
    throw this.corrupt('a varint is longer than 10 bytes');
  }

  /** A field's tag: [field number, wire type]; groups (3, 4) are refused. */
  tag(end: number): [number, number] {
    const t = this.varint(end);
    const wire = t % 8;
    const field = Math.floor(t / 8);
    if (field === 0 || wire === 3 || wire === 4 || wire === 6 || wire === 7)
      throw this.corrupt(`invalid wire type ${wire} for field ${field}`);
    return [field, wire];
  }

  /** The end position of the length-delimited field whose length comes next. */
  lengthEnd(end: number): number {
    const n = this.varint(end);
    const e = this.pos + n;
    if (e > end) throw this.corrupt('a field runs past the end of its message');
    return e;
  }

  bytes(n: number, end: number): Uint8Array {
    this.#ensure(n, end);
    const o = this.pos - this.#bufStart;
    this.pos += n;
    return new Uint8Array(this.#buf.subarray(o, o + n));
  }

  /** A string field (names, op types); longer than 1 MiB is not a name but a hostile or broken file. */
  string(end: number): string {
    const e = this.lengthEnd(end);
    if (e - this.pos > MAX_STRING_BYTES) throw this.corrupt(`a string of ${e - this.pos} bytes (over ${MAX_STRING_BYTES})`);
    return new TextDecoder().decode(this.bytes(e - this.pos, e));
  }

  fixed32(end: number): number {
    const b = this.bytes(4, end);
    return new DataView(b.buffer).getFloat32(0, true);
  }

  fixed64(end: number): number {
    const b = this.bytes(8, end);
    return new DataView(b.buffer).getFloat64(0, true);
  }

  /** Skips the value of a field of this wire type. */
  skip(wire: number, end: number): void {
    if (wire === WIRE_VARINT) this.varint64(end, true);
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_I32) this.pos += 4;
    else if (wire === WIRE_LEN) this.pos = this.lengthEnd(end);
    if (this.pos > end) throw this.corrupt('a field runs past the end of its message');
  }

  /** Reads `length` bytes at absolute `offset` (outside the window, for tensor data). */
  readAt(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const r = readSync(this.#fd, out, got, length - got, offset + got);
      if (r === 0)
        throw new WeightscopeError('corrupt-file', `${this.path}: file ends after ${got} of ${length} bytes at ${offset} (truncated)`);
      got += r;
    }
    return out;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
