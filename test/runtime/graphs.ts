/**
 * Hand-built ONNX graphs for runtime tests (independent of src/graph): softmax regression logits = x·Wᵀ + b with its
 * mean cross-entropy, analytic gradient and analytic Hessian-vector product, in the DiffGraph layout of src/graph;
 * and a chain of MatMuls (a run as long as one likes).
 */
import onnxProto from 'onnx-proto';
import type { DiffGraph } from '../../src/runtime/engine.js';
import { residentStats } from '../../src/runtime/session.js';
import type { HostTensor } from '../../src/runtime/wire.js';

const { onnx } = onnxProto;
type Node = onnxProto.onnx.INodeProto;

const FLOAT = 1;
const INT64 = 7;

function vi(name: string, elemType: number, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function node(opType: string, input: string[], output: string[], attrs: onnxProto.onnx.IAttributeProto[] = []): Node {
  return { opType, input, output, attribute: attrs };
}

const int = (name: string, i: number): onnxProto.onnx.IAttributeProto => ({ name, type: 2, i });

function i64const(name: string, values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dataType: INT64, dims: [values.length], int64Data: values };
}

function model(nodes: Node[], inputs: onnxProto.onnx.IValueInfoProto[], outputs: string[], inits: onnxProto.onnx.ITensorProto[] = []) {
  return onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 14 }],
    graph: { name: 'softmax-regression', node: nodes, input: inputs, output: outputs.map((o) => ({ name: o })), initializer: inits },
  });
}

/** The model itself: input [B, D] → logits [B, C], with W [C, D] and b [C] as initializers. */
export function softmaxModel(W: Float32Array, b: Float32Array, c: number, d: number): onnxProto.onnx.ModelProto {
  const m = model(
    [node('Gemm', ['input', 'W', 'b'], ['logits'], [int('transB', 1)])],
    [vi('input', FLOAT, ['batch', d])],
    [],
    [
      { name: 'W', dataType: FLOAT, dims: [c, d], rawData: new Uint8Array(W.slice().buffer) },
      { name: 'b', dataType: FLOAT, dims: [c], rawData: new Uint8Array(b.slice().buffer) },
    ],
  );
  m.graph!.output = [onnx.ValueInfoProto.create(vi('logits', FLOAT, ['batch', c]))];
  return m;
}

function lossNodes(c: number): Node[] {
  return [
    node('Gemm', ['input', 'W', 'b'], ['logits'], [int('transB', 1)]),
    node('LogSoftmax', ['logits'], ['ls'], [int('axis', 1)]),
    node('Softmax', ['logits'], ['p'], [int('axis', 1)]),
    node('Constant', [], ['depth'], [{ name: 'value', type: 4, t: i64const('depth', [c]) }]),
    node('Constant', [], ['onoff'], [{ name: 'value', type: 4, t: { name: 'onoff', dataType: FLOAT, dims: [2], floatData: [0, 1] } }]),
    node('OneHot', ['y', 'depth', 'onoff'], ['onehot'], [int('axis', -1)]),
    node('Shape', ['y'], ['bshape']),
    node('Cast', ['bshape'], ['bf'], [int('to', FLOAT)]),
    node('Mul', ['onehot', 'ls'], ['picked']),
    node('ReduceSum', ['picked'], ['sumpicked'], [int('keepdims', 0)]),
    node('Neg', ['sumpicked'], ['nll']),
    node('Div', ['nll', 'bf'], ['loss']),
    node('Constant', [], ['ax0'], [{ name: 'value', type: 4, t: i64const('ax0', [0]) }]),
    node('Constant', [], ['ax1'], [{ name: 'value', type: 4, t: i64const('ax1', [1]) }]),
  ];
}

function diffInputs(c: number, d: number, withV: boolean) {
  const base = [vi('input', FLOAT, ['batch', d]), vi('y', INT64, ['batch']), vi('W', FLOAT, [c, d]), vi('b', FLOAT, [c])];
  return withV ? [...base, vi('v.W', FLOAT, [c, d]), vi('v.b', FLOAT, [c])] : base;
}

const PARAMS = (c: number, d: number) => [
  { name: 'W', dims: [c, d] },
  { name: 'b', dims: [c] },
];

export function softmaxGradGraph(c: number, d: number): DiffGraph {
  const nodes = [
    ...lossNodes(c),
    node('Sub', ['p', 'onehot'], ['pm']),
    node('Div', ['pm', 'bf'], ['dl']),
    node('Gemm', ['dl', 'input'], ['grad.W'], [int('transA', 1)]),
    node('ReduceSum', ['dl', 'ax0'], ['grad.b'], [int('keepdims', 0)]),
  ];
  const outputs = ['loss', 'grad.W', 'grad.b'];
  return { model: model(nodes, diffInputs(c, d, false), outputs), params: PARAMS(c, d), inputs: ['input', 'y', 'W', 'b'], outputs };
}

