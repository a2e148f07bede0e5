/**
 * Element sizes and exact conversions between stored little-endian bytes and float64.
 * Upcasts are exact (every F16/BF16/F32 value is a float64 value); downcasts round to nearest, ties to even,
 * directly from float64 (no detour through float32, which would round twice).
 */
import { WeightscopeError } from '../errors.js';
import type { DType } from './types.js';

export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  U16: 2,
  U32: 4,
  U64: 8,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

const KNOWN = new Set<string>(Object.keys(DTYPE_SIZE));

export function isDType(s: string): s is DType {
  return KNOWN.has(s);
}

export function dtypeSize(dtype: DType): number {
  return DTYPE_SIZE[dtype];
}

/** F16 bits → float64, built once (65536 entries, 512 KiB) so conversion is one lookup per element. */
let f16Table: Float64Array | undefined;
function halfTable(): Float64Array {
  if (f16Table) return f16Table;
  const t = new Float64Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    if (exp === 0) t[h] = sign * man * 2 ** -24;
    else if (exp === 31) t[h] = man === 0 ? sign * Infinity : NaN;
    else t[h] = sign * (1 + man / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

function checkLength(dtype: DType, bytes: Uint8Array): number {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new WeightscopeError('corrupt-file', `${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  return bytes.byteLength / size;
}

/**
 * FP8 bits → float64 (256 entries each). E4M3FN (OCP FP8, as safetensors/ONNX store it): bias 7, no infinities,
 * S.1111.111 is NaN, largest finite ±448. E5M2: IEEE-like with bias 15, infinities and NaNs.
 */
const FP8_TABLES: Record<'F8_E4M3' | 'F8_E5M2', Float64Array> = (() => {
  const e4 = new Float64Array(256);
  const e5 = new Float64Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    {
      const exp = (b >> 3) & 0xf;
      const man = b & 7;
      if (exp === 15 && man === 7) e4[b] = NaN;
      else if (exp === 0) e4[b] = sign * man * 2 ** -9;
      else e4[b] = sign * (1 + man / 8) * 2 ** (exp - 7);
    }
    {
      const exp = (b >> 2) & 0x1f;
      const man = b & 3;
      if (exp === 31) e5[b] = man === 0 ? sign * Infinity : NaN;
      else if (exp === 0) e5[b] = sign * man * 2 ** -16;
      else e5[b] = sign * (1 + man / 4) * 2 ** (exp - 15);
    }
  }
  return { F8_E4M3: e4, F8_E5M2: e5 };
})();

/** Dtypes whose values widen exactly to float64 and can be weights: the float types and FP8. */
export function isWideningFloat(dtype: DType): boolean {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F8_E4M3' || dtype === 'F8_E5M2';
}

/**
 * Widen `count` elements of `dtype` starting at element `from` of the little-endian bytes `src` into
 * `dst[at..at+count)`, exactly (every F16/BF16/F32/FP8 value is a float64 value). The hot path of analysing a
 * BF16 LLM: BF16 goes through a float32 staging view (shift the bits up, let the typed-array copy widen),
 * F16 and FP8 through lookup tables.
 */
export function widenInto(dtype: DType, src: Uint8Array, from: number, count: number, dst: Float64Array, at: number): void {
  const size = DTYPE_SIZE[dtype];
  const byte0 = src.byteOffset + from * size;
  if (src.byteLength < (from + count) * size) {
    throw new WeightscopeError('corrupt-file', `${src.byteLength} bytes hold fewer than ${from + count} ${dtype} elements`);
  }
  switch (dtype) {
    case 'BF16': {
      const stage = stagingU32(count);
      if (byte0 % 2 === 0) {
        const u16 = new Uint16Array(src.buffer, byte0, count);
        for (let i = 0; i < count; i++) stage[i] = u16[i] << 16;
      } else {
        const o = from * 2;
        for (let i = 0; i < count; i++) stage[i] = (src[o + 2 * i] << 16) | (src[o + 2 * i + 1] << 24);
      }
      dst.set(new Float32Array(stage.buffer, 0, count), at);
      return;
    }
    case 'F16': {
      const t = halfTable();
      if (byte0 % 2 === 0) {
        const u16 = new Uint16Array(src.buffer, byte0, count);
        for (let i = 0; i < count; i++) dst[at + i] = t[u16[i]];
      } else {
        const o = from * 2;
        for (let i = 0; i < count; i++) dst[at + i] = t[src[o + 2 * i] | (src[o + 2 * i + 1] << 8)];
      }
      return;
    }
    case 'F32':
      if (byte0 % 4 === 0) dst.set(new Float32Array(src.buffer, byte0, count), at);
      else dst.set(toFloat64(dtype, src.subarray(from * 4, (from + count) * 4)), at);
      return;
    case 'F64':
      if (byte0 % 8 === 0) dst.set(new Float64Array(src.buffer, byte0, count), at);
      else dst.set(toFloat64(dtype, src.subarray(from * 8, (from + count) * 8)), at);
      return;
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const t = FP8_TABLES[dtype];
      for (let i = 0; i < count; i++) dst[at + i] = t[src[from + i]];
      return;
    }
    default:
      dst.set(toFloat64(dtype, src.subarray(from * size, (from + count) * size)), at);
  }
}

/** A reusable float32-sized staging buffer for widenInto (grown on demand, per thread). */
let staging = new Uint32Array(0);
function stagingU32(n: number): Uint32Array {
  if (staging.length < n) staging = new Uint32Array(Math.max(n, 2 * staging.length));
  return staging;
}

/**
 * Stored bytes → float64. Exact for float dtypes (FP8 included) and for integers up to 2^53 (larger I64/U64
 * values round). BOOL gives 0/1.
 */
export function toFloat64(dtype: DType, bytes: Uint8Array): Float64Array {
  const n = checkLength(dtype, bytes);
  const out = new Float64Array(n);
  const aligned = bytes.byteOffset % DTYPE_SIZE[dtype] === 0;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F64':
      if (aligned) out.set(new Float64Array(bytes.buffer, bytes.byteOffset, n));
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case 'F32':
      if (aligned) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case 'F16': {
      const t = halfTable();
      for (let i = 0; i < n; i++) out[i] = t[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
      return out;
    }
    case 'BF16': {
      // bf16 is the top half of a float32: shift the bits up and reinterpret.
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < n; i++) {
        u[0] = (bytes[2 * i] << 16) | (bytes[2 * i + 1] << 24);
        out[i] = f[0];
      }
      return out;
    }
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      return out;
    case 'U64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigUint64(i * 8, true));
      return out;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      return out;
    case 'U32':
      for (let i = 0; i < n; i++) out[i] = dv.getUint32(i * 4, true);
      return out;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      return out;
    case 'U16':
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true);
      return out;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      return out;
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = bytes[i];
      return out;
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0 ? 1 : 0;
      return out;
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const t = FP8_TABLES[dtype];
      for (let i = 0; i < n; i++) out[i] = t[bytes[i]];
      return out;
    }
  }
}

/** Round a non-negative real to an integer, ties to even. */
function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5 || (d === 0.5 && f % 2 === 1)) return f + 1;
  return f;
}

/** Exact floor(log2(a)) for a finite positive double. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/** float64 → bits of a binary float with `man` mantissa bits and `expBits` exponent bits, nearest-even. */
function roundToBits(x: number, man: number, expBits: number): number {
  const bias = (1 << (expBits - 1)) - 1;
  const expMask = (1 << expBits) - 1;
  const signBit = 1 << (man + expBits);
  if (Number.isNaN(x)) return (expMask << man) | (1 << (man - 1));
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  const inf = sign | (expMask << man);
  if (a === Infinity) return inf;
  const minNormalExp = 1 - bias;
  if (a < 2 ** minNormalExp) {
    // Subnormal: units of 2^(minNormalExp - man); a result of 2^man is the smallest normal, encoded the same way.
    return sign | roundHalfEven(a / 2 ** (minNormalExp - man));
  }
  let e = exponentOf(a);
  let r = roundHalfEven((a / 2 ** e - 1) * 2 ** man);
  if (r === 2 ** man) {
    e++;
    r = 0;
  }
  if (e > bias) return inf;
  return sign | ((e + bias) << man) | r;
}

export function float64ToF16Bits(x: number): number {
  return roundToBits(x, 10, 5);
}

export function float64ToBF16Bits(x: number): number {
  return roundToBits(x, 7, 8);
}

/** float64 → stored little-endian bytes of `dtype` (floats round to nearest-even; integers must be integral). */
export function fromFloat64(dtype: DType, values: Float64Array): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * DTYPE_SIZE[dtype]);
  const dv = new DataView(out.buffer);
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < n; i++) dv.setFloat64(i * 8, values[i], true);
      return out;
    case 'F32':
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, values[i], true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, float64ToF16Bits(values[i]), true);
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, float64ToBF16Bits(values[i]), true);
      return out;
    case 'F8_E4M3':
    case 'F8_E5M2':
      throw new WeightscopeError('unsupported-dtype', `cannot write dtype ${dtype}`, { dtype });
    default:
      break;
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(values[i])) {
      throw new WeightscopeError('invalid-input', `value ${values[i]} at ${i} is not an integer; cannot store as ${dtype}`);
    }
  }
  switch (dtype) {
    case 'I64':
      for (let i = 0; i < n; i++) dv.setBigInt64(i * 8, BigInt(values[i]), true);
      break;
    case 'U64':
      for (let i = 0; i < n; i++) dv.setBigUint64(i * 8, BigInt(values[i]), true);
      break;
    case 'I32':
      for (let i = 0; i < n; i++) dv.setInt32(i * 4, values[i], true);
      break;
    case 'U32':
      for (let i = 0; i < n; i++) dv.setUint32(i * 4, values[i], true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) dv.setInt16(i * 2, values[i], true);
      break;
    case 'U16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, values[i], true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) dv.setInt8(i, values[i]);
      break;
    case 'U8':
      for (let i = 0; i < n; i++) dv.setUint8(i, values[i]);
      break;
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = values[i] !== 0 ? 1 : 0;
      break;
  }
  return out;
}
