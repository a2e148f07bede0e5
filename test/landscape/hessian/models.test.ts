/**
 * Hessian diagnostics on the other real fixtures: fmnist-backdoor's CNN (MaxPool, Conv) and gpt2-tiny (next-token
 * loss, tied wte), against PyTorch references; and `--text` tokenization reproducing the LM batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../../src/runtime/engine.js';
import { loadDataset } from '../../../src/runtime/dataset.js';
import { readOnnxModel } from '../../../src/io/onnx-model.js';
import { runHessian } from '../../../src/landscape/hessian/run.js';
import { findTokenizerDir, textDataset } from '../../../src/landscape/text.js';
import { fixture } from '../../helpers/fixtures.js';

const GPL3 = '/usr/share/common-licenses/GPL-3';

function assertRel(actual: readonly number[], expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    const rel = Math.abs(a - expected[i]) / Math.abs(expected[i]);
    assert.ok(rel < tol, `${what}[${i}]: ${a} vs ${expected[i]} (rel ${rel.toExponential(2)} ≥ ${tol})`);
  });
}

test('fmnist-backdoor model_a, first 1000 clean-subset images: top-3 within 1% of the reference', async () => {
  const ref = JSON.parse(readFileSync(fixture('fmnist-hessian', 'reference.json'), 'utf8')).backdoor_model_a_on_clean_subset_first_1000;
  const engine = await createEngine(fixture('fmnist-backdoor', 'model_a.onnx'), { loss: 'classification' });
  const ds = await loadDataset(fixture('fmnist-backdoor', 'clean_subset.safetensors'));
  const r = await runHessian({ engine, dataset: ds }, { topK: 3, lanczos: true, tol: 1e-2, samples: 1000, batchSize: 1000, seed: 1 });
  assert.equal(r.num_params, ref.num_params);
  assert.ok(Math.abs(r.loss - ref.loss) < 1e-4 * ref.loss, `loss ${r.loss} vs ${ref.loss}`);
  assertRel(r.top_eigenvalues!, ref.top_eigenvalues, 1e-2, 'model_a top-3');
});

test("gpt2-tiny: --text on the GPL-3 text's first 512 bytes with seq 64 is lm_batch; Lanczos top-3 within 1e-3 (tied wte)", async () => {
  const ref = JSON.parse(readFileSync(fixture('gpt2-tiny', 'lm_reference.json'), 'utf8')) as {
    loss: number;
    num_params: number;
    top_eigenvalues: number[];
  };
  const dir = mkdtempSync(join(tmpdir(), 'ws-h10-'));
  try {
    const text = join(dir, 'gpl3-512.txt');
    writeFileSync(text, readFileSync(GPL3).subarray(0, 512));
    const modelPath = fixture('gpt2-tiny', 'onnx', 'model.onnx');
    const fromText = await textDataset(text, findTokenizerDir(modelPath), 64);
    const batch = await loadDataset(fixture('gpt2-tiny', 'lm_batch.safetensors'));
    assert.deepEqual(fromText.x.dims, [8, 64]);
    assert.deepEqual([...(fromText.x.data as BigInt64Array)], [...(batch.x.data as BigInt64Array)]);
    assert.equal(fromText.y, null);

    const engine = await createEngine(modelPath, { loss: 'lm' });
    // Same batch → same graph inputs → the same numbers; run the estimator once on the text-made dataset.
    const r = await runHessian(
      { engine, dataset: fromText, model: await readOnnxModel(modelPath) },
      { topK: 3, lanczos: true, tol: 1e-3, maxIter: 120, batchSize: 8, seed: 0 },
    );
    assert.equal(r.num_params, ref.num_params);
    assert.ok(Math.abs(r.loss - ref.loss) < 1e-4 * ref.loss, `loss ${r.loss} vs ${ref.loss}`);
    assertRel(r.top_eigenvalues!, ref.top_eigenvalues, 1e-3, 'gpt2-tiny top-3');
    const again = await runHessian({ engine, dataset: batch }, { topK: 0, batchSize: 8 });
    assert.equal(again.loss, r.loss);
    // PyHessian's power iteration finds the largest-MAGNITUDE eigenvalue: here a negative one (the Hessian's trace is
    // negative too: vᵀHv = −141.9 for the fixture's random v in PyTorch), not the reference's largest algebraic.
    const power = await runHessian({ engine, dataset: batch }, { topK: 1, tol: 1e-4, batchSize: 8, seed: 0 });
    const lam = power.top_eigenvalues![0];
    assert.ok(lam < -100, `power iteration: ${lam}`);
    assert.ok(power.residuals![0] < 0.01 * Math.abs(lam), `residual ${power.residuals![0]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
