/** Input Hessian of softmax regression: mean over samples of Wᵀ(diag p − ppᵀ)W, a closed form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine } from '../../../src/runtime/engine.js';
import { makeDataset } from '../../../src/runtime/dataset.js';
import { runHessian } from '../../../src/landscape/hessian/run.js';
import { tridiagonalEigen } from '../../../src/linalg/tridiagonal.js';
import { lanczos } from '../../../src/landscape/hessian/lanczos.js';
import { denseOperator } from '../../../src/landscape/hessian/operator.js';
import { Rng } from '../../../src/util/random.js';
import { isWeightscopeError } from '../../../src/errors.js';
import { softmaxRegression, softmaxRows } from './softmax-model.js';

const C = 5;
const D = 7;
const N = 40;
const rng = new Rng(21);
const W = Float32Array.from({ length: C * D }, () => rng.normal());
const b = Float32Array.from({ length: C }, () => rng.normal() * 0.3);
const x = Float32Array.from({ length: N * D }, () => rng.normal() * 0.7);
const y = BigInt64Array.from({ length: N }, () => BigInt(rng.int(C)));

/** The closed form's largest eigenvalue (dense D×D matrix, eigenvalues by a full Lanczos run). */
async function closedFormTop(): Promise<number> {
  const p = softmaxRows(W, b, x, N, C, D);
  const H = new Float64Array(D * D);
  for (let s = 0; s < N; s++) {
    // A = diag p − ppᵀ; H += Wᵀ A W / N
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) {
        let t = 0;
        for (let k = 0; k < C; k++) {
          const pk = p[s * C + k];
          t += pk * W[k * D + i] * W[k * D + j];
        }
        let u = 0;
        let v = 0;
        for (let k = 0; k < C; k++) {
          u += p[s * C + k] * W[k * D + i];
          v += p[s * C + k] * W[k * D + j];
        }
        H[i * D + j] += (t - u * v) / N;
      }
    }
  }
  const v0 = new Float64Array(D).fill(1 / Math.sqrt(D));
  const run = await lanczos(denseOperator(H, D), v0, D);
  const T = tridiagonalEigen(run.alpha, run.beta);
  return Math.max(...T.values);
}

test('input Hessian of softmax regression: top eigenvalue equals the closed form to 1e-6, over uneven batches', async () => {
  const expected = await closedFormTop();
  const engine = await createEngine(softmaxRegression(W, b, C, D), { loss: 'classification' });
  const ds = makeDataset({ type: 'float32', data: x, dims: [N, D] }, y);
  const model = softmaxRegression(W, b, C, D);
  for (const batchSize of [N, 11]) {
    const r = await runHessian(
      { engine, model, dataset: ds },
      { topK: 0, input: true, inputTol: 1e-12, inputMaxIter: 3000, batchSize, seed: 4 },
    );
    const got = r.input_hessian!;
    assert.equal(got.dim, D);
    assert.ok(Math.abs(got.top_eigenvalue - expected) < 1e-6 * expected, `batch ${batchSize}: ${got.top_eigenvalue} vs ${expected}`);
    assert.ok(got.residual < 1e-5 * expected, `residual ${got.residual}`);
  }
});

test('input Hessian: a language model (token ids) is refused with a clear error', async () => {
  const engine = await createEngine(softmaxRegression(W, b, C, D), { loss: 'classification' });
  const tokens = makeDataset({ type: 'int64', data: new BigInt64Array(2 * D), dims: [2, D] }, BigInt64Array.from([0n, 1n]));
  await assert.rejects(
    runHessian({ engine, model: softmaxRegression(W, b, C, D), dataset: tokens }, { topK: 0, input: true }),
    (e: unknown) => isWeightscopeError(e) && /float32 inputs/.test(e.message),
  );
  await assert.rejects(
    runHessian({ engine, dataset: makeDataset({ type: 'float32', data: x, dims: [N, D] }, y) }, { topK: 0, input: true }),
    (e: unknown) => isWeightscopeError(e) && /model graph/.test(e.message),
  );
});
