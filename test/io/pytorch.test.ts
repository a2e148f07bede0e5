import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEGACY_MESSAGE, openPytorch } from '../../src/io/pytorch.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { writeZipStored } from '../../src/io/zip.js';
import { isCode } from '../helpers/errors.js';
import type { TensorReader } from '../../src/io/types.js';
import { fixture } from '../helpers/fixtures.js';
import { PickleBuilder } from '../helpers/pickle.js';

const dir = await mkdtemp(join(tmpdir(), 'ws-pt-'));
test.after(() => rm(dir, { recursive: true, force: true }));

const f32 = (...v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);

async function assertSameTensors(a: TensorReader, b: TensorReader): Promise<void> {
  const byName = new Map(b.tensors.map((t) => [t.name, t]));
  assert.deepEqual(new Set(a.tensors.map((t) => t.name)), new Set(byName.keys()));
  for (const t of a.tensors) {
    assert.deepEqual(t, byName.get(t.name));
    assert.deepEqual(await a.readBytes(t.name), await b.readBytes(t.name), t.name); // bit-exact
  }
}

test('gpt2-tiny pytorch_model.bin equals model.safetensors tensor by tensor', async () => {
  const pt = await openPytorch(fixture('gpt2-tiny', 'pytorch_model.bin'));
  const st = await openSafetensors(fixture('gpt2-tiny', 'model.safetensors'));
  assert.equal(pt.format, 'pytorch');
  assert.equal(pt.tensors.length, 52);
  assert.equal(pt.tensors[0].name, 'transformer.wte.weight'); // file (state-dict) order
  await assertSameTensors(pt, st);
  const w = await pt.readFloat64('transformer.h.0.attn.c_attn.weight');
  assert.deepEqual(w, await st.readFloat64('transformer.h.0.attn.c_attn.weight'));
  await pt.close();
  await st.close();
});

test('fmnist-backdoor model_a.pt equals model_a.safetensors', async () => {
  const pt = await openPytorch(fixture('fmnist-backdoor', 'model_a.pt'));
  const st = await openSafetensors(fixture('fmnist-backdoor', 'model_a.safetensors'));
  assert.equal(pt.tensors.length, 8);
  await assertSameTensors(pt, st);
  await pt.close();
  await st.close();
});

test('strided (transposed) views are gathered; storages shared; nested dicts flattened', async () => {
  // storage 0 = [0..5] as a 2×3 matrix; 'wt' is its transpose (stride (1,3)); 'row1' is row 1 (offset 3).
  const pkl = new PickleBuilder()
    .proto(2)
    .emptyDict()
    .mark()
    .str('model')
    .beginDict()
    .str('w')
    .tensor('0', 'FloatStorage', 6, 0, [2, 3], [3, 1])
    .str('wt')
    .tensor('0', 'FloatStorage', 6, 0, [3, 2], [1, 3])
    .str('row1')
    .tensor('0', 'FloatStorage', 6, 3, [3], [1])
    .str('col2')
    .tensor('0', 'FloatStorage', 6, 2, [2, 1], [3, 1])
    .endDict()
    .str('epoch')
    .int(3)
    .setitems()
    .stop()
    .bytes();
  const p = join(dir, 'nested.pt');
  await writeZipStored(p, [
    { name: 'nested/data.pkl', data: pkl },
    { name: 'nested/data/0', data: f32(0, 1, 2, 3, 4, 5) },
  ]);
  const r = await openPytorch(p);
  assert.deepEqual(
    r.tensors.map((t) => t.name),
    ['model.w', 'model.wt', 'model.row1', 'model.col2'],
  );
  assert.deepEqual([...(await r.readFloat64('model.w'))], [0, 1, 2, 3, 4, 5]);
  assert.deepEqual([...(await r.readFloat64('model.wt'))], [0, 3, 1, 4, 2, 5]);
  assert.deepEqual([...(await r.readFloat64('model.row1'))], [3, 4, 5]);
  assert.deepEqual([...(await r.readFloat64('model.col2'))], [2, 5]);
  assert.deepEqual(r.tensors[1].shape, [3, 2]);
  await r.close();
});

test('a "__proto__" tensor name is data', async () => {
  const pkl = new PickleBuilder()
    .proto(2)
    .beginDict()
    .str('__proto__')
    .tensor('0', 'DoubleStorage', 2, 0, [2], [1])
    .endDict()
    .stop()
    .bytes();
  const p = join(dir, 'proto.pt');
  await writeZipStored(p, [
    { name: 'a/data.pkl', data: pkl },
    { name: 'a/data/0', data: new Uint8Array(Float64Array.of(1.5, -2).buffer) },
  ]);
  const r = await openPytorch(p);
  assert.deepEqual(r.tensors, [{ name: '__proto__', dtype: 'F64', shape: [2] }]);
  assert.deepEqual([...(await r.readFloat64('__proto__'))], [1.5, -2]);
  assert.equal(({} as Record<string, unknown>).dtype, undefined);
  await r.close();
});

test('bad input: zip missing a storage file', async () => {
  const pkl = new PickleBuilder()
    .proto(2)
    .beginDict()
    .str('a')
    .tensor('0', 'FloatStorage', 2, 0, [2], [1])
    .str('b')
    .tensor('1', 'FloatStorage', 2, 0, [2], [1])
    .endDict()
    .stop()
    .bytes();
  const p = join(dir, 'missing.pt');
  await writeZipStored(p, [
    { name: 'm/data.pkl', data: pkl },
    { name: 'm/data/0', data: f32(1, 2) },
  ]);
  await assert.rejects(openPytorch(p), isCode('corrupt-file', /"m\/data\/1".*"b"/));
  // A storage too small for the tensor's view is caught at open too.
  const small = new PickleBuilder().proto(2).beginDict().str('a').tensor('0', 'FloatStorage', 2, 1, [2], [1]).endDict().stop().bytes();
  await writeZipStored(p, [
    { name: 'm/data.pkl', data: small },
    { name: 'm/data/0', data: f32(1, 2) },
  ]);
  await assert.rejects(openPytorch(p), isCode('corrupt-file', /reaches element 2/));
});

test('bad input: a torch zip whose data.pkl calls os.system', async () => {
  const pkl = new PickleBuilder().proto(2).global('os', 'system').str('true').op(0x85).reduce().stop().bytes();
  const p = join(dir, 'evil.pt');
  await writeZipStored(p, [{ name: 'e/data.pkl', data: pkl }]);
  await assert.rejects(openPytorch(p), isCode('unsafe-pickle', /os\.system/));
});

test('bad input: legacy (pre-1.6) format is refused with the re-save hint', async () => {
  const p = join(dir, 'legacy.pt');
  // protocol-2 pickle of torch's legacy magic number 0x1950a86a20f9469cfc6c, as torch<1.6 wrote first.
  await writeFile(p, Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e));
  await assert.rejects(openPytorch(p), isCode('unsupported-format', /re-save with torch>=1\.6/));
  assert.match(LEGACY_MESSAGE, /_use_new_zipfile_serialization=True/);
  await writeFile(p, 'hello world');
  await assert.rejects(openPytorch(p), isCode('unsupported-format', /not a PyTorch checkpoint/));
  await assert.rejects(openPytorch(join(dir, 'absent.pt')), isCode('not-found'));
});
