/** Model similarity on real engine outputs: CKA of softmax outputs and the L2 distance of parameters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine } from '../../../src/runtime/engine.js';
import { loadDataset, makeDataset } from '../../../src/runtime/dataset.js';
import { openSafetensors } from '../../../src/io/safetensors.js';
import { compareFiles, compareModels, engineOutputs, onnxOutputs } from '../../../src/landscape/similarity/compare.js';
import { Rng } from '../../../src/util/random.js';
import { fixture } from '../../helpers/fixtures.js';
import { softmaxRegression, softmaxRows } from '../hessian/softmax-model.js';

const C = 4;
const D = 5;
const N = 25;
const rng = new Rng(8);
const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => rng.normal() * s);
const Wa = rand(C * D, 1),
  ba = rand(C, 0.2),
  Wb = rand(C * D, 1),
  bb = rand(C, 0.2);
const x = rand(N * D, 1);
const y = BigInt64Array.from({ length: N }, () => BigInt(rng.int(C)));
const ds = makeDataset({ type: 'float32', data: x, dims: [N, D] }, y);

/** Linear CKA written as in Yang et al.: HSIC(K, L)/√(HSIC(K, K)·HSIC(L, L)) with K = XXᵀ, centred by H = I − 11ᵀ/n. */
function ckaDirect(X: Float64Array, Y: Float64Array, n: number, c: number): number {
  const gram = (M: Float64Array) => {
    const K = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let k = 0; k < c; k++) s += M[i * c + k] * M[j * c + k];
        return s;
      }),
    );
    const row = K.map((r) => r.reduce((s, v) => s + v, 0) / n);
    const all = row.reduce((s, v) => s + v, 0) / n;
    return K.map((r, i) => r.map((v, j) => v - row[i] - row[j] + all));
  };
  const hsic = (K: number[][], L: number[][]) => K.reduce((s, r, i) => s + r.reduce((t, v, j) => t + v * L[j][i], 0), 0);
  const K = gram(X);
  const L = gram(Y);
  return hsic(K, L) / Math.sqrt(hsic(K, K) * hsic(L, L));
}

test('compare: CKA of softmax outputs equals the direct formula; L2 distance is exact; a model with itself gives 1 and 0', async () => {
  const ea = await createEngine(softmaxRegression(Wa, ba, C, D), { loss: 'classification' });
  const eb = await createEngine(softmaxRegression(Wb, bb, C, D), { loss: 'classification' });
  const r = await compareModels(engineOutputs(ea), engineOutputs(eb), ds, { batchSize: 7 });
  const expected = ckaDirect(softmaxRows(Wa, ba, x, N, C, D), softmaxRows(Wb, bb, x, N, C, D), N, C);
  assert.ok(Math.abs(r.cka - expected) < 1e-5, `${r.cka} vs ${expected}`);
  assert.ok(r.cka < 0.99, 'two different models are not identical');
  let sq = 0;
  for (let i = 0; i < Wa.length; i++) sq += (Wa[i] - Wb[i]) ** 2;
  for (let i = 0; i < ba.length; i++) sq += (ba[i] - bb[i]) ** 2;
  assert.equal(r.l2_distance, Math.sqrt(sq));
  assert.equal(r.rows, N);
  assert.equal(r.outputs, C);
  const self = await compareModels(engineOutputs(ea), engineOutputs(ea), ds);
  assert.ok(Math.abs(self.cka - 1) < 1e-12);
  assert.equal(self.l2_distance, 0);
  // Different parameter shapes: no L2 distance, CKA still defined.
  const ec = await createEngine(softmaxRegression(rand(3 * D, 1), rand(3, 1), 3, D), { loss: 'classification' });
  const mixed = await compareModels(engineOutputs(ea), engineOutputs(ec), ds);
  assert.equal(mixed.l2_distance, null);
  assert.ok(mixed.cka > 0 && mixed.cka <= 1);
});

test('compare: fmnist-backdoor model_a vs model_b on 500 clean images; L2 matches the checkpoints', async () => {
  const data = await loadDataset(fixture('fmnist-backdoor', 'clean_subset.safetensors'));
  const r = await compareFiles(fixture('fmnist-backdoor', 'model_a.onnx'), fixture('fmnist-backdoor', 'model_b.onnx'), data, {
    samples: 500,
  });
  assert.equal(r.rows, 500);
  assert.equal(r.outputs, 10);
  // Two seeds of the same recipe agree on most images: high, but not perfect, similarity.
  assert.ok(r.cka > 0.5 && r.cka < 0.999, `CKA ${r.cka}`);
  const [sa, sb] = [
    await openSafetensors(fixture('fmnist-backdoor', 'model_a.safetensors')),
    await openSafetensors(fixture('fmnist-backdoor', 'model_b.safetensors')),
  ];
  let sq = 0;
  for (const t of sa.tensors) {
    const a = await sa.readFloat64(t.name);
    const b = await sb.readFloat64(t.name);
    for (let i = 0; i < a.length; i++) sq += (a[i] - b[i]) ** 2;
  }
  await sa.close();
  await sb.close();
  assert.ok(Math.abs(r.l2_distance! - Math.sqrt(sq)) < 1e-9 * Math.sqrt(sq), `${r.l2_distance} vs ${Math.sqrt(sq)}`);
  const a = await onnxOutputs(fixture('fmnist-backdoor', 'model_a.onnx'), 'classification');
  assert.equal(
    a.params.reduce((s, p) => s + p.size, 0),
    52138,
  );
});
