/**
 * The batch-axis dataflow behind sharding (graph/batch-axis.ts through runtime/separable.ts `batchCoupling`): each
 * case is a small model on x = [batch, 4, 6] (unless stated), with the reason expected or null. Where onnxruntime
 * can run the model, the answer is also checked against what sharding would do: the whole batch of 8 against two
 * shards of 4 concatenated — equal for every null, different (values or shape) for every reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import type { ModelProto } from '../../src/io/onnx-model.js';
import { DT, makeTensor, type Dim, type OnnxTensor } from '../../src/graph/ir.js';
import { inferNode } from '../../src/graph/infer.js';
import { batchCoupling } from '../../src/runtime/separable.js';
import { mulberry32 } from '../helpers/random.js';
import { session, f32, i64, type Feeds } from './helpers.js';

const { onnx } = onnxProto;
type Node = onnxProto.onnx.INodeProto;

const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });
const int = (name: string, v: number) => ({ name, type: 2, i: v });
const str = (name: string, v: string) => ({ name, type: 3, s: new TextEncoder().encode(v) });
const i64c = (name: string, v: number[], dims = [v.length]): OnnxTensor => makeTensor(name, DT.INT64, dims, v);
const rnd = mulberry32(11);
const f32c = (name: string, dims: number[]): OnnxTensor =>
  makeTensor(
    name,
    DT.FLOAT,
    dims,
    Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rnd() * 2 - 1),
  );

interface Case {
  what: string;
  nodes: Node[];
  /** x's shape (default ['batch', 4, 6]). */
  shape?: Dim[];
  opset?: number;
  init?: OnnxTensor[];
  /** x holds int64 token ids below 10. */
  tokens?: boolean;
  /** ONNX type of y (default float). */
  yType?: number;
  /** onnxruntime cannot run it (no body, unknown op, or invalid on purpose). */
  noRun?: boolean;
}

function modelOf(c: Case): ModelProto {
  const shape = c.shape ?? ['batch', 4, 6];
  const m = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: c.opset ?? 17 }],
    graph: {
      name: 'g',
      node: c.nodes,
      initializer: c.init ?? [],
      input: [
        {
          name: 'x',
          type: {
            tensorType: {
              elemType: c.tokens ? DT.INT64 : DT.FLOAT,
              shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d ?? 'b' })) },
            },
          },
        },
      ],
      output: [{ name: 'y', type: { tensorType: { elemType: c.yType ?? DT.FLOAT } } }],
    },
  });
  // Encoded and decoded again: attributes come back as Longs, as from a file.
  return onnx.ModelProto.decode(onnx.ModelProto.encode(m).finish()) as ModelProto;
}

async function runY(model: ModelProto, feeds: Feeds): Promise<{ data: Float64Array; dims: number[] }> {
  const s = await session(model);
  try {
    const y = (await s.run(feeds)).y;
    return { data: Float64Array.from(y.data as ArrayLike<number | bigint>, Number), dims: [...y.dims] };
  } finally {
    await s.release();
  }
}

/**
 * Whether two shards of 4, their outputs concatenated along axis 0, reproduce the output of the whole batch of 8
 * (same shape, values to float32 rounding). A shard that fails to run counts as not reproducing it.
 */
async function shardsReproduce(c: Case): Promise<boolean> {
  const rest = (c.shape ?? ['batch', 4, 6]).slice(1) as number[];
  const per = rest.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: 8 * per }, (_, i) => (c.tokens ? (i * 7 + 3) % 10 : rnd() * 4 - 2));
  const feed = (from: number, to: number): Feeds => ({
    x: (c.tokens ? i64 : f32)([to - from, ...rest], data.slice(from * per, to * per)),
  });
  const model = modelOf(c);
  const whole = await runY(model, feed(0, 8));
  let a, b;
  try {
    [a, b] = [await runY(model, feed(0, 4)), await runY(model, feed(4, 8))];
  } catch {
    return false;
  }
  const dims = [a.dims[0] + b.dims[0], ...a.dims.slice(1)];
  if (a.dims.slice(1).join() !== b.dims.slice(1).join() || dims.join() !== whole.dims.join()) return false;
  const cat = Float64Array.of(...a.data, ...b.data);
  return cat.every((v, i) => Math.abs(v - whole.data[i]) <= 1e-5 * (1 + Math.abs(whole.data[i])));
}