export function softmaxHvpGraph(c: number, d: number): DiffGraph {
  const nodes = [
    ...lossNodes(c),
    node('Gemm', ['input', 'v.W', 'v.b'], ['dz'], [int('transB', 1)]),
    node('Mul', ['p', 'dz'], ['pdz']),
    node('ReduceSum', ['pdz', 'ax1'], ['s'], [int('keepdims', 1)]),
    node('Sub', ['dz', 's'], ['dzs']),
    node('Mul', ['p', 'dzs'], ['jp']),
    node('Div', ['jp', 'bf'], ['sc']),
    node('Gemm', ['sc', 'input'], ['hv.W'], [int('transA', 1)]),
    node('ReduceSum', ['sc', 'ax0'], ['hv.b'], [int('keepdims', 0)]),
  ];
  const outputs = ['loss', 'hv.W', 'hv.b'];
  return {
    model: model(nodes, diffInputs(c, d, true), outputs),
    params: PARAMS(c, d),
    inputs: ['input', 'y', 'W', 'b', 'v.W', 'v.b'],
    outputs,
  };
}

/** float64 reference of the same quantities. */
export function softmaxReference(
  W: ArrayLike<number>,
  b: ArrayLike<number>,
  x: ArrayLike<number>,
  y: ArrayLike<bigint>,
  c: number,
  d: number,
  vW?: ArrayLike<number>,
  vb?: ArrayLike<number>,
): { loss: number; gW: Float64Array; gb: Float64Array; hW: Float64Array; hb: Float64Array } {
  const n = y.length;
  const gW = new Float64Array(c * d);
  const gb = new Float64Array(c);
  const hW = new Float64Array(c * d);
  const hb = new Float64Array(c);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const z = new Float64Array(c);
    const dz = new Float64Array(c);
    for (let k = 0; k < c; k++) {
      let s = b[k];
      let t = vb ? vb[k] : 0;
      for (let j = 0; j < d; j++) {
        s += W[k * d + j] * x[i * d + j];
        if (vW) t += vW[k * d + j] * x[i * d + j];
      }
      z[k] = s;
      dz[k] = t;
    }
    const m = Math.max(...z);
    let se = 0;
    for (let k = 0; k < c; k++) se += Math.exp(z[k] - m);
    const yi = Number(y[i]);
    loss += Math.log(se) + m - z[yi];
    const p = Array.from(z, (zk) => Math.exp(zk - m) / se);
    let pdz = 0;
    for (let k = 0; k < c; k++) pdz += p[k] * dz[k];
    for (let k = 0; k < c; k++) {
      const g = (p[k] - (k === yi ? 1 : 0)) / n;
      const h = (p[k] * (dz[k] - pdz)) / n;
      gb[k] += g;
      hb[k] += h;
      for (let j = 0; j < d; j++) {
        gW[k * d + j] += g * x[i * d + j];
        hW[k * d + j] += h * x[i * d + j];
      }
    }
  }
  return { loss: loss / n, gW, gb, hW, hb };
}

/** A chain of `k` n×n MatMuls, c = a·b·b·…·b: exact small results, or a run long enough to watch timers during it. */
export function chain(n: number, k: number): Uint8Array {
  const nodes: Node[] = [];
  let prev = 'a';
  for (let i = 0; i < k; i++) {
    const out = i === k - 1 ? 'c' : `t${i}`;
    nodes.push(node('MatMul', [prev, 'b'], [out]));
    prev = out;
  }
  const m = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 14 }],
    graph: { name: 'chain', node: nodes, input: [vi('a', FLOAT, [n, n]), vi('b', FLOAT, [n, n])], output: [vi('c', FLOAT, [n, n])] },
  });
  return onnx.ModelProto.encode(m).finish();
}

/** c = a·b for 3×3 float matrices, with helpers for its feeds and output. */
export function matmul(): Uint8Array {
  return chain(3, 1);
}
export const mat = (...v: number[]): HostTensor => ({ type: 'float32', data: Float32Array.from(v), dims: [3, 3] });
export const values = (out: Record<string, HostTensor>): number[] => [...(out.c.data as Float32Array)];

/** Resident-feed counters since `before`. */
export function residentDelta(before: ReturnType<typeof residentStats>): { uploads: number; reuses: number; resends: number } {
  const now = residentStats();
  return { uploads: now.uploads - before.uploads, reuses: now.reuses - before.reuses, resends: now.resends - before.resends };
}
