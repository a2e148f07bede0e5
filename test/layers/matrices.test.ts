import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONV2D_SCALE_F32, layerMatrices, scaleConv2d } from '../../src/layers/matrices.js';
import { isExactCopy, tieCandidates } from '../../src/layers/ties.js';
import { planLayers } from '../../src/layers/plan.js';

test('float32(√0.5) quirk: the product is rounded to float32', () => {
  assert.equal(CONV2D_SCALE_F32, 0.7071067690849304);
  const w = Float64Array.of(Math.fround(0.1), Math.fround(-3.7), 1);
  const s = scaleConv2d(w, 'F32');
  for (let i = 0; i < w.length; i++) {
    assert.equal(s[i], Math.fround(w[i] * CONV2D_SCALE_F32));
    assert.equal(Math.fround(s[i]), s[i]);
  }
  assert.equal(s[2], CONV2D_SCALE_F32);
  assert.equal(scaleConv2d(Float64Array.of(1), 'F64')[0], Math.SQRT1_2);
});

test('Conv2D (out,in,kh,kw): slice (i,j) is W[:,:,i,j], scaled', () => {
  // shape [3, 2, 1, 2]: value = 1000·o + 100·c + 10·i + j
  const shape = [3, 2, 1, 2];
  const w = new Float64Array(12);
  for (let o = 0; o < 3; o++) for (let c = 0; c < 2; c++) for (let j = 0; j < 2; j++) w[o * 4 + c * 2 + j] = 1000 * o + 100 * c + j;
  const mats = layerMatrices({ layer_type: 'conv2d', shape }, w, 'F32');
  assert.equal(mats.length, 2);
  for (let j = 0; j < 2; j++) {
    assert.equal(mats[j].rows, 3);
    assert.equal(mats[j].cols, 2);
    for (let o = 0; o < 3; o++)
      for (let c = 0; c < 2; c++) assert.equal(mats[j].data[o * 2 + c], Math.fround((1000 * o + 100 * c + j) * CONV2D_SCALE_F32));
  }
});

test('Conv2D (kh,kw,in,out): slice (i,j) is the block W[i,j,:,:]', () => {
  const shape = [1, 2, 3, 4];
  const w = Float64Array.from({ length: 24 }, (_, k) => k);
  const mats = layerMatrices({ layer_type: 'conv2d', shape }, w, 'F64');
  assert.equal(mats.length, 2);
  assert.deepEqual([mats[1].rows, mats[1].cols], [3, 4]);
  assert.equal(mats[1].data[0], 12 * Math.SQRT1_2);
  assert.equal(mats[1].data[11], 23 * Math.SQRT1_2);
});

test('dense: the tensor itself, no copy, no scale', () => {
  const w = Float64Array.from({ length: 6 }, (_, k) => k);
  const [m] = layerMatrices({ layer_type: 'dense', shape: [2, 3] }, w, 'F32');
  assert.equal(m.data, w);
  assert.throws(() => layerMatrices({ layer_type: 'dense', shape: [2, 4] }, w, 'F32'), /needs 8/);
});

test('tied copies: exact equality or exact transpose only', () => {
  const a = Float64Array.of(1, 2, 3, 4, 5, 6); // 2×3
  const at = Float64Array.of(1, 4, 2, 5, 3, 6); // 3×2
  assert.equal(isExactCopy(at, [3, 2], a, [2, 3]), true);
  assert.equal(isExactCopy(a, [2, 3], a.slice(), [2, 3]), true);
  const off = at.slice();
  off[5] = 6 + 1e-12;
  assert.equal(isExactCopy(off, [3, 2], a, [2, 3]), false);
  assert.equal(isExactCopy(a, [3, 2], a, [2, 3]), false); // same values, but not the transpose
  const { layers } = planLayers(
    [
      { name: 'w.weight', dtype: 'F32', shape: [20, 30] },
      { name: 'v.weight', dtype: 'F32', shape: [20, 20] },
      { name: 'onnx::MatMul_1', dtype: 'F32', shape: [30, 20] },
    ],
    {
      roles: new Map([
        ['w.weight', 'matmul'],
        ['v.weight', 'matmul'],
        ['onnx::MatMul_1', 'matmul'],
      ]),
    },
  );
  const extra = layers.find((l) => l.extra)!;
  assert.deepEqual(
    tieCandidates(extra, layers).map((l) => l.name),
    ['w'],
  );
});
