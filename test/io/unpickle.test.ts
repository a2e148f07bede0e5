import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PyDict, PyTuple, unpickle, type UnpickleOptions } from '../../src/io/unpickle.js';
import { isCode } from '../helpers/errors.js';
import { PickleBuilder } from '../helpers/pickle.js';

const dir = await mkdtemp(join(tmpdir(), 'ws-pk-'));
test.after(() => rm(dir, { recursive: true, force: true }));

const plain: UnpickleOptions = { globals: new Map([['collections.OrderedDict', () => new PyDict()]]) };

test('a pickle calling os.system is refused and nothing runs', () => {
  const marker = join(dir, 'pwned');
  const bytes = new PickleBuilder().proto(2).global('posix', 'system').str(`touch ${marker}`).op(0x85).reduce().stop().bytes();
  assert.throws(() => unpickle(bytes, plain), isCode('unsafe-pickle', /posix\.system/));
  assert.equal(existsSync(marker), false);
  // The same through STACK_GLOBAL (protocol 4) and INST.
  const sg = new PickleBuilder().proto(4).str('builtins').str('eval').op(0x93).str('1').op(0x85).reduce().stop().bytes();
  assert.throws(() => unpickle(sg, plain), isCode('unsafe-pickle', /builtins\.eval/));
  const inst = new PickleBuilder().proto(2).mark().str('x').op(0x69).text('os\nsystem\n').stop().bytes();
  assert.throws(() => unpickle(inst, plain), isCode('unsafe-pickle', /os\.system/));
});

test('a "__proto__" key is data, not a prototype', () => {
  const bytes = new PickleBuilder()
    .proto(2)
    .emptyDict()
    .str('__proto__')
    .emptyDict()
    .str('polluted')
    .str('yes')
    .setitem()
    .setitem()
    .str('constructor')
    .int(1)
    .setitem()
    .stop()
    .bytes();
  const d = unpickle(bytes, plain);
  assert.ok(d instanceof PyDict);
  assert.deepEqual([...d.map.keys()], ['__proto__', 'constructor']);
  const inner = d.map.get('__proto__');
  assert.ok(inner instanceof PyDict);
  assert.equal(inner.map.get('polluted'), 'yes');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false);
});

test('values: ints, longs, floats, tuples, lists, memo', () => {
  const b = new PickleBuilder()
    .proto(2)
    .mark()
    .op(0x4b, 200)
    .op(0x4d, 0x34, 0x12)
    .int(-7)
    .op(0x8a, 2, 0x00, 0x80) // LONG1 -32768
    .op(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1) // 2^64
    .op(0x47, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18) // BINFLOAT pi
    .op(0x88, 0x89, 0x4e)
    .op(0x8c, 2, 0x68, 0x69) // True False None 'hi'
    .op(0x5d)
    .op(0x71, 5)
    .int(3)
    .op(0x61) // [3] memo 5
    .op(0x68, 5) // same list
    .tuple()
    .stop()
    .bytes();
  const t = unpickle(b, plain);
  assert.ok(t instanceof PyTuple);
  assert.deepEqual(t.items.slice(0, 10), [200, 0x1234, -7, -32768, 2n ** 64n, Math.PI, true, false, null, 'hi']);
  assert.equal(t.items[10], t.items[11]);
  assert.deepEqual(t.items[10], [3]);
});

test('malformed pickles fail cleanly: truncation, bad opcode, stack bound, missing memo', () => {
  const ok = new PickleBuilder().proto(2).str('abc').stop().bytes();
  assert.equal(unpickle(ok, plain), 'abc');
  assert.throws(() => unpickle(ok.subarray(0, 6), plain), isCode('corrupt-file', /truncated/));
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0xff), plain), isCode('corrupt-file', /unknown opcode/));
  const deep = new PickleBuilder().proto(2);
  for (let i = 0; i < 200; i++) deep.op(0x4e);
  assert.throws(() => unpickle(deep.stop().bytes(), { ...plain, maxStack: 100 }), isCode('corrupt-file', /stack exceeds/));
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x68, 9, 0x2e), plain), isCode('corrupt-file', /memo key 9/));
  // A length field claiming 4 GB must not allocate it.
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x58, 0xff, 0xff, 0xff, 0xff), plain), isCode('corrupt-file', /truncated/));
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x82, 1, 0x2e), plain), isCode('unsafe-pickle'));
});