const W46 = f32c('w', [6, 3]);
const mixing: [Case, RegExp][] = [
  [
    {
      what: 'BN training_mode=1',
      shape: ['batch', 3, 4, 4],
      nodes: [
        {
          opType: 'BatchNormalization',
          name: 'bn',
          input: ['x', 's', 'bb', 'm', 'v'],
          output: ['y'],
          attribute: [int('training_mode', 1)],
        },
      ],
      init: [f32c('s', [3]), f32c('bb', [3]), f32c('m', [3]), makeTensor('v', DT.FLOAT, [3], [1, 2, 3])],
      noRun: true,
    },
    /BatchNormalization node 'bn' uses batch statistics/,
  ],
  [
    {
      what: 'BN opset 9 with its statistics outputs',
      opset: 9,
      shape: ['batch', 3, 4, 4],
      nodes: [{ opType: 'BatchNormalization', name: 'bn', input: ['x', 's', 'bb', 'm', 'v'], output: ['y', 'rm', 'rv', 'sm', 'sv'] }],
      noRun: true,
    },
    /batch statistics/,
  ],
  [
    {
      what: 'ReduceMean axes [0]',
      opset: 14,
      nodes: [{ opType: 'ReduceMean', name: 'r', input: ['x'], output: ['y'], attribute: [ints('axes', [0])] }],
    },
    /ReduceMean node 'r' reduces over the batch axis/,
  ],
  [
    {
      what: 'ReduceMean axes [-3] (the batch axis, negative)',
      opset: 14,
      nodes: [{ opType: 'ReduceMean', name: 'r', input: ['x'], output: ['y'], attribute: [ints('axes', [-3])] }],
    },
    /reduces over the batch axis/,
  ],
  [
    {
      what: 'ReduceMean axes [0] as int64 initializer (opset 18)',
      opset: 18,
      nodes: [{ opType: 'ReduceMean', name: 'r', input: ['x', 'axes'], output: ['y'] }],
      init: [i64c('axes', [0])],
    },
    /reduces over the batch axis/,
  ],
  [
    {
      what: 'ReduceSum axes [0] from a Constant node',
      opset: 13,
      nodes: [
        { opType: 'Constant', input: [], output: ['axes'], attribute: [{ name: 'value', type: 4, t: i64c('', [0]) }] },
        { opType: 'ReduceSum', name: 'r', input: ['x', 'axes'], output: ['y'] },
      ],
    },
    /ReduceSum node 'r' reduces over the batch axis/,
  ],
  [
    { what: 'ReduceSum without axes (all)', opset: 13, nodes: [{ opType: 'ReduceSum', name: 'r', input: ['x'], output: ['y'] }] },
    /reduces over the batch axis/,
  ],
  [
    {
      what: 'ReduceMean with axes computed from the data',
      opset: 18,
      nodes: [
        { opType: 'ArgMax', input: ['x'], output: ['am'], attribute: [int('axis', 1), int('keepdims', 0)] },
        { opType: 'Flatten', input: ['am'], output: ['fl'], attribute: [int('axis', 0)] },
        { opType: 'ReduceMean', name: 'r', input: ['x', 'fl'], output: ['y'] },
      ],
      noRun: true,
    },
    /ReduceMean node 'r': input 'fl' depends on the samples/,
  ],
  [
    { what: 'Softmax axis 0', nodes: [{ opType: 'Softmax', name: 's', input: ['x'], output: ['y'], attribute: [int('axis', 0)] }] },
    /Softmax node 's' works along the batch axis/,
  ],
  [
    {
      what: 'Softmax opset 11 axis 0 (coerced 2-D)',
      opset: 11,
      nodes: [{ opType: 'Softmax', name: 's', input: ['x'], output: ['y'], attribute: [int('axis', 0)] }],
    },
    /works along the batch axis/,
  ],
  [
    {
      what: 'Transpose [1, 0, 2] to the output',
      nodes: [{ opType: 'Transpose', name: 't', input: ['x'], output: ['y'], attribute: [ints('perm', [1, 0, 2])] }],
    },
    /output 'y' carries the batch along axis 1/,
  ],
  [{ what: 'Transpose without perm (reverses)', nodes: [{ opType: 'Transpose', input: ['x'], output: ['y'] }] }, /along axis 2/],
  [
    {
      what: 'Transpose [1, 0, 2] then Softmax axis 1',
      nodes: [
        { opType: 'Transpose', input: ['x'], output: ['t'], attribute: [ints('perm', [1, 0, 2])] },
        { opType: 'Softmax', name: 's', input: ['t'], output: ['y'], attribute: [int('axis', 1)] },
      ],
    },
    /Softmax node 's' works along the batch axis/,
  ],
  [
    {
      what: 'Reshape [B, 4, 6] → [1, -1] then Softmax axis 1',
      nodes: [
        { opType: 'Reshape', name: 'r', input: ['x', 'tgt'], output: ['h'] },
        { opType: 'Softmax', name: 's', input: ['h'], output: ['y'], attribute: [int('axis', 1)] },
      ],
      init: [i64c('tgt', [1, -1])],
    },
    /Softmax node 's' works along the batch axis/,
  ],
  [
    {
      what: 'Reshape [B, 4, 6] → [4, -1] then Softmax axis 1',
      nodes: [
        { opType: 'Reshape', name: 'r', input: ['x', 'tgt'], output: ['h'] },
        { opType: 'Softmax', name: 's', input: ['h'], output: ['y'], attribute: [int('axis', 1)] },
      ],
      init: [i64c('tgt', [4, -1])],
    },
    /Softmax node 's' gets the batch merged with other axes by node 'r'/,
  ],
  [
    {
      what: 'Reshape [B, 4, 6] → [4, -1] (batch no longer outermost)',
      nodes: [{ opType: 'Reshape', name: 'r', input: ['x', 'tgt'], output: ['y'] }],
      init: [i64c('tgt', [4, -1])],
    },
    /output 'y' holds the batch merged with other axes by node 'r'/,
  ],
  [
    { what: 'Flatten axis 0', nodes: [{ opType: 'Flatten', name: 'f', input: ['x'], output: ['y'], attribute: [int('axis', 0)] }] },
    /output 'y' carries the batch along axis 1/,
  ],
  [
    {
      what: 'MeanVarianceNormalization (default axes 0, 2, 3)',
      shape: ['batch', 3, 4, 4],
      nodes: [{ opType: 'MeanVarianceNormalization', name: 'mvn', input: ['x'], output: ['y'] }],
    },
    /MeanVarianceNormalization node 'mvn' normalises over the batch axis/,
  ],
  [
    {
      what: 'LayerNormalization axis 0',
      nodes: [{ opType: 'LayerNormalization', name: 'ln', input: ['x', 'g46'], output: ['y'], attribute: [int('axis', 0)] }],
      init: [f32c('g46', [4, 6])],
      noRun: true,
    },
    /LayerNormalization node 'ln' normalises over the batch axis/,
  ],
  [
    {
      what: 'Slice of the first two samples',
      nodes: [{ opType: 'Slice', name: 'sl', input: ['x', 'st', 'en', 'ax'], output: ['y'] }],
      init: [i64c('st', [0]), i64c('en', [2]), i64c('ax', [0])],
    },
    /Slice node 'sl' slices the batch axis/,
  ],
  [
    {
      what: 'Gather axis 0 of the data',
      nodes: [{ opType: 'Gather', name: 'ga', input: ['x', 'idx'], output: ['y'] }],
      init: [i64c('idx', [0])],
    },
    /Gather node 'ga' gathers along the batch axis/,
  ],
  [
    {
      what: 'Concat on the batch axis',
      nodes: [{ opType: 'Concat', name: 'c', input: ['x', 'x'], output: ['y'], attribute: [int('axis', 0)] }],
    },
    /Concat node 'c' concatenates along the batch axis/,
  ],
  [
    {
      what: 'Split on the batch axis',
      nodes: [{ opType: 'Split', name: 'sp', input: ['x'], output: ['y', 'y2'], attribute: [int('axis', 0)] }],
      noRun: true,
    },
    /Split node 'sp' splits along the batch axis/,
  ],
  [
    {
      what: 'Transpose then MatMul contracting the batch',
      shape: ['batch', 4],
      nodes: [
        { opType: 'Transpose', input: ['x'], output: ['xt'] },
        { opType: 'MatMul', name: 'mm', input: ['xt', 'x'], output: ['y'] },
      ],
    },
    /MatMul node 'mm' contracts over the batch axis/,
  ],
  [
    {
      what: 'Gemm transA=1',
      shape: ['batch', 4],
      nodes: [{ opType: 'Gemm', name: 'g', input: ['x', 'x'], output: ['y'], attribute: [int('transA', 1)] }],
    },
    /Gemm node 'g' contracts over the batch axis \(transA\)/,
  ],
  [
    {
      what: 'Einsum bi,bj->ij',
      shape: ['batch', 4],
      nodes: [{ opType: 'Einsum', name: 'e', input: ['x', 'x'], output: ['y'], attribute: [str('equation', 'bi,bj->ij')] }],
    },
    /Einsum node 'e' contracts over the batch axis/,
  ],
  [
    {
      what: 'CumSum along axis 0',
      nodes: [{ opType: 'CumSum', name: 'cs', input: ['x', 'ax'], output: ['y'] }],
      init: [i64c('ax', [0], [])],
    },
    /CumSum node 'cs' may accumulate along the batch axis/,
  ],
  [
    { what: 'ArgMax axis 0', nodes: [{ opType: 'ArgMax', name: 'am', input: ['x'], output: ['y'] }], yType: DT.INT64 },
    /ArgMax node 'am' reduces over the batch axis/,
  ],
  [
    {
      what: 'Tile repeating the batch',
      nodes: [{ opType: 'Tile', name: 'ti', input: ['x', 'rep'], output: ['y'] }],
      init: [i64c('rep', [2, 1, 1])],
    },
    /Tile node 'ti' may repeat along the batch axis/,
  ],
  [
    {
      what: 'Pad on the batch axis',
      nodes: [{ opType: 'Pad', name: 'pd', input: ['x', 'pads'], output: ['y'] }],
      init: [i64c('pads', [1, 0, 0, 0, 0, 0])],
    },
    /Pad node 'pd' pads the batch axis/,
  ],
  [
    {
      what: 'MaxPool with its Indices output',
      shape: ['batch', 2, 4, 4],
      nodes: [
        {
          opType: 'MaxPool',
          name: 'mp',
          input: ['x'],
          output: ['y', 'ind'],
          attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])],
        },
      ],
      noRun: true,
    },
    /MaxPool node 'mp' numbers its Indices across the whole batch/,
  ],
  [
    {
      what: 'dividing by the batch size',
      nodes: [
        { opType: 'Shape', input: ['x'], output: ['sh'] },
        { opType: 'Gather', input: ['sh', 'zero'], output: ['n'] },
        { opType: 'Cast', input: ['n'], output: ['nf'], attribute: [int('to', DT.FLOAT)] },
        { opType: 'Div', name: 'd', input: ['x', 'nf'], output: ['y'] },
      ],
      init: [i64c('zero', [0], [])],
    },
    /Div node 'd' uses a number computed from the batch size \(input 'nf'\)/,
  ],
  [
    {
      what: 'a mixing node after harmless ones',
      nodes: [
        { opType: 'Relu', input: ['x'], output: ['h'] },
        { opType: 'Softmax', name: 's2', input: ['h'], output: ['y'], attribute: [int('axis', 0)] },
      ],
    },
    /Softmax node 's2'/,
  ],
  [
    { what: 'a fixed batch size', shape: [8, 4, 6], nodes: [{ opType: 'Relu', input: ['x'], output: ['y'] }], noRun: true },
    /input 'x' has a fixed batch size 8/,
  ],
  [
    { what: 'Loop', nodes: [{ opType: 'Loop', name: 'l', input: ['n', 'c'], output: ['y'] }], noRun: true },
    /Loop node 'l' is control flow/,
  ],
  [
    {
      what: 'a com.microsoft op',
      nodes: [{ opType: 'FusedMatMul', domain: 'com.microsoft', name: 'm', input: ['x', 'w'], output: ['y'] }],
      init: [W46],
      noRun: true,
    },
    /com\.microsoft:FusedMatMul node 'm' has no batch-axis rule/,
  ],
  [
    { what: 'an op without a rule', nodes: [{ opType: 'Frobnicate', name: 'f', input: ['x'], output: ['y'] }], noRun: true },
    /Frobnicate node 'f' has no batch-axis rule/,
  ],
];

