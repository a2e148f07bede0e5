import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors, openSafetensorsIndex } from '../../src/io/safetensors.js';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import { fixture } from '../helpers/fixtures.js';
import { isCode } from '../helpers/errors.js';

const dir = await mkdtemp(join(tmpdir(), 'ws-st-'));
test.after(() => rm(dir, { recursive: true, force: true }));

/** A safetensors file from a raw header object and a data section. */
async function rawFile(name: string, header: unknown, data: Uint8Array, lenOverride?: bigint): Promise<string> {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, lenOverride ?? BigInt(h.length), true);
  const p = join(dir, name);
  await writeFile(p, Buffer.concat([len, h, data]));
  return p;
}

/** Independent float32 → float16 (integer bit manipulation, nearest-even). */
function f32ToF16(x: number): number {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    man |= 0x800000;
    const shift = 14 - e;
    const half = 2 ** (shift - 1);
    let r = Math.floor(man / 2 ** shift);
    const rem = man - r * 2 ** shift;
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  const r = man >>> 13;
  const rem = man & 0x1fff;
  let out = (e << 10) | r;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) out++;
  return sign | out;
}

/** Independent float32 → bfloat16 (the usual integer rounding trick). */
function f32ToBF16(x: number): number {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

test('gpt2-tiny: header, metadata and values match an independent parse', async () => {
  const p = fixture('gpt2-tiny', 'model.safetensors');
  const r = await openSafetensors(p);
  try {
    assert.equal(r.tensors.length, 52);
    assert.equal(r.metadata.format, 'pt');
    const wte = r.tensors.find((t) => t.name === 'transformer.wte.weight');
    assert.deepEqual(wte, { name: 'transformer.wte.weight', dtype: 'F32', shape: [256, 128] });
    const buf = await readFile(p);
    const n = Number(buf.readBigUInt64LE(0));
    const h = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<string, { data_offsets: [number, number] }>;
    const [b, e] = h['transformer.wte.weight'].data_offsets;
    const want = new Float32Array(buf.buffer.slice(buf.byteOffset + 8 + n + b, buf.byteOffset + 8 + n + e));
    const got = await r.readFloat64('transformer.wte.weight');
    assert.equal(got.length, 256 * 128);
    for (let i = 0; i < want.length; i++) assert.equal(got[i], want[i]);
    await assert.rejects(r.readBytes('nope'), isCode('not-found'));
  } finally {
    await r.close();
  }
});

test('writer round-trips F64 exactly and F16/BF16 with nearest-even rounding', async () => {
  const src = await openSafetensors(fixture('fmnist-backdoor', 'model_a.safetensors'));
  const values = new Map<string, Float64Array>();
  for (const t of src.tensors) values.set(t.name, await src.readFloat64(t.name));
  const shapes = new Map(src.tensors.map((t) => [t.name, t.shape]));
  await src.close();
  for (const dtype of ['F64', 'F16', 'BF16', 'F32'] as const) {
    const p = join(dir, `rt-${dtype}.safetensors`);
    await writeSafetensors(
      p,
      [...values].map(([name, data]) => ({ name, dtype, shape: shapes.get(name)!, data })),
      { k: 'v' },
    );
    const raw = await readFile(p);
    assert.equal(Number(raw.readBigUInt64LE(0)) % 8, 0, 'header padded to 8 bytes');
    const r = await openSafetensors(p);
    assert.deepEqual(r.metadata, Object.assign(Object.create(null), { k: 'v' }));
    assert.deepEqual(new Set(r.tensors.map((t) => t.name)), new Set(values.keys()));
    for (const [name, v] of values) {
      const got = await r.readFloat64(name);
      const bits = new Uint16Array((await r.readBytes(name)).slice().buffer);
      for (let i = 0; i < v.length; i++) {
        if (dtype === 'F64' || dtype === 'F32') assert.equal(got[i], v[i]);
        else if (dtype === 'F16') assert.equal(bits[i], f32ToF16(v[i]), `${name}[${i}]`);
        else assert.equal(bits[i], f32ToBF16(v[i]), `${name}[${i}]`);
      }
    }
    await r.close();
  }
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes('.tmp-')),
    [],
    'no temp files left',
  );
});

