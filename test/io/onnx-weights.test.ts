/**
 * Acceptance (issue 13 item 7): ONNX weights wherever ONNX keeps them. Models built here with the same weights as
 * initializers, as Constant nodes (raw_data and float_data) and inside If branches give the same rows; an LSTM's
 * W and R (bidirectional; and PyTorch's gate-reordering Slice/Concat/Unsqueeze) are one layer per direction with
 * the spectrum of that direction's matrix; a Conv1d kernel is k slices pooled. The file is indexed, not decoded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onnx, writeOnnxModel } from '../../src/io/onnx-model.js';
import { openOnnx } from '../../src/io/onnx.js';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import { matrixEigenvalues } from '../../src/linalg/eigen.js';
import { analyze } from '../../src/report/analyze.js';
import { rowFromSpectrum } from '../../src/report/row.js';
import { parseAnalyzeOptions } from '../../src/report/options.js';
import type { LayerRow } from '../../src/report/types.js';
import { gaussian } from '../linalg/linalg-fixtures.js';
import { isCode } from '../helpers/errors.js';
import { withTmpDir } from '../helpers/tmp.js';

const T = onnx.TensorProto;
const N = onnx.NodeProto;
const G = onnx.GraphProto;

const f32 = (v: Float64Array): Float32Array => Float32Array.from(v);
const raw = (name: string, dims: number[], v: Float64Array) =>
  T.create({ name, dims, dataType: 1, rawData: new Uint8Array(f32(v).buffer) });
const typed = (name: string, dims: number[], v: Float64Array) => T.create({ name, dims, dataType: 1, floatData: Array.from(f32(v)) });
const constant = (out: string, t: onnx.ITensorProto) =>
  N.create({ opType: 'Constant', output: [out], attribute: [{ name: 'value', type: 4, t }] });
const model = (graph: onnx.IGraphProto) => onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ version: 17 }], graph: G.create(graph) });

const W1 = gaussian(20 * 30, 1);
const W2 = gaussian(30 * 16, 2);

const withDir = (body: (dir: string) => Promise<void>): Promise<void> => withTmpDir('ws-onnxw-', body);

async function rowsOf(dir: string, name: string, m: onnx.ModelProto): Promise<LayerRow[]> {
  const path = join(dir, name);
  await writeOnnxModel(path, m);
  return (await analyze(path, { workers: 1 })).layers;
}

/** The numeric columns of a row (ids and names differ between a main-graph and a subgraph weight). */
function numbers(r: LayerRow): Partial<LayerRow> {
  const { layer_id: _i, name: _n, longname: _l, ...rest } = r;
  return rest;
}

test('weights as initializers, Constant nodes (raw_data, float_data) and in If branches: the same rows', () =>
  withDir(async (dir) => {
    const mm = [
      N.create({ opType: 'MatMul', input: ['x', 'fc1.weight'], output: ['h'] }),
      N.create({ opType: 'MatMul', input: ['h', 'fc2.weight'], output: ['y'] }),
    ];
    const inits = await rowsOf(
      dir,
      'init.onnx',
      model({ initializer: [raw('fc1.weight', [20, 30], W1), raw('fc2.weight', [30, 16], W2)], node: mm }),
    );
    assert.deepEqual(
      inits.map((r) => r.name),
      ['fc1', 'fc2'],
    );
    const consts = await rowsOf(
      dir,
      'const.onnx',
      model({ node: [constant('fc1.weight', raw('', [20, 30], W1)), constant('fc2.weight', typed('', [30, 16], W2)), ...mm] }),
    );
    assert.deepEqual(consts, inits);
    // If: then-branch holds fc1 as a Constant, else-branch fc2 as an initializer; each branch multiplies by it
    const then = G.create({
      name: 't',
      node: [constant('fc1.weight', raw('', [20, 30], W1)), N.create({ opType: 'MatMul', input: ['x', 'fc1.weight'], output: ['o'] })],
      output: [{ name: 'o' }],
    });
    const other = G.create({
      name: 'e',
      initializer: [raw('fc2.weight', [30, 16], W2)],
      node: [N.create({ opType: 'MatMul', input: ['x', 'fc2.weight'], output: ['o2'] })],
      output: [{ name: 'o2' }],
    });
    const iff = N.create({
      opType: 'If',
      name: 'branch',
      input: ['cond'],
      output: ['y'],
      attribute: [
        { name: 'then_branch', type: 5, g: then },
        { name: 'else_branch', type: 5, g: other },
      ],
    });
    const inIf = await rowsOf(dir, 'if.onnx', model({ node: [iff] }));
    assert.deepEqual(
      inIf.map((r) => r.name),
      ['branch.else_branch/fc2', 'branch.then_branch/fc1'],
    );
    assert.deepEqual(numbers(inIf[1]), numbers(inits[0]));
    assert.deepEqual(numbers(inIf[0]), numbers(inits[1]));
    // a subgraph may use a weight of the enclosing graph
    const outer = G.create({
      name: 'u',
      node: [N.create({ opType: 'MatMul', input: ['x', 'fc1.weight'], output: ['o'] })],
      output: [{ name: 'o' }],
    });
    const iff2 = N.create({
      opType: 'If',
      input: ['cond'],
      output: ['y'],
      attribute: [
        { name: 'then_branch', type: 5, g: outer },
        { name: 'else_branch', type: 5, g: outer },
      ],
    });
    const viaOuter = await rowsOf(dir, 'outer.onnx', model({ initializer: [raw('fc1.weight', [20, 30], W1)], node: [iff2] }));
    assert.deepEqual(viaOuter, [inits[0]]);
  }));

