/** Graph import, error paths and tie detection of src/graph. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import { isCode } from '../helpers/errors.js';
import { buildGradGraph, buildLossGraph, ruleOps } from '../../src/graph/index.js';
import { DT, makeTensor } from '../../src/graph/ir.js';
import { f32, i64, paramFeeds, run } from './helpers.js';

const { onnx } = onnxProto;
type NodeSpec = [op: string, inputs: string[], outputs: string[], attrs?: onnxProto.onnx.IAttributeProto[]];

function tinyModel(
  nodes: NodeSpec[],
  inits: onnxProto.onnx.ITensorProto[],
  opts: { opset?: number; inDims?: (number | string)[]; out?: string } = {},
): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opts.opset ?? 14 }],
    graph: {
      name: 'tiny',
      node: nodes.map(([opType, input, output, attribute], i) => ({
        name: `n${i}_${opType}`,
        opType,
        input,
        output,
        attribute: attribute ?? [],
      })),
      input: [
        {
          name: 'x',
          type: {
            tensorType: {
              elemType: DT.FLOAT,
              shape: { dim: (opts.inDims ?? ['batch', 3]).map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
            },
          },
        },
      ],
      output: [{ name: opts.out ?? 'logits', type: { tensorType: { elemType: DT.FLOAT } } }],
      initializer: inits,
    },
  });
}

const W = makeTensor('W', DT.FLOAT, [3, 2], [0.1, -0.2, 0.3, 0.4, -0.5, 0.6]);

test('an op without a rule on the differentiable path is an unsupported-op error naming op and node', () => {
  const m = tinyModel(
    [
      ['MatMul', ['x', 'W'], ['h']],
      ['Asin', ['h'], ['logits']],
    ],
    [W],
  );
  const lg = buildLossGraph(m, { loss: 'classification' });
  assert.throws(() => buildGradGraph(lg), isCode('unsupported-op', /Asin.*n1_Asin/));
});

test('an op without a rule off the differentiable path is fine (integer shape subgraph)', async () => {
  // logits = x·W + Σ asin(x): Asin has no rule but only sees data, never parameters.
  const m = tinyModel(
    [
      ['MatMul', ['x', 'W'], ['h']],
      ['Asin', ['x'], ['sx']],
      ['ReduceSum', ['sx'], ['s'], [{ name: 'keepdims', type: 2, i: 0 }]],
      ['Add', ['h', 's'], ['logits']],
    ],
    [W],
  );
  const lg = buildLossGraph(m, { loss: 'classification' });
  const g = buildGradGraph(lg);
  const out = await run(g.model, { x: f32([2, 3], [1, 0, 0, 0, 1, 0]), y: i64([2], [0, 1]), ...paramFeeds(lg.paramValues) });
  // d loss / dW for softmax regression: xᵀ(p − onehot)/B, checked against a hand computation.
  const x = [
    [1, 0, 0],
    [0, 1, 0],
  ];
  const w = [
    [0.1, -0.2],
    [0.3, 0.4],
    [-0.5, 0.6],
  ];
  const expect = new Array(6).fill(0);
  [0, 1].forEach((b) => {
    const z = [0, 1].map((j) => x[b].reduce((acc, xi, i) => acc + xi * w[i][j], 0));
    const e = z.map(Math.exp),
      sum = e[0] + e[1];
    const p = e.map((v) => v / sum);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) expect[i * 2 + j] += (x[b][i] * (p[j] - (j === b ? 1 : 0))) / 2;
  });
  out['grad.W'].forEach((v, k) => assert.ok(Math.abs(v - expect[k]) < 1e-6, `grad.W[${k}] ${v} vs ${expect[k]}`));
});

test('bad requests: opset below 13, wrong logits rank, unknown parameter, reserved names', () => {
  const m = tinyModel([['MatMul', ['x', 'W'], ['logits']]], [W]);
  assert.throws(
    () => buildLossGraph(tinyModel([['MatMul', ['x', 'W'], ['logits']]], [W], { opset: 12 }), { loss: 'classification' }),
    isCode('unsupported-op', /opset 12/),
  );
  assert.throws(() => buildLossGraph(m, { loss: 'lm' }), isCode('invalid-input', /rank 2/));
  assert.throws(() => buildLossGraph(m, { loss: 'classification', params: ['nope'] }), isCode('not-found', /nope/));
  assert.throws(() => buildLossGraph(m, { loss: 'classification', logitsOutput: 'zzz' }), isCode('not-found'));
  const clash = tinyModel(
    [
      ['MatMul', ['x', 'W'], ['y']],
      ['Identity', ['y'], ['logits']],
    ],
    [W],
  );
  assert.throws(() => buildLossGraph(clash, { loss: 'classification' }), isCode('invalid-input', /'y'/));
});

test('pooling over dynamic spatial sizes is refused with a clear error', () => {
  const w = makeTensor('w', DT.FLOAT, [1, 1, 1, 1], [2]);
  const m = tinyModel(
    [
      ['Conv', ['x', 'w'], ['c']],
      [
        'MaxPool',
        ['c'],
        ['p'],
        [
          { name: 'kernel_shape', type: 7, ints: [3, 3] },
          { name: 'strides', type: 7, ints: [1, 1] },
        ],
      ],
      ['Flatten', ['p'], ['logits']],
    ],
    [w],
    { inDims: ['batch', 1, 'h', 'w'] },
  );
  const lg = buildLossGraph(m, { loss: 'classification' });
  assert.throws(() => buildGradGraph(lg), isCode('unsupported-op', /MaxPool.*spatial size/));
});

test('tie detection: exact transposes are re-tied, small or constant tensors are not', () => {
  const big = Array.from({ length: 16 * 20 }, (_, i) => Math.sin(i));
  const A = makeTensor('emb.weight', DT.FLOAT, [16, 20], big);
  const At = makeTensor(
    'onnx::MatMul_9',
    DT.FLOAT,
    [20, 16],
    big.map((_, k) => big[(k % 16) * 20 + Math.floor(k / 16)]),
  );
  const Z1 = makeTensor('z1', DT.FLOAT, [20, 16], new Array(320).fill(0));
  const Z2 = makeTensor('z2', DT.FLOAT, [20, 16], new Array(320).fill(0));
  const m = tinyModel(
    [
      ['Gather', ['emb.weight', 'idx'], ['e']],
      ['MatMul', ['x', 'z1'], ['q']],
      ['MatMul', ['q', 'onnx::MatMul_9'], ['r']],
      ['MatMul', ['x', 'z2'], ['s']],
      ['MatMul', ['s', 'onnx::MatMul_9'], ['t']],
      ['Add', ['r', 't'], ['logits']],
    ],
    [A, At, Z1, Z2, makeTensor('idx', DT.INT64, [1], [0])],
    { inDims: ['batch', 20] },
  );
  const lg = buildLossGraph(m, { loss: 'classification' });
  assert.deepEqual(lg.tied, [{ copy: 'onnx::MatMul_9', source: 'emb.weight', transposed: true }]);
  assert.deepEqual(lg.params.map((p) => p.name).sort(), ['emb.weight', 'z1', 'z2']);
  assert.ok(ruleOps().includes('MatMul'));
});

test('closure: the Hv graphs differentiate once more (third order) without a missing rule', async () => {
  const { readFileSync } = await import('node:fs');
  const { fixture } = await import('../helpers/fixtures.js');
  const { Builder, gradients, cloneGraph } = await import('../../src/graph/index.js');
  for (const path of [fixture('fmnist-hessian', 'mlp48.onnx'), fixture('fmnist-backdoor', 'model_a.onnx')]) {
    const lg = buildLossGraph(onnx.ModelProto.decode(readFileSync(path)), { loss: 'classification' });
    const g = cloneGraph(lg.graph);
    const b = new Builder(g, 'c');
    const names = lg.params.map((p) => p.name);
    let s = 'loss';
    for (let order = 1; order <= 3; order++) {
      const d = gradients(b, s, names);
      assert.ok(
        d.every((x) => x),
        `order ${order}: every parameter has a derivative`,
      );
      // next scalar: ⟨d, θ⟩ (any direction works; θ itself keeps the graph self-contained)
      s = d.map((x, i) => b.op('ReduceSum', [b.mul(x!, names[i])], { keepdims: 0 })).reduce((p, q) => b.add(p, q));
    }
    const ops = new Set(g.nodes.map((n) => n.opType));
    assert.ok(ops.has('ConvTranspose') || !path.includes('model_a'));
    assert.ok(ruleOps().includes('ConvTranspose'));
  }
});

test('MaxPool ties: the gradient goes to the first maximal element of each window, as in PyTorch', async () => {
  const { Builder } = await import('../../src/graph/builder.js');
  const { gradients } = await import('../../src/graph/autodiff.js');
  const { graphToModel } = await import('../../src/graph/ir.js');
  for (const attrs of [
    { kernel_shape: [2, 2], strides: [2, 2] },
    { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 1] },
  ]) {
    const g = {
      name: 't',
      opset: 14,
      irVersion: 8,
      extraOpsets: [],
      nodes: [],
      inputs: ['x'],
      outputs: [] as string[],
      values: new Map([['x', { dtype: DT.FLOAT, shape: [1, 1, 2, 4] as (number | string | null)[] }]]),
      initializers: new Map(),
    };
    const b = new Builder(g, 't');
    const y = b.op('MaxPool', ['x'], attrs);
    const w = b.constant(DT.FLOAT, b.shapeOf(y) as number[], [1, 2, 3].slice(0, (b.shapeOf(y) as number[])[3]));
    const f = b.op('ReduceSum', [b.mul(y, w)], { keepdims: 0 });
    const [dx] = gradients(b, f, ['x']);
    b.op('Identity', [dx!], undefined, 'dx');
    g.outputs = ['dx'];
    // windows: [[.5,.5],[.5,.5]] (all tied) and [[.1,.9],[.9,.9]] (tied at .9); with the extra pad a third window [[.2],[.2]].
    const out = await run(graphToModel(g), { x: f32([1, 1, 2, 4], [0.5, 0.5, 0.1, 0.9, 0.5, 0.5, 0.9, 0.9]) });
    assert.deepEqual(Array.from(out.dx), [1, 0, 0, 2, 0, 0, 0, 0], JSON.stringify(attrs));
  }
});
