import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float64ToBF16Bits, float64ToF16Bits, fromFloat64, toFloat64, widenInto } from '../../src/io/dtype.js';
import { WeightscopeError } from '../../src/errors.js';

const u16 = (...bits: number[]): Uint8Array => new Uint8Array(Uint16Array.from(bits).buffer);

test('F16 decoding: normals, subnormals, signed zero, inf, nan', () => {
  const v = toFloat64('F16', u16(0x3c00, 0x0001, 0x03ff, 0x7bff, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xc000));
  assert.deepEqual([...v.slice(0, 4)], [1, 2 ** -24, 1023 * 2 ** -24, 65504]);
  assert.ok(Object.is(v[4], -0));
  assert.equal(v[5], Infinity);
  assert.equal(v[6], -Infinity);
  assert.ok(Number.isNaN(v[7]));
  assert.equal(v[8], -2);
});

test('BF16 decoding incl. subnormal', () => {
  const v = toFloat64('BF16', u16(0x3f80, 0x0001, 0x7f80, 0xc0a0));
  assert.deepEqual([...v], [1, 2 ** -133, Infinity, -5]);
});

test('every F16 and BF16 bit pattern survives bits → float64 → bits', () => {
  for (let h = 0; h < 65536; h++) {
    const f = toFloat64('F16', u16(h))[0];
    if (!Number.isNaN(f)) assert.equal(float64ToF16Bits(f), h, `f16 0x${h.toString(16)}`);
    const b = toFloat64('BF16', u16(h))[0];
    if (!Number.isNaN(b)) assert.equal(float64ToBF16Bits(b), h, `bf16 0x${h.toString(16)}`);
  }
});

test('F16/BF16 rounding is nearest-even, directly from float64', () => {
  assert.equal(float64ToF16Bits(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(float64ToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.equal(float64ToF16Bits(65519.99), 0x7bff);
  assert.equal(float64ToF16Bits(65520), 0x7c00); // tie with 2^16 → inf
  assert.equal(float64ToF16Bits(2 ** -25), 0x0000); // half a subnormal unit → 0
  assert.equal(float64ToF16Bits(3 * 2 ** -25), 0x0002);
  assert.equal(float64ToF16Bits(-0), 0x8000);
  assert.equal(float64ToF16Bits(NaN) & 0x7c00, 0x7c00);
  // Above a bf16 tie by 2^-40: float32 would round first to the tie and then to even (1.0); direct gives 1+2^-7.
  assert.equal(float64ToBF16Bits(1 + 2 ** -8 + 2 ** -40), 0x3f81);
  assert.equal(float64ToBF16Bits(1 + 2 ** -8), 0x3f80);
});

test('unaligned F32/F64 views decode correctly', () => {
  const buf = new Uint8Array(1 + 16);
  new DataView(buf.buffer).setFloat64(1, Math.PI, true);
  new DataView(buf.buffer).setFloat32(9, -1.5, true);
  assert.equal(toFloat64('F64', buf.subarray(1, 9))[0], Math.PI);
  assert.equal(toFloat64('F32', buf.subarray(9, 13))[0], -1.5);
});

test('integers convert to float64 and back; FP8 (E4M3FN, E5M2) widens exactly', () => {
  const vals = Float64Array.from([-5, 0, 7, 2 ** 40]);
  assert.deepEqual([...toFloat64('I64', fromFloat64('I64', vals))], [...vals]);
  assert.deepEqual([...toFloat64('U8', Uint8Array.from([0, 255]))], [0, 255]);
  assert.deepEqual([...toFloat64('BOOL', Uint8Array.from([0, 3]))], [0, 1]);
  assert.deepEqual([...toFloat64('I16', fromFloat64('I16', Float64Array.from([-300, 300])))], [-300, 300]);
  assert.deepEqual(Array.from(toFloat64('F8_E4M3', Uint8Array.of(0x38, 0xfe, 0x7f, 0x01))), [1, -448, NaN, 2 ** -9]);
  assert.deepEqual(Array.from(toFloat64('F8_E5M2', Uint8Array.of(0x3c, 0x7c, 0xfb, 0x01))), [1, Infinity, -57344, 2 ** -16]);
  assert.throws(
    () => toFloat64('F32', new Uint8Array(3)),
    (e: unknown) => e instanceof WeightscopeError && e.code === 'corrupt-file',
  );
});

test('widenInto: any element range, aligned or not, equals toFloat64 of the same bytes', () => {
  const dtypes = ['BF16', 'F16', 'F32', 'F64', 'F8_E4M3', 'F8_E5M2', 'I32'] as const;
  let seed = 3;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed >>> 0;
  };
  for (const dtype of dtypes) {
    const size = { BF16: 2, F16: 2, F32: 4, F64: 8, F8_E4M3: 1, F8_E5M2: 1, I32: 4 }[dtype];
    const n = 257;
    const raw = new Uint8Array(n * size + 1);
    for (let i = 0; i < raw.length; i++) raw[i] = rnd() & 0xff;
    for (const shift of [0, 1]) {
      const bytes = raw.subarray(shift, shift + n * size);
      const all = toFloat64(dtype, bytes);
      for (const [from, count] of [
        [0, n],
        [3, 100],
        [n - 1, 1],
        [10, 0],
      ]) {
        const dst = new Float64Array(count + 2).fill(7);
        widenInto(dtype, bytes, from, count, dst, 1);
        for (let i = 0; i < count; i++) assert.ok(Object.is(dst[1 + i], all[from + i]), `${dtype} shift ${shift} [${from + i}]`);
        assert.equal(dst[0], 7);
        assert.equal(dst[count + 1], 7);
      }
    }
  }
  assert.throws(
    () => widenInto('BF16', new Uint8Array(4), 1, 2, new Float64Array(2), 0),
    (e: unknown) => e instanceof WeightscopeError && e.code === 'corrupt-file',
  );
});