test('LSTM: W and R give one layer per direction (gates stacked), also through PyTorch-style Slice/Concat/Unsqueeze', () =>
  withDir(async (dir) => {
    const h = 12;
    const inp = 20;
    const W = gaussian(2 * 4 * h * inp, 5);
    const R = gaussian(2 * 4 * h * h, 6);
    const lstm = N.create({
      opType: 'LSTM',
      input: ['X', 'W', 'R', 'B'],
      output: ['Y'],
      attribute: [
        { name: 'hidden_size', type: 2, i: h },
        { name: 'direction', type: 3, s: new TextEncoder().encode('bidirectional') },
      ],
    });
    const rows = await rowsOf(
      dir,
      'lstm.onnx',
      model({
        initializer: [raw('W', [2, 4 * h, inp], W), raw('R', [2, 4 * h, h], R), raw('B', [2, 8 * h], new Float64Array(16 * h))],
        node: [lstm],
      }),
    );
    assert.deepEqual(
      rows.map((r) => [r.layer_id, r.name, r.layer_type, r.N, r.M]),
      [
        [0, 'R.forward', 'rnn', 48, 12],
        [1, 'R.reverse', 'rnn', 48, 12],
        [2, 'W.forward', 'rnn', 48, 20],
        [3, 'W.reverse', 'rnn', 48, 20],
      ],
    );
    // each direction's rows = the rows of that direction's 2-D matrix
    const part = (v: Float64Array, d: number, n: number) => v.subarray(d * n, (d + 1) * n);
    await writeSafetensors(join(dir, 'dirs.safetensors'), [
      { name: 'R.forward.weight', dtype: 'F32', shape: [48, h], data: part(R, 0, 48 * h) },
      { name: 'R.reverse.weight', dtype: 'F32', shape: [48, h], data: part(R, 1, 48 * h) },
      { name: 'W.forward.weight', dtype: 'F32', shape: [48, inp], data: part(W, 0, 48 * inp) },
      { name: 'W.reverse.weight', dtype: 'F32', shape: [48, inp], data: part(W, 1, 48 * inp) },
    ]);
    const dense = (await analyze(join(dir, 'dirs.safetensors'), { workers: 1 })).layers;
    rows.forEach((r, i) => assert.deepEqual({ ...numbers(r), layer_type: 'dense' }, numbers(dense[i])));

    // PyTorch's export: the 2-D weight_ih reordered by Slice + Concat, then Unsqueeze'd to [1, 4h, in]
    const i64 = (name: string, v: number[]) => T.create({ name, dims: [v.length], dataType: 7, int64Data: v });
    const wih = gaussian(4 * h * inp, 7);
    const nodes = [
      constant('weight_ih', raw('', [4 * h, inp], wih)),
      N.create({ opType: 'Slice', input: ['weight_ih', 's0', 'e0', 'ax'], output: ['p0'] }),
      N.create({ opType: 'Slice', input: ['weight_ih', 's1', 'e1', 'ax'], output: ['p1'] }),
      N.create({ opType: 'Concat', input: ['p1', 'p0'], output: ['cat'], attribute: [{ name: 'axis', type: 2, i: 0 }] }),
      N.create({ opType: 'Unsqueeze', input: ['cat', 'ax'], output: ['Wu'] }),
      N.create({ opType: 'LSTM', input: ['X', 'Wu', 'Ru'], output: ['Y'], attribute: [{ name: 'hidden_size', type: 2, i: h }] }),
    ];
    const torch = await rowsOf(
      dir,
      'torch.onnx',
      model({
        initializer: [
          i64('s0', [0]),
          i64('e0', [h]),
          i64('s1', [h]),
          i64('e1', [4 * h]),
          i64('ax', [0]),
          raw('Ru', [1, 4 * h, h], R.subarray(0, 4 * h * h)),
        ],
        node: nodes,
      }),
    );
    assert.deepEqual(
      torch.map((r) => [r.name, r.layer_type, r.N, r.M]),
      [
        ['Ru', 'rnn', 48, 12],
        ['weight_ih', 'rnn', 48, 20],
      ],
    );
  }));

