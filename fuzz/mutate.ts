/**
 * A seeded structure-aware mutator (the fuzz harness's own; @jazzer.js/core needs binaries from outside the npm
 * registry). Byte-level: bit flips, interesting values written as 8/16/32/64-bit little-endian integers (the
 * lengths, offsets and counts of every format here), inserted, deleted, duplicated and spliced ranges, truncation.
 * Text-level, for JSON (configs, shard indexes, the safetensors header): numbers replaced by extreme ones, strings by
 * hostile ones, brackets duplicated or dropped. Every mutation is a pure function of (input, rng), so a case is
 * reproduced from its seed and iteration.
 */
import type { Rng } from '../src/util/random.js';

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff];
const INTERESTING_32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];
const INTERESTING_64 = [0n, 1n, 0x7fffffffn, 0xffffffffn, 0x100000000n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n];
const JSON_NUMBERS = ['-1', '0', '1', '1e308', '-1e308', '9007199254740993', '4294967296', '1.5', 'NaN', '1e-400', '18446744073709551615'];
const JSON_STRINGS = [
  '""',
  '"../../etc/passwd"',
  '"/abs"',
  '"__proto__"',
  `"${'A'.repeat(5000)}"`,
  '"F64"',
  '"BF16"',
  '"I8"',
  '"\\u0000"',
  '"model.safetensors"',
];
const JSON_VALUES = ['null', 'true', '[]', '{}', '[[[[[[[[[[]]]]]]]]]]', '{"__proto__":{"x":1}}', ...JSON_NUMBERS, ...JSON_STRINGS];

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

function writeLE(out: Uint8Array, at: number, bytes: number, v: bigint): void {
  for (let i = 0; i < bytes && at + i < out.length; i++) out[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One byte-level mutation. */
function mutateBytes(b: Uint8Array, rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
  const n = b.length;
  const at = n ? rng.int(n) : 0;
  switch (rng.int(10)) {
    case 0: {
      // bit flip
      const o = b.slice();
      if (n) o[at] ^= 1 << rng.int(8);
      return o;
    }
    case 1: {
      // interesting byte
      const o = b.slice();
      if (n) o[at] = pick(rng, INTERESTING_8);
      return o;
    }
    case 2:
    case 3: {
      // interesting 16/32/64-bit little-endian value (lengths, offsets, counts)
      const o = b.slice();
      const width = pick(rng, [2, 4, 4, 8, 8]);
      const v = width === 8 ? pick(rng, INTERESTING_64) : BigInt(pick(rng, INTERESTING_32)) & ((1n << BigInt(8 * width)) - 1n);
      writeLE(o, at, width, v);
      return o;
    }
    case 4: {
      // delete a range
      const len = Math.min(n - at, 1 + rng.int(Math.max(1, Math.min(4096, n >> 3))));
      return concat(b.subarray(0, at), b.subarray(at + len));
    }
    case 5: {
      // insert random bytes
      const ins = new Uint8Array(1 + rng.int(64));
      for (let i = 0; i < ins.length; i++) ins[i] = rng.int(256);
      return concat(b.subarray(0, at), ins, b.subarray(at));
    }
    case 6: {
      // duplicate a range
      const len = Math.min(n - at, 1 + rng.int(256));
      return concat(b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len));
    }
    case 7: // truncate
      return b.slice(0, at);
    case 8: {
      // splice with another corpus entry
      const other = pick(rng, corpus);
      const from = other.length ? rng.int(other.length) : 0;
      return concat(b.subarray(0, at), other.subarray(from, from + 1 + rng.int(4096)));
    }
    default: {
      // overwrite a range with bytes from elsewhere in the input
      const o = b.slice();
      const len = Math.min(n - at, 1 + rng.int(64));
      const src = n ? rng.int(n) : 0;
      o.set(b.subarray(src, src + len).slice(0, Math.max(0, Math.min(len, n - at))), at);
      return o;
    }
  }
}

const TOKEN = /-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|"(?:[^"\\]|\\.)*"|[[\]{}]/g;

/** One text-level mutation of JSON: a number, string or bracket replaced, dropped or doubled. */
export function mutateJson(text: string, rng: Rng): string {
  const tokens = [...text.matchAll(TOKEN)];
  if (tokens.length === 0) return text + pick(rng, JSON_VALUES);
  const t = pick(rng, tokens);
  const at = t.index ?? 0;
  const end = at + t[0].length;
  const isNum = /^-?\d/.test(t[0]);
  const isStr = t[0].startsWith('"');
  let repl: string;
  switch (rng.int(4)) {
    case 0:
      repl = isNum ? pick(rng, JSON_NUMBERS) : isStr ? pick(rng, JSON_STRINGS) : '';
      break;
    case 1:
      repl = pick(rng, JSON_VALUES);
      break;
    case 2:
      repl = t[0] + t[0];
      break;
    default:
      repl = '';
      break;
  }
  return text.slice(0, at) + repl + text.slice(end);
}

/** Where a safetensors file keeps its JSON header: [8, 8 + n) when the length prefix is sane, else null. */
function safetensorsHeader(b: Uint8Array): { start: number; end: number } | null {
  if (b.length < 9) return null;
  const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  return n > 0 && 8 + n <= b.length && b[8] === 0x7b ? { start: 8, end: 8 + n } : null;
}

export interface MutateOptions {
  /** The input is JSON text (a config, a shard index). */
  json?: boolean;
}

/** 1–4 stacked mutations of `input`. */
export function mutate(input: Uint8Array, rng: Rng, corpus: readonly Uint8Array[], opts: MutateOptions = {}): Uint8Array {
  let out = input;
  const rounds = 1 + rng.int(4);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  for (let r = 0; r < rounds; r++) {
    if (opts.json && rng.int(4) !== 0) {
      out = enc.encode(mutateJson(dec.decode(out), rng));
      continue;
    }
    const header = safetensorsHeader(out);
    if (header && rng.int(3) === 0) {
      // Mutate the header as JSON, then fix the length prefix (usually) so the reader gets past it.
      const text = mutateJson(dec.decode(out.subarray(header.start, header.end)), rng);
      const h = enc.encode(text);
      const len = new Uint8Array(8);
      writeLE(len, 0, 8, BigInt(rng.int(8) === 0 ? h.length + rng.int(16) : h.length));
      out = concat(len, h, out.subarray(header.end));
      continue;
    }
    out = mutateBytes(out, rng, corpus);
  }
  return out;
}
