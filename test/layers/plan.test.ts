import { test } from 'node:test';
import assert from 'node:assert/strict';
import { geometry, planLayers } from '../../src/layers/plan.js';
import { selectLayers, globToRegExp } from '../../src/layers/select.js';
import type { TensorInfo, WeightRole } from '../../src/io/types.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { openOnnx } from '../../src/io/onnx.js';
import { fixture } from '../helpers/fixtures.js';
import { wwReference } from '../helpers/reference.js';

const t = (name: string, shape: number[], dtype: TensorInfo['dtype'] = 'F32'): TensorInfo => ({ name, shape, dtype });

test('geometry: dense and both Conv2D layouts', () => {
  assert.deepEqual(geometry([128, 384]), { layer_type: 'dense', N: 384, M: 128, rf: 1 });
  // PyTorch (out, in, kh, kw): 16+8 ≥ 3+3 → slices 16×8, rf 9
  assert.deepEqual(geometry([16, 8, 3, 3]), { layer_type: 'conv2d', N: 16, M: 8, rf: 9 });
  // Keras (kh, kw, in, out): 3+3 < 8+16 → slices 8×16, rf 9
  assert.deepEqual(geometry([3, 3, 8, 16]), { layer_type: 'conv2d', N: 16, M: 8, rf: 9 });
  assert.equal(geometry([5]), null);
  assert.equal(geometry([2, 3, 4]), null);
});

test('ids count every .weight key in sorted order, from 0; biases take none', () => {
  const { layers, skipped } = planLayers([
    t('b.weight', [20, 30]),
    t('a.bias', [20]),
    t('a.weight', [20, 30]),
    t('a.norm.weight', [30]),
    t('c.weight', [2, 30, 3], 'F32'),
    t('d.weight', [20, 20], 'I64'),
    t('e.weight', [30, 1]),
  ]);
  assert.deepEqual(
    layers.map((l) => [l.layer_id, l.name]),
    [
      [1, 'a'],
      [2, 'b'],
    ],
  );
  assert.deepEqual(
    skipped.map((s) => [s.layer_id, s.name]),
    [
      [0, 'a.norm'],
      [3, 'c'],
      [4, 'd'],
      [5, 'e'],
    ],
  );
  assert.match(skipped[3].reason, /1 eigenvalues < min_evals 10/);
  assert.equal(layers[0].Q, 1.5);
});

test('filters: min_evals, max_evals, max_N are configurable', () => {
  const ts = [t('x.weight', [60000, 20]), t('y.weight', [9, 9]), t('z.weight', [100, 100])];
  assert.deepEqual(
    planLayers(ts).layers.map((l) => l.name),
    ['z'],
  );
  assert.deepEqual(
    planLayers(ts, { minEvals: 0, maxN: 1e6 }).layers.map((l) => l.name),
    ['x', 'y', 'z'],
  );
  assert.deepEqual(
    planLayers(ts, { maxEvals: 50, maxN: 1e6 }).layers.map((l) => l.name),
    ['x'],
  );
});

test('ONNX: roles decide weights; unnamed initializers get ids after the .weight keys', () => {
  const roles = new Map<string, WeightRole>([
    ['a.weight', 'matmul'],
    ['onnx::MatMul_9', 'matmul'],
    ['a.bias', 'gemm'],
  ]);
  const { layers, skipped } = planLayers(
    [t('onnx::MatMul_9', [30, 20]), t('a.weight', [20, 30]), t('b.weight', [20, 30]), t('a.bias', [20]), t('const', [20, 30])],
    { roles },
  );
  assert.deepEqual(
    layers.map((l) => [l.layer_id, l.name, l.extra]),
    [
      [0, 'a', false],
      [2, 'onnx::MatMul_9', true],
    ],
  );
  assert.deepEqual(
    skipped.map((s) => s.layer_id),
    [1],
  );
  assert.match(skipped[0].reason, /graph does not use it/);
});

test('layer selection by id and glob; a selector matching nothing is an error', () => {
  const { layers } = planLayers([t('h.0.attn.weight', [20, 20]), t('h.0.mlp.weight', [20, 20]), t('h.1.attn.weight', [20, 20])]);
  assert.deepEqual(
    selectLayers(layers, ['h.*.attn']).map((l) => l.layer_id),
    [0, 2],
  );
  assert.deepEqual(
    selectLayers(layers, [1, 'h.1.attn.weight']).map((l) => l.layer_id),
    [1, 2],
  );
  assert.deepEqual(
    selectLayers(layers, ['1']).map((l) => l.layer_id),
    [1],
  );
  assert.throws(() => selectLayers(layers, ['nope*']), /no analysable layer matches "nope\*"/);
  assert.equal(globToRegExp('a.b?').test('a.bc'), true);
  assert.equal(globToRegExp('a.b?').test('axbc'), false);
});

const CASES: [string, string[]][] = [
  ['stories260k', ['stories260k', 'model.safetensors']],
  ['gpt2-tiny', ['gpt2-tiny', 'model.safetensors']],
  ['fmnist-hessian-mlp48', ['fmnist-hessian', 'mlp48.safetensors']],
  ['fmnist-backdoor-model_a', ['fmnist-backdoor', 'model_a.safetensors']],
  ['fmnist-backdoor-model_b', ['fmnist-backdoor', 'model_b.safetensors']],
];

for (const [ref, file] of CASES) {
  test(`plan of ${file.join('/')} has WeightWatcher's rows: ids, names, N, M, rf, Q, layer_type`, async () => {
    const reader = await openSafetensors(fixture(...file));
    try {
      const { layers } = planLayers(reader.tensors);
      const want = wwReference(ref).fits.PL.layers;
      assert.deepEqual(
        layers.map((l) => [l.layer_id, l.name, l.layer_type, l.N, l.M, l.rf, l.Q]),
        want.map((r) => [r.layer_id, r.longname, r.layer_type, r.N, r.M, r.rf, r.Q]),
      );
    } finally {
      await reader.close();
    }
  });
}

test('gpt2-tiny ONNX plan: the same rows as safetensors plus the folded lm_head copy as an extra', async () => {
  const onnx = await openOnnx(fixture('gpt2-tiny', 'onnx', 'model.onnx'));
  try {
    const { layers } = planLayers(onnx.tensors, { roles: onnx.roles });
    const want = wwReference('gpt2-tiny').fits.PL.layers;
    const named = layers.filter((l) => !l.extra);
    assert.deepEqual(
      named.map((l) => [l.layer_id, l.name, l.N, l.M]),
      want.map((r) => [r.layer_id, r.name, r.N, r.M]),
    );
    assert.deepEqual(
      layers.filter((l) => l.extra).map((l) => [l.layer_id, l.tensor, l.shape]),
      [[27, 'onnx::MatMul_572', [128, 256]]],
    );
  } finally {
    await onnx.close();
  }
});