test('Conv1d (out, in, k): k slices of out×in, pooled into one ESD, no conv2d factor', () =>
  withDir(async (dir) => {
    const [o, c, k] = [16, 12, 3];
    const K = Float64Array.from(f32(gaussian(o * c * k, 9)));
    const conv = N.create({ opType: 'Conv', input: ['x', 'conv.weight'], output: ['y'] });
    const [row] = await rowsOf(dir, 'conv1d.onnx', model({ initializer: [raw('conv.weight', [o, c, k], K)], node: [conv] }));
    assert.deepEqual([row.name, row.layer_type, row.N, row.M, row.rf, row.num_evals], ['conv', 'conv1d', 16, 12, 3, 36]);
    const slices = Array.from({ length: k }, (_, j) => {
      const m = new Float64Array(o * c);
      for (let q = 0; q < o * c; q++) m[q] = K[q * k + j];
      return matrixEigenvalues(m, o, c);
    });
    const want = rowFromSpectrum(
      {
        layer_id: 0,
        name: 'conv',
        tensor: 'conv.weight',
        layer_type: 'conv1d',
        shape: [o, c, k],
        N: 16,
        M: 12,
        rf: 3,
        Q: 16 / 12,
        extra: false,
      },
      slices,
      parseAnalyzeOptions({}),
    );
    for (const key of ['alpha', 'lambda_max', 'log_norm', 'stable_rank', 'num_pl_spikes'] as const) {
      assert.ok(
        Math.abs((row[key] as number) - (want[key] as number)) <= 1e-10 * Math.abs(want[key] as number),
        `${key}: ${row[key]} vs ${want[key]}`,
      );
    }
  }));

test('the file is indexed, not decoded: a 48 MB initializer is not read until asked for; packed float_data streams too', () =>
  withDir(async (dir) => {
    const n = 3000 * 4000;
    const big = new Float32Array(n).fill(0.5);
    const path = join(dir, 'big.onnx');
    await writeOnnxModel(
      path,
      model({
        initializer: [
          T.create({ name: 'big.weight', dims: [3000, 4000], dataType: 1, rawData: new Uint8Array(big.buffer) }),
          typed('small.weight', [20, 30], W1),
        ],
        node: [
          N.create({ opType: 'MatMul', input: ['x', 'big.weight'], output: ['y'] }),
          N.create({ opType: 'MatMul', input: ['x', 'small.weight'], output: ['z'] }),
        ],
      }),
    );
    const before = process.memoryUsage().arrayBuffers;
    const r = await openOnnx(path);
    try {
      const grew = process.memoryUsage().arrayBuffers - before;
      assert.ok(grew < 8 << 20, `opening held ${grew} bytes`);
      const loc = r.locate!('big.weight')!;
      assert.equal(loc.length, 4 * n);
      const packed = r.locate!('small.weight')!;
      assert.equal(packed.length, 4 * 600);
      assert.deepEqual(await r.readFloat64('small.weight'), Float64Array.from(f32(W1)));
    } finally {
      await r.close();
    }
  }));

test('corrupt ONNX: truncated, impossible wire types and absurd nesting are corrupt-file errors', () =>
  withDir(async (dir) => {
    const path = join(dir, 'm.onnx');
    const m = model({
      initializer: [raw('fc1.weight', [20, 30], W1)],
      node: [N.create({ opType: 'MatMul', input: ['x', 'fc1.weight'], output: ['h'] })],
    });
    const bytes = onnx.ModelProto.encode(m).finish();
    await writeFile(path, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(openOnnx(path), isCode('corrupt-file'));
    await writeFile(path, Uint8Array.of(0x08, 0x07, 0x3b, 0x00));
    await assert.rejects(openOnnx(path), isCode('corrupt-file', /wire type 3/));
    // If inside If inside If … 80 deep
    let g = G.create({ name: 'leaf' });
    for (let i = 0; i < 80; i++) g = G.create({ node: [N.create({ opType: 'If', attribute: [{ name: 'then_branch', type: 5, g }] })] });
    await writeOnnxModel(path, model(g));
    await assert.rejects(openOnnx(path), isCode('corrupt-file', /nested more than 64/));
    await writeFile(path, Uint8Array.of(0x08, 0x07));
    await assert.rejects(openOnnx(path), isCode('corrupt-file', /no graph/));
  }));

test('hostile ONNX: a name of more than 1 MiB is refused before it is read', () =>
  withDir(async (dir) => {
    const path = join(dir, 'long.onnx');
    await writeOnnxModel(path, model({ name: 'x'.repeat((1 << 20) + 1), node: [] }));
    await assert.rejects(openOnnx(path), isCode('corrupt-file', /a string of 1048577 bytes/));
  }));
