import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile, readFile, copyFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { isCode } from '../helpers/errors.js';
import { openCheckpoint, sniffFormat, mergeReaders } from '../../src/io/open.js';
import { sniffBytes } from '../../src/io/sniff.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import type { TensorReader } from '../../src/io/types.js';
import { WeightscopeError } from '../../src/errors.js';

function sameBits(a: Float64Array, b: Float64Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}[${i}]: ${a[i]} !== ${b[i]}`);
}

test('sniffFormat on every fixture checkpoint', async () => {
  const cases: [string[], string][] = [
    [['gpt2-tiny', 'model.safetensors'], 'safetensors'],
    [['gpt2-tiny', 'pytorch_model.bin'], 'pytorch'],
    [['gpt2-tiny', 'onnx', 'model.onnx'], 'onnx'],
    [['fmnist-backdoor', 'model_a.pt'], 'pytorch'],
    [['fmnist-backdoor', 'model_a.onnx'], 'onnx'],
    [['fmnist-hessian', 'mlp48.onnx'], 'onnx'],
    [['stories260k', 'model.safetensors'], 'safetensors'],
    [['gpt2-tiny', 'config.json'], 'unknown'],
    [['stories260k', 'SOURCE.md'], 'unknown'],
  ];
  for (const [parts, want] of cases) assert.equal(await sniffFormat(fixture(...parts)), want, parts.join('/'));
  // A pickle protocol-2 header (legacy torch.save) and random bytes.
  assert.equal(sniffBytes(Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc), 100), 'legacy-pytorch');
  assert.equal(sniffBytes(Uint8Array.of(0x08), 1), 'unknown');
  assert.equal(sniffBytes(new Uint8Array(0), 0), 'unknown');
  let seed = 7;
  const noise = new Uint8Array(4096).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  noise[0] = 0x08; // even starting like an ir_version tag, noise is not ONNX
  assert.equal(sniffBytes(noise, noise.length), 'unknown');
  await assert.rejects(sniffFormat(fixture('nope.bin')), isCode('not-found'));
});

test('gpt2-tiny: safetensors, pytorch_model.bin and onnx/model.onnx give the same tensors', async () => {
  const st = await openCheckpoint(fixture('gpt2-tiny'));
  const pt = await openCheckpoint(fixture('gpt2-tiny', 'pytorch_model.bin'));
  const ox = await openCheckpoint(fixture('gpt2-tiny', 'onnx', 'model.onnx'));
  try {
    assert.deepEqual([st.reader.format, pt.reader.format, ox.reader.format], ['safetensors', 'pytorch', 'onnx']);
    assert.equal(ox.resolved.format, 'onnx');
    const onnxNames = new Set(ox.reader.tensors.map((t) => t.name));
    const ptNames = new Map(pt.reader.tensors.map((t) => [t.name, t]));
    let n = 0;
    for (const t of st.reader.tensors) {
      const v = await st.reader.readFloat64(t.name);
      if (ptNames.has(t.name)) sameBits(await pt.reader.readFloat64(t.name), v, `pt ${t.name}`);
      if (onnxNames.has(t.name)) {
        sameBits(await ox.reader.readFloat64(t.name), v, `onnx ${t.name}`);
        n++;
      }
    }
    assert.equal(n, 52);
  } finally {
    await Promise.all([st, pt, ox].map((o) => o.reader.close()));
  }
});

test('garbage → unsupported-format, truncated ONNX → corrupt-file, legacy pickle → re-save message', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-open-'));
  try {
    await writeFile(join(dir, 'garbage.safetensors'), 'this is not a checkpoint at all\n'.repeat(20));
    await assert.rejects(openCheckpoint(join(dir, 'garbage.safetensors')), isCode('unsupported-format', /garbage\.safetensors/));
    await writeFile(join(dir, 'empty.onnx'), '');
    await assert.rejects(openCheckpoint(join(dir, 'empty.onnx')), isCode('unsupported-format'));
    const onnxBytes = await readFile(fixture('gpt2-tiny', 'onnx', 'model.onnx'));
    for (const cut of [64, 100_000, onnxBytes.length - 10]) {
      await writeFile(join(dir, 'cut.onnx'), onnxBytes.subarray(0, cut));
      assert.equal(await sniffFormat(join(dir, 'cut.onnx')), 'onnx', `cut at ${cut}`);
      await assert.rejects(openCheckpoint(join(dir, 'cut.onnx')), isCode('corrupt-file'), `cut at ${cut}`);
    }
    await writeFile(join(dir, 'old.bin'), Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8));
    await assert.rejects(openCheckpoint(join(dir, 'old.bin')), (e: unknown) => {
      assert.ok(e instanceof WeightscopeError);
      assert.match(e.message, /torch>=1\.6/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sharded safetensors folder (index + 2 shards written from mlp48) opens as one reader', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-open-'));
  try {
    const src = await openSafetensors(fixture('fmnist-hessian', 'mlp48.safetensors'));
    const names = src.tensors.map((t) => t.name);
    const weightMap: Record<string, string> = {};
    for (const [k, part] of [
      [0, names.slice(0, 2)],
      [1, names.slice(2)],
    ] as const) {
      const file = `model-0000${k + 1}-of-00002.safetensors`;
      const ts = [];
      for (const name of part) {
        const info = src.tensors.find((t) => t.name === name)!;
        ts.push({ name, dtype: info.dtype, shape: info.shape, data: await src.readBytes(name) });
        weightMap[name] = file;
      }
      await writeSafetensors(join(dir, file), ts);
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const { reader, resolved } = await openCheckpoint(dir);
    assert.equal(resolved.indexFile, join(dir, 'model.safetensors.index.json'));
    assert.equal(resolved.files.length, 2);
    assert.deepEqual(new Set(reader.tensors.map((t) => t.name)), new Set(names));
    for (const name of names) sameBits(await reader.readFloat64(name), await src.readFloat64(name), name);
    await reader.close();
    await src.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sharded pytorch index: shards merged, names checked against the weight_map', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-open-'));
  try {
    await symlink(fixture('gpt2-tiny', 'pytorch_model.bin'), join(dir, 'pytorch_model-00001-of-00001.bin'));
    await copyFile(fixture('gpt2-tiny', 'config.json'), join(dir, 'config.json'));
    const ref = await openSafetensors(fixture('gpt2-tiny', 'model.safetensors'));
    const weightMap = Object.fromEntries(ref.tensors.map((t) => [t.name, 'pytorch_model-00001-of-00001.bin']));
    await writeFile(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: weightMap }));
    const { reader, resolved } = await openCheckpoint(dir);
    assert.equal(resolved.format, 'pytorch');
    assert.equal(resolved.config?.n_embd, 128);
    for (const t of ref.tensors) sameBits(await reader.readFloat64(t.name), await ref.readFloat64(t.name), t.name);
    await reader.close();
    weightMap['transformer.h.9.attn.c_attn.weight'] = 'pytorch_model-00001-of-00001.bin';
    await writeFile(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: weightMap }));
    await assert.rejects(openCheckpoint(dir), isCode('corrupt-file', /h\.9/));
    weightMap.x = 'pytorch_model-00002-of-00002.bin';
    await writeFile(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: weightMap }));
    await assert.rejects(openCheckpoint(dir), isCode('not-found', /00002/));
    await ref.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('mergeReaders: routes each name to its shard, refuses a name in two shards', async () => {
  let closed = 0;
  const fake = (names: string[], v: number): TensorReader => ({
    format: 'pytorch',
    tensors: names.map((name) => ({ name, dtype: 'F64' as const, shape: [1] })),
    readFloat64: async () => Float64Array.of(v),
    readBytes: async () => new Uint8Array(8),
    close: async () => void closed++,
  });
  const m = mergeReaders([fake(['a', 'b'], 1), fake(['c'], 2)]);
  assert.deepEqual(
    m.tensors.map((t) => t.name),
    ['a', 'b', 'c'],
  );
  assert.deepEqual([...(await m.readFloat64('c'))], [2]);
  assert.deepEqual([...(await m.readFloat64('a'))], [1]);
  await assert.rejects(m.readFloat64('z'), isCode('not-found'));
  await m.close();
  assert.equal(closed, 2);
  assert.throws(() => mergeReaders([fake(['a'], 1), fake(['a'], 2)]), isCode('corrupt-file', /two shards/));
});

test('hub id through openCheckpoint reads from the local store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-open-'));
  try {
    await mkdir(join(dir, 'models', 'fmnist', 'cnn-a', 'onnx'), { recursive: true });
    await copyFile(fixture('fmnist-backdoor', 'model_a.onnx'), join(dir, 'models', 'fmnist', 'cnn-a', 'onnx', 'model.onnx'));
    const { reader, resolved } = await openCheckpoint('fmnist/cnn-a', { cacheDirs: [], modelsDir: join(dir, 'models') });
    assert.equal(resolved.id, 'fmnist/cnn-a');
    assert.equal(reader.roles?.get('conv2.weight'), 'conv');
    await reader.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