const separable: Case[] = [
  {
    what: 'BN in eval mode',
    shape: ['batch', 3, 4, 4],
    nodes: [{ opType: 'BatchNormalization', input: ['x', 's', 'bb', 'm', 'v'], output: ['y'] }],
    init: [f32c('s', [3]), f32c('bb', [3]), f32c('m', [3]), makeTensor('v', DT.FLOAT, [3], [1, 2, 3])],
  },
  // onnxruntime-node 1.x segfaults on this one (empty output names); the product never runs BN undecomposed.
  {
    what: 'BN opset 9 with unused (empty) statistics outputs',
    opset: 9,
    shape: ['batch', 3, 4, 4],
    nodes: [{ opType: 'BatchNormalization', input: ['x', 's', 'bb', 'm', 'v'], output: ['y', '', '', '', ''] }],
    init: [f32c('s', [3]), f32c('bb', [3]), f32c('m', [3]), makeTensor('v', DT.FLOAT, [3], [1, 2, 3])],
    noRun: true,
  },
  {
    what: 'ReduceMean axes [1], keepdims 0, then Softmax axis 1',
    opset: 14,
    nodes: [
      { opType: 'ReduceMean', input: ['x'], output: ['r'], attribute: [ints('axes', [1]), int('keepdims', 0)] },
      { opType: 'Softmax', input: ['r'], output: ['y'], attribute: [int('axis', 1)] },
    ],
  },
  {
    what: 'ReduceMean axes [-1] as an opset-18 input',
    opset: 18,
    nodes: [{ opType: 'ReduceMean', input: ['x', 'axes'], output: ['y'] }],
    init: [i64c('axes', [-1])],
  },
  { what: 'Softmax default axis', nodes: [{ opType: 'Softmax', input: ['x'], output: ['y'] }] },
  {
    what: 'Transpose out and back, then Softmax axis 1',
    nodes: [
      { opType: 'Transpose', input: ['x'], output: ['t'], attribute: [ints('perm', [2, 0, 1])] },
      { opType: 'Transpose', input: ['t'], output: ['u'], attribute: [ints('perm', [1, 2, 0])] },
      { opType: 'Softmax', input: ['u'], output: ['y'], attribute: [int('axis', 1)] },
    ],
  },
  {
    what: 'Reshape to a constant [-1, 24] target, then Gemm',
    nodes: [
      { opType: 'Reshape', input: ['x', 'tgt'], output: ['h'] },
      { opType: 'Gemm', input: ['h', 'w24'], output: ['y'], attribute: [int('transB', 1)] },
    ],
    init: [i64c('tgt', [-1, 24]), f32c('w24', [5, 24])],
  },
  {
    what: 'merge [B·4, 6], MatMul, back to [B, 4, 3] by a Shape-built target, LogSoftmax axis 1',
    nodes: [
      { opType: 'Reshape', input: ['x', 't6'], output: ['m'] },
      { opType: 'MatMul', input: ['m', 'w'], output: ['mw'] },
      { opType: 'Shape', input: ['x'], output: ['sh'] },
      { opType: 'Slice', input: ['sh', 'z1', 'o1'], output: ['b'] },
      { opType: 'Concat', input: ['b', 'c43'], output: ['tb'], attribute: [int('axis', 0)] },
      { opType: 'Reshape', input: ['mw', 'tb'], output: ['back'] },
      { opType: 'LogSoftmax', input: ['back'], output: ['y'], attribute: [int('axis', 1)] },
    ],
    init: [i64c('t6', [-1, 6]), W46, i64c('z1', [0]), i64c('o1', [1]), i64c('c43', [4, 3])],
  },
  {
    what: 'Flatten axis 1 after Unsqueeze and Squeeze',
    nodes: [
      { opType: 'Unsqueeze', input: ['x', 'a1'], output: ['u'] },
      { opType: 'Squeeze', input: ['u', 'a1'], output: ['s'] },
      { opType: 'Flatten', input: ['s'], output: ['y'], attribute: [int('axis', 1)] },
    ],
    init: [i64c('a1', [1])],
  },
  {
    what: 'embedding: Gather of a table at int64 tokens',
    shape: ['batch', 5],
    tokens: true,
    nodes: [{ opType: 'Gather', input: ['tab', 'x'], output: ['y'] }],
    init: [f32c('tab', [10, 3])],
  },
  {
    what: 'Einsum bij,jk->bik and a batched MatMul of two sample tensors',
    nodes: [
      { opType: 'Einsum', input: ['x', 'w'], output: ['e'], attribute: [str('equation', 'bij,jk->bik')] },
      { opType: 'Transpose', input: ['e'], output: ['et'], attribute: [ints('perm', [0, 2, 1])] },
      { opType: 'MatMul', input: ['e', 'et'], output: ['ex'] },
      { opType: 'MatMul', input: ['ex', 'x'], output: ['y'] },
    ],
    init: [W46],
  },
  {
    what: 'Split axis 2, Concat axis 1, Slice of axis 1 and a whole Slice of axis 0',
    nodes: [
      { opType: 'Split', input: ['x'], output: ['p', 'q'], attribute: [int('axis', 2)] },
      { opType: 'Concat', input: ['p', 'q'], output: ['c'], attribute: [int('axis', 1)] },
      { opType: 'Slice', input: ['c', 'st', 'en', 'ax'], output: ['y'] },
    ],
    init: [i64c('st', [1, 0]), i64c('en', [3, 2 ** 53]), i64c('ax', [1, 0])],
  },
  {
    what: 'Expand [B, 1, 6] to [1, 4, 6], Where with a constant mask, CumSum axis 1',
    shape: ['batch', 1, 6],
    nodes: [
      { opType: 'Expand', input: ['x', 'to'], output: ['e'] },
      { opType: 'Where', input: ['mask', 'e', 'zf'], output: ['w'] },
      { opType: 'CumSum', input: ['w', 'ax'], output: ['y'] },
    ],
    init: [
      i64c('to', [1, 4, 6]),
      makeTensor(
        'mask',
        DT.BOOL,
        [4, 6],
        Array.from({ length: 24 }, (_, i) => i % 3),
      ),
      makeTensor('zf', DT.FLOAT, [], [0]),
      i64c('ax', [1], []),
    ],
  },
  {
    what: 'Conv, MaxPool, GlobalAveragePool, LayerNormalization axis -1',
    shape: ['batch', 2, 6, 6],
    nodes: [
      { opType: 'Conv', input: ['x', 'cw'], output: ['c'], attribute: [ints('kernel_shape', [3, 3])] },
      { opType: 'MaxPool', input: ['c'], output: ['p'], attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] },
      { opType: 'GlobalAveragePool', input: ['p'], output: ['gp'] },
      { opType: 'LayerNormalization', input: ['gp', 'lg'], output: ['y'], attribute: [int('axis', -1)] },
    ],
    init: [f32c('cw', [3, 2, 3, 3]), makeTensor('lg', DT.FLOAT, [1], [1.5])],
  },
  {
    what: 'Trilu of the last two axes, Pad of axis 2, Tile of axis 1',
    nodes: [
      { opType: 'Trilu', input: ['x'], output: ['t'] },
      { opType: 'Pad', input: ['t', 'pads'], output: ['p'] },
      { opType: 'Tile', input: ['p', 'rep'], output: ['y'] },
    ],
    init: [i64c('pads', [0, 0, 1, 0, 0, 2]), i64c('rep', [1, 2, 1])],
  },
];

