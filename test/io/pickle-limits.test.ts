/**
 * Issue 16 finding 1: the pickle VM and the zip reader bound the work a hostile checkpoint can ask for — LONG1/LONG4
 * and text LONG lengths, container sizes, total elements, MARK nesting, and the inflated size of data.pkl — and
 * refuse past each bound with a clear error instead of burning CPU or heap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { PyDict, unpickle, UNPICKLE_LIMITS, type UnpickleOptions } from '../../src/io/unpickle.js';
import { openPytorch } from '../../src/io/pytorch.js';
import { MAX_PICKLE_BYTES } from '../../src/io/zip.js';
import { isCode } from '../helpers/errors.js';
import { PickleBuilder } from '../helpers/pickle.js';

const plain: UnpickleOptions = { globals: new Map([['collections.OrderedDict', () => new PyDict()]]) };
const le32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];

test('LONG4 longer than the cap is refused at once (a 160 KB LONG4 used to block for seconds)', () => {
  const n = 160_000;
  const b = new Uint8Array(2 + 5 + n + 1);
  b.set([0x80, 2, 0x8b, ...le32(n)]);
  b.fill(0x55, 7, 7 + n);
  b[b.length - 1] = 0x2e;
  const t0 = performance.now();
  assert.throws(() => unpickle(b, plain), isCode('corrupt-file', new RegExp(`LONG4 of ${n} bytes.*${UNPICKLE_LIMITS.longBytes}`)));
  assert.ok(performance.now() - t0 < 500, 'refused before decoding');
  // At the cap it decodes (little-endian two's complement), in linear time.
  const atCap = new Uint8Array(2 + 5 + UNPICKLE_LIMITS.longBytes + 1);
  atCap.set([0x80, 2, 0x8b, ...le32(UNPICKLE_LIMITS.longBytes)]);
  atCap[7] = 5;
  atCap[atCap.length - 1] = 0x2e;
  assert.equal(unpickle(atCap, plain), 5);
  const minus2 = new PickleBuilder()
    .proto(2)
    .op(0x8b, ...le32(3), 0xfe, 0xff, 0xff)
    .stop()
    .bytes();
  assert.equal(unpickle(minus2, plain), -2);
});

test('a text LONG or INT longer than the cap is refused', () => {
  const digits = '9'.repeat(UNPICKLE_LIMITS.longBytes * 3);
  const b = new PickleBuilder().proto(2).op(0x4c).text(`${digits}L\n`).stop().bytes();
  assert.throws(() => unpickle(b, plain), isCode('corrupt-file', /LONG of \d+ characters/));
});

test('a list growing past the element cap is refused, with the cap named', () => {
  const max = 1000;
  const pb = new PickleBuilder().proto(2).op(0x5d).mark();
  for (let i = 0; i < max + 1; i++) pb.op(0x4b, i & 0xff);
  const b = pb.op(0x65).stop().bytes();
  assert.throws(() => unpickle(b, { ...plain, maxElements: max }), isCode('too-large', /more than 1000 container elements/));
  // Appending one by one counts the same.
  const one = new PickleBuilder().proto(2).op(0x5d);
  for (let i = 0; i < max + 1; i++) one.op(0x4b, 1, 0x61);
  assert.throws(() => unpickle(one.stop().bytes(), { ...plain, maxElements: max }), isCode('too-large', /container elements/));
  // Dict items and tuples count too.
  const d = new PickleBuilder().proto(2).op(0x7d).mark();
  for (let i = 0; i < max; i++) d.int(i).int(i);
  assert.throws(() => unpickle(d.op(0x75).stop().bytes(), { ...plain, maxElements: max }), isCode('too-large', /container elements/));
});

test('MARK nesting deeper than the cap is refused', () => {
  const pb = new PickleBuilder().proto(2);
  for (let i = 0; i < UNPICKLE_LIMITS.depth + 1; i++) pb.mark();
  assert.throws(
    () => unpickle(pb.stop().bytes(), plain),
    isCode('corrupt-file', new RegExp(`nesting deeper than ${UNPICKLE_LIMITS.depth}`)),
  );
});

test('a torch.save zip whose data.pkl inflates past the cap is refused before inflating', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-pkl-'));
  try {
    // 0.5 MB of deflated zeros that would inflate to MAX_PICKLE_BYTES + 1 bytes.
    const big = new Uint8Array(MAX_PICKLE_BYTES + 1);
    const zip = zipSync({ 'archive/data.pkl': big, 'archive/version': new TextEncoder().encode('3\n') }, { level: 9 });
    assert.ok(zip.length < 1 << 20);
    const p = join(dir, 'bomb.pt');
    await writeFile(p, zip);
    await assert.rejects(openPytorch(p), isCode('too-large', /data\.pkl" inflates to \d+ bytes, over the \d+-byte limit/));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
