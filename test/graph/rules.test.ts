/**
 * Every gradient rule against central finite differences, first and second order (Hv of a scalar function of the
 * op vs differences of its gradient). float64 where onnxruntime has double kernels (eps 1e-5, tol 1e-6 relative);
 * float32 where ORT has no double kernel (Conv, ConvTranspose, pooling, Erf, LeakyRelu: eps 3e-3, tol 2e-3 on the
 * gradient, 2e-2 on Hv). Driven by the op table (src/graph/ops/): the cases run op by op in the table's order, every
 * op with a gradient rule or a decomposition has at least one, and every case names an op of the table (a case's op
 * is the first word of its name; private ops by their bare name).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DT } from '../../src/graph/ir.js';
import { INTERNAL_DOMAIN, MICROSOFT_DOMAIN } from '../../src/graph/op-names.js';
import { opTable } from '../../src/graph/ops/index.js';
import { checkCase, type Case } from './check.js';

const pos = (n: number, lo = 0.5, hi = 1.5): number[] => Array.from({ length: n }, (_, i) => lo + ((i * 0.37) % 1) * (hi - lo));
/** Values bounded away from 0 (for Abs/Relu kinks), alternating sign. */
const away = (n: number): number[] => Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (0.2 + ((i * 0.41) % 0.7)));
const distinct = (n: number, shift = 0): number[] => Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + shift) * 0.9);