test('sharded index over stories260k split into two shards', async () => {
  const src = await openSafetensors(fixture('stories260k', 'model.safetensors'));
  const names = src.tensors.map((t) => t.name);
  const shards: Record<string, string> = {};
  const parts = [names.slice(0, 20), names.slice(20)];
  for (const [i, part] of parts.entries()) {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    const tensors = [];
    for (const name of part) {
      const t = src.tensors.find((x) => x.name === name)!;
      tensors.push({ name, dtype: t.dtype, shape: t.shape, data: await src.readBytes(name) });
      shards[name] = file;
    }
    await writeSafetensors(join(dir, file), tensors);
  }
  const index = join(dir, 'model.safetensors.index.json');
  await writeFile(index, JSON.stringify({ metadata: { total_size: 0 }, weight_map: shards }));
  const r = await openSafetensorsIndex(index);
  assert.equal(r.tensors.length, 47);
  assert.deepEqual(new Set(r.tensors.map((t) => t.name)), new Set(names));
  for (const name of names) assert.deepEqual(await r.readBytes(name), await src.readBytes(name));
  await r.close();
  // Same tensor in both shards → error; index naming a tensor no shard has → error; '..' in a shard name → error.
  const first = join(dir, 'model-00001-of-00002.safetensors');
  await assert.rejects(openSafetensors([first, first]), isCode('corrupt-file', /also appears/));
  await writeFile(index, JSON.stringify({ weight_map: { ...shards, ghost: 'model-00001-of-00002.safetensors' } }));
  await assert.rejects(openSafetensorsIndex(index), isCode('corrupt-file', /ghost/));
  await writeFile(index, JSON.stringify({ weight_map: { x: '../evil.safetensors' } }));
  await assert.rejects(openSafetensorsIndex(index), isCode('corrupt-file', /invalid shard/));
  await src.close();
});

test('bad input: truncated file', async () => {
  const buf = await readFile(fixture('gpt2-tiny', 'model.safetensors'));
  const p = join(dir, 'truncated.safetensors');
  await writeFile(p, buf.subarray(0, 1_000_000));
  await assert.rejects(openSafetensors(p), isCode('corrupt-file', /truncated/));
  await writeFile(p, buf.subarray(0, 100)); // cut inside the header
  await assert.rejects(openSafetensors(p), isCode('corrupt-file', /exceeds the file size/));
  await writeFile(p, buf.subarray(0, 5));
  await assert.rejects(openSafetensors(p), isCode('corrupt-file', /too short/));
});

test('bad input: oversized header length', async () => {
  const p = await rawFile('huge.safetensors', {}, new Uint8Array(0), 1n << 40n);
  await assert.rejects(openSafetensors(p), isCode('corrupt-file', /100 MB/));
});

test('bad input: overlapping offsets, holes, wrong sizes', async () => {
  const data = new Uint8Array(24);
  const ov = await rawFile(
    'overlap.safetensors',
    {
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
    },
    data,
  );
  await assert.rejects(openSafetensors(ov), isCode('corrupt-file', /"b" overlaps tensor "a"/));
  const hole = await rawFile('hole.safetensors', { a: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, data);
  await assert.rejects(openSafetensors(hole), isCode('corrupt-file', /hole/));
  const size = await rawFile('size.safetensors', { a: { dtype: 'F64', shape: [2], data_offsets: [0, 24] } }, data);
  await assert.rejects(openSafetensors(size), isCode('corrupt-file', /needs 16 bytes/));
  const tail = await rawFile('tail.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data);
  await assert.rejects(openSafetensors(tail), isCode('corrupt-file', /unexplained/));
  const neg = await rawFile('neg.safetensors', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 24] } }, data);
  await assert.rejects(openSafetensors(neg), isCode('corrupt-file', /invalid shape/));
  const notObj = await rawFile('arr.safetensors', [1, 2], new Uint8Array(0));
  await assert.rejects(openSafetensors(notObj), isCode('corrupt-file'));
});

test('bad input: unknown dtype is named', async () => {
  const p = await rawFile('dtype.safetensors', { a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
  await assert.rejects(openSafetensors(p), isCode('unsupported-dtype', /"C64"/));
});

test('a "__proto__" metadata key is plain data', async () => {
  const h = '{"__metadata__":{"__proto__":"x","polluted":"no"},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}';
  const p = await rawFile('proto.safetensors', JSON.parse(h), Uint8Array.of(7, 9));
  const r = await openSafetensors(p);
  // biome-ignore lint/complexity/useLiteralKeys lint/suspicious/noProto: the hostile key is what this test reads
  assert.equal(r.metadata['__proto__'], 'x');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual([...(await r.readFloat64('a'))], [7, 9]);
  await r.close();
});
