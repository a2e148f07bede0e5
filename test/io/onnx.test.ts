import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { isCode } from '../helpers/errors.js';
import { openOnnx } from '../../src/io/onnx.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import {
  onnx,
  readOnnxModel,
  writeOnnxModel,
  replaceInitializers,
  tensorProtoToFloat64,
  tensorProtoBytes,
  longToNumber,
  resolveExternalPath,
} from '../../src/io/onnx-model.js';

function sameBits(a: Float64Array, b: Float64Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}[${i}]: ${a[i]} !== ${b[i]}`);
  }
}

test('gpt2-tiny: ONNX initializers equal model.safetensors bit-exact; onnx::MatMul_572 = wte transposed', async () => {
  const ox = await openOnnx(fixture('gpt2-tiny', 'onnx', 'model.onnx'));
  const st = await openSafetensors(fixture('gpt2-tiny', 'model.safetensors'));
  try {
    assert.equal(ox.format, 'onnx');
    assert.equal(ox.tensors.length, 53);
    const stNames = new Map(st.tensors.map((t) => [t.name, t]));
    let shared = 0;
    for (const t of ox.tensors) {
      const s = stNames.get(t.name);
      if (!s) continue;
      shared++;
      assert.equal(t.dtype, 'F32');
      assert.deepEqual(t.shape, s.shape, t.name); // Conv1D [in, out] layout kept as is
      sameBits(await ox.readFloat64(t.name), await st.readFloat64(t.name), t.name);
      assert.deepEqual(await ox.readBytes(t.name), await st.readBytes(t.name), t.name);
    }
    assert.equal(shared, 52);
    const c = ox.tensors.find((t) => t.name === 'transformer.h.0.attn.c_attn.weight');
    assert.deepEqual(c?.shape, [128, 384]);

    const tied = ox.tensors.find((t) => t.name === 'onnx::MatMul_572');
    assert.deepEqual(tied?.shape, [128, 256]);
    const wt = await ox.readFloat64('onnx::MatMul_572');
    const wte = await st.readFloat64('transformer.wte.weight'); // [256, 128]
    for (let i = 0; i < 128; i++) {
      for (let j = 0; j < 256; j++) {
        if (!Object.is(wt[i * 256 + j], wte[j * 128 + i])) assert.fail(`MatMul_572[${i},${j}] != wte[${j},${i}]`);
      }
    }
  } finally {
    await ox.close();
    await st.close();
  }
});

test('gpt2-tiny roles: Conv1D weights and the tied copy are matmul operands, wte/wpe gather', async () => {
  const r = await openOnnx(fixture('gpt2-tiny', 'onnx', 'model.onnx'));
  const roles = Object.fromEntries(r.roles);
  const expected: Record<string, string> = {
    'transformer.wte.weight': 'gather',
    'transformer.wpe.weight': 'gather',
    'onnx::MatMul_572': 'matmul',
  };
  for (let h = 0; h < 4; h++) {
    for (const m of ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']) {
      expected[`transformer.h.${h}.${m}.weight`] = 'matmul';
    }
  }
  assert.deepEqual(roles, expected);
  await r.close();
});

test('fmnist-backdoor model_a roles: Conv kernels and Gemm weights, biases have none', async () => {
  const r = await openOnnx(fixture('fmnist-backdoor', 'model_a.onnx'));
  assert.deepEqual(Object.fromEntries(r.roles), {
    'conv1.weight': 'conv',
    'conv2.weight': 'conv',
    'fc1.weight': 'gemm',
    'fc2.weight': 'gemm',
  });
  assert.deepEqual(
    r.tensors.map((t) => `${t.name}:${t.shape.join('x')}`),
    [
      'conv1.weight:8x1x3x3',
      'conv1.bias:8',
      'conv2.weight:16x8x3x3',
      'conv2.bias:16',
      'fc1.weight:64x784',
      'fc1.bias:64',
      'fc2.weight:10x64',
      'fc2.bias:10',
    ],
  );
  const st = await openSafetensors(fixture('fmnist-backdoor', 'model_a.safetensors'));
  for (const t of r.tensors) sameBits(await r.readFloat64(t.name), await st.readFloat64(t.name), t.name);
  await st.close();
  await r.close();
});

test('roles through one Transpose / Identity node, and first use wins', async () => {
  const init = (name: string) => onnx.TensorProto.create({ name, dims: [2, 2], dataType: 1, floatData: [1, 2, 3, 4] });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    graph: onnx.GraphProto.create({
      initializer: [init('W'), init('E'), init('K'), init('B')],
      node: [
        onnx.NodeProto.create({ opType: 'Transpose', input: ['W'], output: ['Wt'] }),
        onnx.NodeProto.create({ opType: 'Identity', input: ['K'], output: ['Ki'] }),
        onnx.NodeProto.create({ opType: 'MatMul', input: ['x', 'Wt'], output: ['y'] }),
        onnx.NodeProto.create({ opType: 'Gather', input: ['E', 'ids'], output: ['e'] }),
        onnx.NodeProto.create({ opType: 'MatMul', input: ['e', 'E'], output: ['z'] }),
        onnx.NodeProto.create({ opType: 'Conv', input: ['img', 'Ki', 'B'], output: ['c'] }),
      ],
    }),
  });
  const dir = await mkdtemp(join(tmpdir(), 'ws-onnx-'));
  try {
    await writeOnnxModel(join(dir, 'm.onnx'), model);
    const r = await openOnnx(join(dir, 'm.onnx'));
    assert.deepEqual(Object.fromEntries(r.roles), { W: 'matmul', E: 'gather', K: 'conv' });
    sameBits(await r.readFloat64('W'), Float64Array.of(1, 2, 3, 4), 'float_data');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** mlp48.onnx with every initializer moved to side files (two tensors per file, at offsets). */
async function externalise(dir: string): Promise<void> {
  const model = await readOnnxModel(fixture('fmnist-hessian', 'mlp48.onnx'));
  const files = new Map<string, Uint8Array[]>();
  const inits = model.graph!.initializer!;
  for (let i = 0; i < inits.length; i++) {
    const t = inits[i];
    const file = i < 2 ? 'weights_a.bin' : 'sub/weights_b.bin';
    const parts = files.get(file) ?? [new Uint8Array(3)]; // 3 bytes of padding: offsets are not aligned
    const offset = parts.reduce((s, p) => s + p.length, 0);
    parts.push(new Uint8Array(t.rawData!));
    files.set(file, parts);
    t.externalData = [
      onnx.StringStringEntryProto.create({ key: 'location', value: file }),
      onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
      onnx.StringStringEntryProto.create({ key: 'length', value: String(t.rawData!.length) }),
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
  }
  await mkdir(join(dir, 'sub'));
  for (const [file, parts] of files) await writeFile(join(dir, file), Buffer.concat(parts));
  await writeOnnxModel(join(dir, 'model.onnx'), model);
}

test('external-data ONNX (built from mlp48.onnx) reads the same values as the in-file model', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-onnx-ext-'));
  try {
    await externalise(dir);
    const small = (await readFile(join(dir, 'model.onnx'))).length;
    assert.ok(small < 5000, `external model file should hold no weights (${small} bytes)`);
    const ext = await openOnnx(join(dir, 'model.onnx'));
    const inl = await openOnnx(fixture('fmnist-hessian', 'mlp48.onnx'));
    const st = await openSafetensors(fixture('fmnist-hessian', 'mlp48.safetensors'));
    assert.deepEqual(ext.tensors, inl.tensors);
    assert.deepEqual(Object.fromEntries(ext.roles), { 'layers.0.weight': 'gemm', 'layers.1.weight': 'gemm' });
    for (const t of ext.tensors) {
      const v = await ext.readFloat64(t.name);
      sameBits(v, await inl.readFloat64(t.name), t.name);
      sameBits(v, await st.readFloat64(t.name), t.name);
    }
    assert.equal((await ext.readFloat64('layers.0.weight')).length, 48 * 784);
    await st.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('external data: escaping locations are refused, short files and wrong lengths are corrupt', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-onnx-esc-'));
  try {
    await writeFile(join(dir, 'w.bin'), new Uint8Array(16));
    const ext = (location: string, length?: number, offset = 0) =>
      onnx.TensorProto.create({
        name: 't',
        dims: [2, 2],
        dataType: 1,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          ...(length === undefined ? [] : [{ key: 'length', value: String(length) }]),
        ],
      });
    for (const loc of ['../w.bin', '/etc/passwd', 'sub/../../w.bin', '..', '.']) {
      await assert.rejects(tensorProtoBytes(ext(loc, 16), dir), isCode('corrupt-file'), loc);
    }
    assert.throws(() => resolveExternalPath(dir, '../../etc/passwd'), isCode('corrupt-file'));
    assert.equal(resolveExternalPath(dir, 'a/../w.bin'), join(dir, 'w.bin'));
    assert.equal((await tensorProtoBytes(ext('w.bin', 16), dir)).length, 16);
    assert.equal((await tensorProtoBytes(ext('w.bin'), dir)).length, 16); // no length: to the end of the file
    await assert.rejects(tensorProtoBytes(ext('w.bin', 12), dir), isCode('corrupt-file'));
    await assert.rejects(tensorProtoBytes(ext('w.bin', 16, 8), dir), isCode('corrupt-file'));
    await assert.rejects(tensorProtoBytes(ext('missing.bin', 16), dir), isCode('not-found'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('typed fields: double_data, int32_data F16/BF16 bit patterns, int64_data Longs', async () => {
  const T = onnx.TensorProto;
  const f16 = T.create({ name: 'h', dims: [3], dataType: 10, int32Data: [0x3c00, 0xc000, 0x0001] });
  assert.deepEqual([...(await tensorProtoToFloat64(f16, '.'))], [1, -2, 2 ** -24]);
  const bf16 = T.create({ name: 'b', dims: [2], dataType: 16, int32Data: [0x3f80, 0x4049] });
  assert.deepEqual([...(await tensorProtoToFloat64(bf16, '.'))], [1, 3.140625]);
  const f64 = T.create({ name: 'd', dims: [2], dataType: 11, doubleData: [0.1, -1e300] });
  assert.deepEqual([...(await tensorProtoToFloat64(f64, '.'))], [0.1, -1e300]);
  // Round trip through protobuf so int64 values come back as Long objects.
  const i64 = T.decode(T.encode(T.create({ name: 'i', dims: [3], dataType: 7, int64Data: [-5, 2 ** 40, 7] })).finish());
  const bytes = await tensorProtoBytes(i64, '.');
  assert.deepEqual([...new BigInt64Array(bytes.buffer, bytes.byteOffset, 3)], [-5n, 2n ** 40n, 7n]);
  assert.equal(longToNumber(i64.int64Data[1] as never), 2 ** 40);
  assert.equal(longToNumber({ low: 0, high: -1, unsigned: false }), -(2 ** 32));
  assert.throws(() => longToNumber({ low: 0, high: 2 ** 21, unsigned: false }), isCode('corrupt-file'));
  await assert.rejects(tensorProtoToFloat64(i64, '.'), isCode('unsupported-dtype'));
  const short = T.create({ name: 's', dims: [2, 3], dataType: 1, floatData: [1, 2] });
  await assert.rejects(tensorProtoBytes(short, '.'), isCode('corrupt-file'));
  const rawBad = T.create({ name: 'r', dims: [2], dataType: 1, rawData: new Uint8Array(7) });
  await assert.rejects(tensorProtoBytes(rawBad, '.'), isCode('corrupt-file'));
});

test('replaceInitializers + writeOnnxModel: new values round-trip, others untouched, original unchanged', async () => {
  const path = fixture('fmnist-hessian', 'mlp48.onnx');
  const model = await readOnnxModel(path);
  const before = await tensorProtoToFloat64(model.graph!.initializer![0], '.');
  const w = new Float64Array(48 * 784).map((_, i) => (i % 7) * 0.25 - 0.5 + 1e-9); // 1e-9 rounds away in F32
  const b = new Float32Array(48).fill(0.1);
  const next = replaceInitializers(
    model,
    new Map<string, Float32Array | Float64Array>([
      ['layers.0.weight', w],
      ['layers.0.bias', b],
    ]),
  );
  sameBits(await tensorProtoToFloat64(model.graph!.initializer![0], '.'), before, 'original untouched');
  const dir = await mkdtemp(join(tmpdir(), 'ws-onnx-rep-'));
  try {
    await writeOnnxModel(join(dir, 'out.onnx'), next);
    const r = await openOnnx(join(dir, 'out.onnx'));
    const inl = await openOnnx(path);
    sameBits(await r.readFloat64('layers.0.weight'), Float64Array.from(Float32Array.from(w)), 'replaced weight');
    sameBits(await r.readFloat64('layers.0.bias'), Float64Array.from(b), 'replaced bias');
    sameBits(await r.readFloat64('layers.1.weight'), await inl.readFloat64('layers.1.weight'), 'kept');
    assert.equal((await readOnnxModel(join(dir, 'out.onnx'))).graph!.node!.length, model.graph!.node!.length);
    assert.deepEqual(Object.fromEntries(r.roles), Object.fromEntries(inl.roles));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.throws(() => replaceInitializers(model, new Map([['nope', new Float32Array(1)]])), isCode('not-found'));
  assert.throws(() => replaceInitializers(model, new Map([['layers.0.bias', new Float32Array(3)]])), isCode('shape-mismatch'));
});

test('reader errors: unknown name, integer tensor as float, truncated model', async () => {
  const r = await openOnnx(fixture('fmnist-backdoor', 'model_a.onnx'));
  await assert.rejects(r.readFloat64('nope'), isCode('not-found'));
  await r.close();
  const dir = await mkdtemp(join(tmpdir(), 'ws-onnx-tr-'));
  try {
    const full = await readFile(fixture('gpt2-tiny', 'onnx', 'model.onnx'));
    await writeFile(join(dir, 'cut.onnx'), full.subarray(0, Math.floor(full.length / 2)));
    await assert.rejects(openOnnx(join(dir, 'cut.onnx')), isCode('corrupt-file'));
    const T = onnx.TensorProto;
    await writeOnnxModel(
      join(dir, 'int.onnx'),
      onnx.ModelProto.create({
        irVersion: 7,
        graph: { initializer: [T.create({ name: 'ids', dims: [2], dataType: 7, int64Data: [1, 2] })] },
      }),
    );
    const ir = await openOnnx(join(dir, 'int.onnx'));
    assert.deepEqual(ir.tensors, [{ name: 'ids', dtype: 'I64', shape: [2] }]);
    await assert.rejects(ir.readFloat64('ids'), isCode('unsupported-dtype'));
    assert.deepEqual([...new BigInt64Array((await ir.readBytes('ids')).buffer)], [1n, 2n]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