const cases: Case[] = [
  // ---- element-wise, broadcasting ----
  {
    name: 'Add [2,3]+[3]',
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [3] },
    ],
    build: (b, [x, y]) => b.add(x, y),
  },
  {
    name: 'Add [2,3]+[2,1]',
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [2, 1] },
    ],
    build: (b, [x, y]) => b.add(x, y),
  },
  {
    name: 'Sub [1,3]-[2,1,3]',
    inputs: [
      { name: 'a', dims: [1, 3] },
      { name: 'b', dims: [2, 1, 3] },
    ],
    build: (b, [x, y]) => b.sub(x, y),
  },
  {
    name: 'Mul [2,1,3]*[4,1]',
    inputs: [
      { name: 'a', dims: [2, 1, 3] },
      { name: 'b', dims: [4, 1] },
    ],
    build: (b, [x, y]) => b.mul(x, y),
  },
  { name: 'Mul x*x', inputs: [{ name: 'a', dims: [5] }], build: (b, [x]) => b.mul(x, x) },
  {
    name: 'Div [2,3]/[3]',
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [3], data: pos(3) },
    ],
    build: (b, [x, y]) => b.div(x, y),
  },
  { name: 'Neg', inputs: [{ name: 'a', dims: [4] }], build: (b, [x]) => b.neg(x) },
  { name: 'Identity', inputs: [{ name: 'a', dims: [4] }], build: (b, [x]) => b.op('Identity', [x]) },
  {
    name: 'Sum variadic',
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [3] },
      { name: 'c', dims: [2, 1] },
    ],
    build: (b, [x, y, z]) => b.op('Sum', [x, y, z]),
  },
  { name: 'Pow x^2 (const)', inputs: [{ name: 'a', dims: [4] }], build: (b, [x]) => b.op('Pow', [x, b.scalar(2, DT.DOUBLE)]) },
  {
    name: 'Pow x^p (both)',
    inputs: [
      { name: 'a', dims: [2, 3], data: pos(6) },
      { name: 'p', dims: [3], data: [0.5, 1.7, 2.5] },
    ],
    build: (b, [x, p]) => b.op('Pow', [x, p]),
  },
  { name: 'Sqrt', inputs: [{ name: 'a', dims: [5], data: pos(5) }], build: (b, [x]) => b.op('Sqrt', [x]) },
  { name: 'Exp', inputs: [{ name: 'a', dims: [5] }], build: (b, [x]) => b.op('Exp', [x]) },
  { name: 'Log', inputs: [{ name: 'a', dims: [5], data: pos(5) }], build: (b, [x]) => b.op('Log', [x]) },
  { name: 'Reciprocal', inputs: [{ name: 'a', dims: [5], data: pos(5) }], build: (b, [x]) => b.op('Reciprocal', [x]) },
  { name: 'Tanh', inputs: [{ name: 'a', dims: [5] }], build: (b, [x]) => b.op('Tanh', [x]) },
  { name: 'Sigmoid', inputs: [{ name: 'a', dims: [5] }], build: (b, [x]) => b.op('Sigmoid', [x]) },
  { name: 'Erf', dtype: 'float32', inputs: [{ name: 'a', dims: [5] }], build: (b, [x]) => b.op('Erf', [x]) },
  { name: 'Sin', inputs: [{ name: 'a', dims: [5] }], build: (b, [x]) => b.op('Sin', [x]) },
  { name: 'Cos', inputs: [{ name: 'a', dims: [5] }], build: (b, [x]) => b.op('Cos', [x]) },
  { name: 'Softplus', dtype: 'float32', inputs: [{ name: 'a', dims: [5] }], build: (b, [x]) => b.op('Softplus', [x]) },
  {
    name: 'Elu',
    dtype: 'float32',
    inputs: [{ name: 'a', dims: [6], data: away(6) }],
    build: (b, [x]) => b.op('Elu', [x], { alpha: { f: 0.7 } }),
  },
  { name: 'Abs', inputs: [{ name: 'a', dims: [6], data: away(6) }], build: (b, [x]) => b.op('Abs', [x]) },
  { name: 'Relu', inputs: [{ name: 'a', dims: [6], data: away(6) }], build: (b, [x]) => b.op('Relu', [x]) },
  {
    name: 'LeakyRelu',
    dtype: 'float32',
    inputs: [{ name: 'a', dims: [6], data: away(6) }],
    build: (b, [x]) => b.op('LeakyRelu', [x], { alpha: { f: 0.1 } }),
  },
  {
    name: 'Clip [-0.5, 0.5]',
    inputs: [{ name: 'a', dims: [6], data: [-0.9, -0.3, 0.1, 0.45, 0.7, -0.6] }],
    build: (b, [x]) => b.op('Clip', [x, b.scalar(-0.5, DT.DOUBLE), b.scalar(0.5, DT.DOUBLE)]),
  },
  {
    name: 'Clip min only',
    inputs: [{ name: 'a', dims: [4], data: [-0.9, -0.3, 0.1, 0.45] }],
    build: (b, [x]) => b.op('Clip', [x, b.scalar(-0.5, DT.DOUBLE)]),
  },
  {
    name: 'Max broadcast',
    inputs: [
      { name: 'a', dims: [2, 3], data: distinct(6) },
      { name: 'b', dims: [3], data: distinct(3, 0.5) },
    ],
    build: (b, [x, y]) => b.op('Max', [x, y]),
  },
  {
    name: 'Min',
    inputs: [
      { name: 'a', dims: [2, 3], data: distinct(6) },
      { name: 'b', dims: [2, 3], data: distinct(6, 0.5) },
    ],
    build: (b, [x, y]) => b.op('Min', [x, y]),
  },
  {
    name: 'Where broadcast',
    inputs: [
      { name: 'c', dims: [2, 3], int: [1, 0, 1, 0, 0, 1] },
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [3] },
    ],
    build: (b, [c, x, y]) => b.where(b.op('Cast', [c], { to: DT.BOOL }), x, y),
  },
  {
    name: 'Cast f64→f32→f64',
    tol: 1e-3,
    eps: 1e-2,
    inputs: [{ name: 'a', dims: [4] }],
    build: (b, [x]) => b.op('Cast', [b.op('Cast', [x], { to: DT.FLOAT })], { to: DT.DOUBLE }),
  },
  { name: 'Trilu lower k=1', inputs: [{ name: 'a', dims: [3, 4] }], build: (b, [x]) => b.op('Trilu', [x, b.i64Scalar(1)], { upper: 0 }) },
  { name: 'Trilu upper', inputs: [{ name: 'a', dims: [2, 3, 3] }], build: (b, [x]) => b.op('Trilu', [x]) },
  { name: 'CumSum axis 1', inputs: [{ name: 'a', dims: [3, 4] }], build: (b, [x]) => b.op('CumSum', [x, b.i64Scalar(1)]) },
  {
    name: 'CumSum axis -3, exclusive, reverse',
    inputs: [{ name: 'a', dims: [3, 2, 2] }],
    build: (b, [x]) => b.op('CumSum', [x, b.i64Scalar(-3)], { exclusive: 1, reverse: 1 }),
  },
  // ---- linear algebra ----
  {
    name: 'MatMul 2-D',
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [3, 4] },
    ],
    build: (b, [x, y]) => b.matmul(x, y),
  },
  {
    name: 'MatMul batch-broadcast',
    inputs: [
      { name: 'a', dims: [2, 1, 2, 3] },
      { name: 'b', dims: [3, 3, 2] },
    ],
    build: (b, [x, y]) => b.matmul(x, y),
  },
  {
    name: 'MatMul 3-D @ 2-D',
    inputs: [
      { name: 'a', dims: [2, 2, 3] },
      { name: 'b', dims: [3, 2] },
    ],
    build: (b, [x, y]) => b.matmul(x, y),
  },
  {
    name: 'MatMul vec @ mat',
    inputs: [
      { name: 'a', dims: [3] },
      { name: 'b', dims: [2, 3, 4] },
    ],
    build: (b, [x, y]) => b.matmul(x, y),
  },
  {
    name: 'MatMul mat @ vec',
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [3] },
    ],
    build: (b, [x, y]) => b.matmul(x, y),
  },
  {
    name: 'MatMul vec @ vec',
    inputs: [
      { name: 'a', dims: [3] },
      { name: 'b', dims: [3] },
    ],
    build: (b, [x, y]) => b.matmul(x, y),
  },
  ...[
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ].map(
    ([ta, tb]): Case => ({
      name: `Gemm transA=${ta} transB=${tb} alpha/beta`,
      inputs: [
        { name: 'a', dims: ta ? [3, 2] : [2, 3] },
        { name: 'b', dims: tb ? [4, 3] : [3, 4] },
        { name: 'c', dims: [4] },
      ],
      build: (b, [x, y, c]) => b.op('Gemm', [x, y, c], { transA: ta, transB: tb, alpha: { f: 0.7 }, beta: { f: 1.3 } }),
    }),
  ),
  {
    name: 'Gemm C [2,1]',
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [3, 4] },
      { name: 'c', dims: [2, 1] },
    ],
    build: (b, [x, y, c]) => b.op('Gemm', [x, y, c]),
  },
  {
    name: 'Gemm no C',
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [4, 3] },
    ],
    build: (b, [x, y]) => b.op('Gemm', [x, y], { transB: 1 }),
  },
  // ---- softmax family, reductions ----
  { name: 'Softmax axis -1', inputs: [{ name: 'a', dims: [2, 4] }], build: (b, [x]) => b.op('Softmax', [x], { axis: -1 }) },
  { name: 'Softmax axis 0 (3-D)', inputs: [{ name: 'a', dims: [3, 2, 2] }], build: (b, [x]) => b.op('Softmax', [x], { axis: 0 }) },
  { name: 'LogSoftmax axis 1', inputs: [{ name: 'a', dims: [2, 4] }], build: (b, [x]) => b.op('LogSoftmax', [x], { axis: 1 }) },
  {
    name: 'ReduceSum axes [1] keepdims 0',
    inputs: [{ name: 'a', dims: [2, 3, 2] }],
    build: (b, [x]) => b.op('ReduceSum', [x, b.i64([1])], { keepdims: 0 }),
  },
  {
    name: 'ReduceSum axes [0,-1] keepdims 1',
    inputs: [{ name: 'a', dims: [2, 3, 2] }],
    build: (b, [x]) => b.op('ReduceSum', [x, b.i64([0, -1])], { keepdims: 1 }),
  },
  { name: 'ReduceSum all', inputs: [{ name: 'a', dims: [2, 3] }], build: (b, [x]) => b.op('ReduceSum', [x], { keepdims: 0 }) },
  {
    name: 'ReduceMean axes [-1]',
    inputs: [{ name: 'a', dims: [2, 3] }],
    build: (b, [x]) => b.op('ReduceMean', [x], { axes: [-1], keepdims: 1 }),
  },
  { name: 'ReduceMean all keepdims 0', inputs: [{ name: 'a', dims: [2, 3] }], build: (b, [x]) => b.op('ReduceMean', [x], { keepdims: 0 }) },
  {
    name: 'ReduceMean opset 18 (axes input)',
    opset: 18,
    inputs: [{ name: 'a', dims: [2, 3] }],
    build: (b, [x]) => b.op('ReduceMean', [x, b.i64([0])], { keepdims: 0 }),
  },
  // ---- data movement ----
  { name: 'Reshape', inputs: [{ name: 'a', dims: [2, 3] }], build: (b, [x]) => b.reshape(x, b.i64([3, -1])) },
  { name: 'Flatten axis 2', inputs: [{ name: 'a', dims: [2, 2, 3] }], build: (b, [x]) => b.op('Flatten', [x], { axis: 2 }) },
  { name: 'Squeeze', inputs: [{ name: 'a', dims: [2, 1, 3] }], build: (b, [x]) => b.squeeze(x, [1]) },
  { name: 'Unsqueeze', inputs: [{ name: 'a', dims: [2, 3] }], build: (b, [x]) => b.unsqueeze(x, [0, -1]) },
  { name: 'Transpose perm', inputs: [{ name: 'a', dims: [2, 3, 4] }], build: (b, [x]) => b.transpose(x, [2, 0, 1]) },
  { name: 'Transpose default', inputs: [{ name: 'a', dims: [2, 3] }], build: (b, [x]) => b.op('Transpose', [x]) },
  { name: 'Expand', inputs: [{ name: 'a', dims: [3, 1] }], build: (b, [x]) => b.expand(x, b.i64([2, 3, 4])) },
  {
    name: 'Concat axis 1',
    inputs: [
      { name: 'a', dims: [2, 1] },
      { name: 'b', dims: [2, 3] },
      { name: 'c', dims: [2, 2] },
    ],
    build: (b, [x, y, z]) => b.op('Concat', [x, y, z], { axis: 1 }),
  },
  {
    name: 'Split sizes, one output used',
    inputs: [{ name: 'a', dims: [2, 5] }],
    build: (b, [x]) => b.opN('Split', [x, b.i64([2, 3])], 2, { axis: 1 })[1],
  },
  {
    name: 'Split equal, both used',
    inputs: [{ name: 'a', dims: [4, 2] }],
    build: (b, [x]) => {
      const [p, q] = b.opN('Split', [x], 2, { axis: 0 });
      return b.mul(p, q);
    },
  },
  {
    name: 'Gather axis 0, 2-D repeated indices',
    inputs: [
      { name: 'a', dims: [4, 3] },
      { name: 'i', dims: [2, 3], int: [0, 3, 3, 1, -1, 0] },
    ],
    build: (b, [x, i]) => b.op('Gather', [x, i], { axis: 0 }),
  },
  {
    name: 'Gather axis 1, scalar index',
    inputs: [
      { name: 'a', dims: [2, 4, 2] },
      { name: 'i', dims: [], int: [2] },
    ],
    build: (b, [x, i]) => b.op('Gather', [x, i], { axis: 1 }),
  },
  {
    name: 'Pad constant',
    inputs: [{ name: 'a', dims: [2, 3] }],
    build: (b, [x]) => b.op('Pad', [x, b.i64([1, 0, 0, 2]), b.scalar(0.5, DT.DOUBLE)], { mode: 'constant' }),
  },
  {
    name: 'Pad axes (opset 18)',
    opset: 18,
    inputs: [{ name: 'a', dims: [2, 3] }],
    build: (b, [x]) => b.op('Pad', [x, b.i64([2, 1]), '', b.i64([-1])]),
  },
  {
    name: 'Gather axis 0 (opset 16, ScatterND)',
    opset: 16,
    inputs: [
      { name: 'a', dims: [4, 3] },
      { name: 'i', dims: [2, 3], int: [0, 3, 3, 1, -1, 0] },
    ],
    build: (b, [x, i]) => b.op('Gather', [x, i], { axis: 0 }),
  },
  {
    name: 'Gather axis 1, 2-D indices (opset 16)',
    opset: 16,
    inputs: [
      { name: 'a', dims: [2, 4, 2] },
      { name: 'i', dims: [2, 2], int: [1, 1, 3, 0] },
    ],
    build: (b, [x, i]) => b.op('Gather', [x, i], { axis: 1 }),
  },
  {
    name: 'Gather axis -1, scalar index (opset 16)',
    opset: 16,
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'i', dims: [], int: [2] },
    ],
    build: (b, [x, i]) => b.op('Gather', [x, i], { axis: -1 }),
  },
  {
    name: 'GatherND (duplicates)',
    opset: 16,
    inputs: [
      { name: 'a', dims: [3, 2] },
      { name: 'i', dims: [3, 1], int: [2, 0, 2] },
    ],
    build: (b, [x, i]) => b.op('GatherND', [x, i]),
  },
  {
    name: 'ScatterND add (data and updates)',
    opset: 16,
    inputs: [
      { name: 'a', dims: [3, 2] },
      { name: 'i', dims: [2, 1], int: [1, 1] },
      { name: 'u', dims: [2, 2] },
    ],
    build: (b, [x, i, u]) => b.op('ScatterND', [x, i, u], { reduction: 'add' }),
  },
  {
    name: 'ScatterND none (overwrite)',
    opset: 16,
    inputs: [
      { name: 'a', dims: [3, 2] },
      { name: 'i', dims: [2, 1], int: [2, 0] },
      { name: 'u', dims: [2, 2] },
    ],
    build: (b, [x, i, u]) => b.op('ScatterND', [x, i, u]),
  },
  {
    name: 'Slice step 2 and -1 (opset 16)',
    opset: 16,
    inputs: [{ name: 'a', dims: [4, 5] }],
    build: (b, [x]) => b.op('Slice', [x, b.i64([0, 4]), b.i64([4, 0]), b.i64([0, 1]), b.i64([2, -1])]),
  },
  { name: 'Slice basic', inputs: [{ name: 'a', dims: [3, 5] }], build: (b, [x]) => b.op('Slice', [x, b.i64([1]), b.i64([4]), b.i64([1])]) },
  {
    name: 'Slice negative, two axes',
    inputs: [{ name: 'a', dims: [3, 5] }],
    build: (b, [x]) => b.op('Slice', [x, b.i64([-2, 0]), b.i64([1000, -1]), b.i64([0, 1])]),
  },
  {
    name: 'Slice step 2 and -1',
    inputs: [{ name: 'a', dims: [4, 5] }],
    build: (b, [x]) => b.op('Slice', [x, b.i64([0, 4]), b.i64([4, 0]), b.i64([0, 1]), b.i64([2, -1])]),
  },
  { name: 'Slice no axes', inputs: [{ name: 'a', dims: [3, 4] }], build: (b, [x]) => b.op('Slice', [x, b.i64([1, 1]), b.i64([3, 3])]) },
  // ---- convolution and pooling (float32 kernels only) ----
  {
    name: 'Conv pads 1',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [2, 2, 4, 4] },
      { name: 'w', dims: [3, 2, 3, 3] },
      { name: 'c', dims: [3] },
    ],
    build: (b, [x, w, c]) => b.op('Conv', [x, w, c], { pads: [1, 1, 1, 1] }),
  },
  // kk ≤ 2·O: the weight gradient takes the im2col (one-hot grouped Conv + MatMul) form.
  {
    name: 'Conv 8 outputs, pads 1, stride 2 (im2col weight gradient)',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [2, 2, 5, 6] },
      { name: 'w', dims: [8, 2, 3, 3] },
      { name: 'c', dims: [8] },
    ],
    build: (b, [x, w, c]) => b.op('Conv', [x, w, c], { pads: [1, 1, 0, 1], strides: [2, 2] }),
  },
  {
    name: 'ConvTranspose stride 2, output_padding (im2col weight gradient)',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [1, 5, 3, 3] },
      { name: 'w', dims: [5, 2, 3, 3] },
    ],
    build: (b, [x, w]) => b.op('ConvTranspose', [x, w], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }),
  },
  {
    name: 'Conv stride 2 odd size',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [1, 2, 5, 6] },
      { name: 'w', dims: [2, 2, 3, 2] },
    ],
    build: (b, [x, w]) => b.op('Conv', [x, w], { strides: [2, 2], pads: [1, 0, 0, 1] }),
  },
  {
    name: 'Conv dilation 2',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [1, 1, 6, 6] },
      { name: 'w', dims: [2, 1, 2, 2] },
    ],
    build: (b, [x, w]) => b.op('Conv', [x, w], { dilations: [2, 2] }),
  },
  {
    name: 'Conv SAME_UPPER',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [1, 1, 5, 5] },
      { name: 'w', dims: [1, 1, 2, 2] },
    ],
    build: (b, [x, w]) => b.op('Conv', [x, w], { auto_pad: 'SAME_UPPER', strides: [2, 2] }),
  },
  {
    name: 'Conv 1-D',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [2, 2, 7] },
      { name: 'w', dims: [3, 2, 3] },
      { name: 'c', dims: [3] },
    ],
    build: (b, [x, w, c]) => b.op('Conv', [x, w, c], { strides: [2] }),
  },
  {
    name: 'Conv group 2',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [2, 4, 4, 4] },
      { name: 'w', dims: [6, 2, 3, 3] },
      { name: 'c', dims: [6] },
    ],
    build: (b, [x, w, c]) => b.op('Conv', [x, w, c], { group: 2, pads: [1, 1, 1, 1] }),
  },
  {
    name: 'Conv depthwise, stride 2',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [1, 3, 5, 5] },
      { name: 'w', dims: [3, 1, 3, 3] },
    ],
    build: (b, [x, w]) => b.op('Conv', [x, w], { group: 3, strides: [2, 2] }),
  },
  {
    name: 'PatchConv stride 2, pads 1',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [2, 2, 5, 5] },
      { name: 'w', dims: [6, 2, 3, 3] },
    ],
    build: (b, [x, w]) =>
      b.opN('PatchConv', [x, w], 1, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1] }, INTERNAL_DOMAIN)[0],
  },
  {
    name: 'ConvWeightGrad 3x3 (x and dy)',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [2, 2, 5, 5] },
      { name: 'dy', dims: [2, 3, 3, 3] },
    ],
    build: (b, [x, dy]) =>
      b.opN(
        'ConvWeightGrad',
        [x, dy],
        1,
        { kernel_shape: [3, 3], strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1] },
        INTERNAL_DOMAIN,
      )[0],
  },
  {
    name: 'ConvTranspose stride 2',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [1, 2, 3, 3] },
      { name: 'w', dims: [2, 3, 3, 3] },
      { name: 'c', dims: [3] },
    ],
    build: (b, [x, w, c]) => b.op('ConvTranspose', [x, w, c], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }),
  },
  {
    name: 'ConvTranspose group 2, dilation 2',
    dtype: 'float32',
    inputs: [
      { name: 'x', dims: [1, 4, 3, 3] },
      { name: 'w', dims: [4, 1, 2, 2] },
    ],
    build: (b, [x, w]) => b.op('ConvTranspose', [x, w], { group: 2, dilations: [2, 2] }),
  },
  {
    name: 'MaxPool 2x2',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [2, 2, 4, 4], data: distinct(64) }],
    build: (b, [x]) => b.op('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] }),
  },
  {
    name: 'MaxPool 3x3 stride 3 (window-layout path)',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [2, 2, 6, 3], data: distinct(72) }],
    build: (b, [x]) => b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [3, 3] }),
  },
  {
    name: 'SpaceToDepth 2',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [2, 3, 4, 2] }],
    build: (b, [x]) => b.op('SpaceToDepth', [x], { blocksize: 2 }),
  },
  {
    name: 'DepthToSpace 2 DCR',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [2, 8, 2, 3] }],
    build: (b, [x]) => b.op('DepthToSpace', [x], { blocksize: 2, mode: 'DCR' }),
  },
  {
    name: 'DepthToSpace 2 CRD',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [1, 8, 3, 2] }],
    build: (b, [x]) => b.op('DepthToSpace', [x], { blocksize: 2, mode: 'CRD' }),
  },
  {
    name: 'MaxPool 3x3 stride 2 pad 1 (ResNet stem)',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [1, 2, 5, 5], data: distinct(50) }],
    build: (b, [x]) => b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  },
  {
    name: 'MaxPool overlapping 2x2 stride 1',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [1, 1, 4, 4], data: distinct(16) }],
    build: (b, [x]) => b.op('MaxPool', [x], { kernel_shape: [2, 2] }),
  },
  {
    name: 'MaxPool ceil_mode, dilation 2',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [1, 1, 6, 7], data: distinct(42) }],
    build: (b, [x]) => b.op('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2], dilations: [2, 2], ceil_mode: 1 }),
  },
  {
    name: 'MaxPool 1-D',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [2, 1, 7], data: distinct(14) }],
    build: (b, [x]) => b.op('MaxPool', [x], { kernel_shape: [3], strides: [2] }),
  },
  {
    name: 'AveragePool 2x2',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [1, 2, 4, 4] }],
    build: (b, [x]) => b.op('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] }),
  },
  {
    name: 'AveragePool 3x3 stride 2 pad 1, count_include_pad 0',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [1, 2, 5, 5] }],
    build: (b, [x]) => b.op('AveragePool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  },
  {
    name: 'AveragePool pad 1, count_include_pad 1, ceil_mode',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [1, 1, 6, 6] }],
    build: (b, [x]) =>
      b.op('AveragePool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1, ceil_mode: 1 }),
  },
  {
    name: 'GlobalAveragePool',
    dtype: 'float32',
    inputs: [{ name: 'x', dims: [2, 3, 2, 2] }],
    build: (b, [x]) => b.op('GlobalAveragePool', [x]),
  },
  // ---- decomposed composites ----
  {
    name: 'Gelu (erf)',
    dtype: 'float32',
    opset: 20,
    decompose: true,
    inputs: [{ name: 'a', dims: [6] }],
    build: (b, [x]) => b.op('Gelu', [x]),
  },
  {
    name: 'com.microsoft:Gelu',
    dtype: 'float32',
    opset: 17,
    decompose: true,
    inputs: [{ name: 'a', dims: [6] }],
    build: (b, [x]) => b.opN('Gelu', [x], 1, {}, MICROSOFT_DOMAIN)[0],
  },
  {
    name: 'Gelu (tanh)',
    opset: 20,
    decompose: true,
    inputs: [{ name: 'a', dims: [6] }],
    build: (b, [x]) => b.op('Gelu', [x], { approximate: 'tanh' }),
  },
  {
    name: 'LayerNormalization',
    opset: 17,
    decompose: true,
    inputs: [
      { name: 'x', dims: [2, 4] },
      { name: 's', dims: [4] },
      { name: 'b', dims: [4] },
    ],
    build: (b, [x, s, c]) => b.op('LayerNormalization', [x, s, c], { epsilon: { f: 1e-5 } }),
  },
  {
    name: 'BatchNormalization (inference)',
    opset: 15,
    decompose: true,
    inputs: [
      { name: 'x', dims: [2, 3, 2] },
      { name: 's', dims: [3] },
      { name: 'b', dims: [3] },
      { name: 'm', dims: [3] },
      { name: 'v', dims: [3], data: pos(3), nodiff: true },
    ],
    build: (b, [x, s, c, m, v]) => b.op('BatchNormalization', [x, s, c, m, v]),
  },
  {
    name: 'BatchNormalization (training statistics)',
    opset: 15,
    decompose: true,
    inputs: [
      { name: 'x', dims: [3, 2, 2] },
      { name: 's', dims: [2] },
      { name: 'b', dims: [2] },
      { name: 'm', dims: [2], nodiff: true },
      { name: 'v', dims: [2], data: pos(2), nodiff: true },
    ],
    build: (b, [x, s, c, m, v]) => b.opN('BatchNormalization', [x, s, c, m, v], 1, { training_mode: 1 })[0],
  },
  { name: 'Dropout (identity)', opset: 13, decompose: true, inputs: [{ name: 'a', dims: [4] }], build: (b, [x]) => b.op('Dropout', [x]) },
];

/** The op a case checks: the first word of its name. */
const opOf = (c: Case): string => c.name.split(/[ (]/)[0];
/** Differentiable ops (a rule, or a decomposition into ops with rules) by the name their cases use. */
const differentiable = [...opTable()]
  .filter(([, d]) => d.grad.kind === 'rule' || d.grad.kind === 'decompose')
  .map(([key, d]) => (d.domain === INTERNAL_DOMAIN ? d.op : key));

test('the cases cover every differentiable op of the table, and check only ops of it', () => {
  const uncovered = differentiable.filter((op) => !cases.some((c) => opOf(c) === op));
  const unknown = cases.filter((c) => !differentiable.includes(opOf(c))).map((c) => c.name);
  assert.deepEqual(uncovered, [], 'differentiable ops without a finite-difference case');
  assert.deepEqual(unknown, [], 'cases of ops the table does not call differentiable');
});

for (const op of differentiable) {
  for (const c of cases.filter((k) => opOf(k) === op)) {
    test(`rule ${c.name}`, async () => {
      const tol = c.dtype === 'float32' ? { tol: c.tol ?? 2e-3 } : {};
      await checkCase({ ...c, ...tol });
    });
  }
}