test('batchCoupling: ops that may mix samples give a reason naming the node', async (t) => {
  const wrong: string[] = [];
  for (const [c, re] of mixing) {
    const why = batchCoupling(modelOf(c));
    if (why === null || !re.test(why)) wrong.push(`${c.what}: got ${JSON.stringify(why)}, expected ${re}`);
    if (c.noRun) continue;
    if (await shardsReproduce(c)) wrong.push(`${c.what}: flagged, yet two shards reproduce the whole batch`);
  }
  assert.deepEqual(wrong, []);
  t.diagnostic(`${mixing.length} mixing cases, ${mixing.filter(([c]) => !c.noRun).length} confirmed by running them`);
});

test('batchCoupling: per-sample models give null, and two shards reproduce the whole batch', async () => {
  const wrong: string[] = [];
  for (const c of separable) {
    const why = batchCoupling(modelOf(c));
    if (why !== null) wrong.push(`${c.what}: ${why}`);
    if (!c.noRun && !(await shardsReproduce(c))) wrong.push(`${c.what}: two shards differ from the whole batch`);
  }
  assert.deepEqual(wrong, []);
});

test('Reshape -1 cancels symbolic dims the target names: [batch, 1, 28, 28] → [-1, 784] is [batch, 784]', () => {
  const node = { name: 'r', opType: 'Reshape', domain: '', inputs: ['x', 't'], outputs: ['y'], attrs: [] };
  const infer = (x: Dim[], t: Dim[]) =>
    inferNode(
      node,
      (n) =>
        n === 'x'
          ? { dtype: DT.FLOAT, shape: x }
          : {
              dtype: DT.INT64,
              shape: [t.length],
              ...(t.every((d) => typeof d === 'number') ? { value: t as number[] } : { dimsValue: t }),
            },
      17,
    )[0].shape;
  assert.deepEqual(infer(['batch', 1, 28, 28], [-1, 784]), ['batch', 784]);
  assert.deepEqual(infer(['batch', 'seq', 8], ['batch', -1]), ['batch', null]); // seq·8 is no single dim
  assert.deepEqual(infer(['batch', 'seq', 8], [-1, 'seq', 2]), [null, 'seq', 2]); // 4·batch
  assert.deepEqual(infer(['batch', 'seq', 8], ['batch', 'seq', -1]), ['batch', 'seq', 8]);
  assert.deepEqual(infer(['batch', 6], [-1, 4]), [null, 4]); // 6 is not a multiple of 4
  assert.deepEqual(infer([3, 8], [-1, 4]), [6, 4]);
});
