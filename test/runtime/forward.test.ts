import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readOnnxModel } from '../../src/io/onnx-model.js';
import { loadDataset } from '../../src/runtime/dataset.js';
import { createForward } from '../../src/runtime/forward.js';
import { classificationSums, lmSums } from '../../src/runtime/metrics.js';
import { loadParams } from '../../src/runtime/params.js';
import { fixture } from '../helpers/fixtures.js';

const ref = JSON.parse(readFileSync(fixture('fmnist-backdoor', 'reference.json'), 'utf8')) as {
  models: Record<string, { clean_acc: number; asr: number }>;
};
const hessRef = JSON.parse(readFileSync(fixture('fmnist-hessian', 'reference.json'), 'utf8')) as { mlp48: { loss: number } };

test('forward: model_a and model_b clean accuracy and ASR equal reference.json exactly', async () => {
  for (const name of ['model_a', 'model_b']) {
    const model = await readOnnxModel(fixture('fmnist-backdoor', `${name}.onnx`));
    const { specs, values } = await loadParams(model, fixture('fmnist-backdoor'));
    const f = await createForward(model, specs);
    assert.equal(f.inputName, 'input');
    assert.equal(f.logitsName, 'logits');
    const clean = await f.evaluate(values, await loadDataset(fixture('fmnist-backdoor', 'test_clean.safetensors')), {
      loss: 'classification',
    });
    assert.equal(clean.n, 2000);
    assert.equal(clean.accuracy, ref.models[name].clean_acc);
    // test_triggered's y is the target class: accuracy on it is the attack success rate
    const trig = await f.evaluate(values, await loadDataset(fixture('fmnist-backdoor', 'test_triggered.safetensors')), {
      loss: 'classification',
      batchSize: 512,
    });
    assert.equal(trig.accuracy, ref.models[name].asr);
  }
});

test('forward: mlp48 mean cross-entropy on its batch equals the PyTorch reference', async () => {
  const model = await readOnnxModel(fixture('fmnist-hessian', 'mlp48.onnx'));
  const { specs, values } = await loadParams(model, fixture('fmnist-hessian'));
  const f = await createForward(model, specs);
  const ds = await loadDataset(fixture('fmnist-hessian', 'batch.safetensors'));
  // batch sizes 1000 and 300 (last batch 100) must agree: size-weighted means
  for (const batchSize of [1000, 300]) {
    const r = await f.evaluate(values, ds, { loss: 'classification', batchSize });
    assert.ok(Math.abs(r.loss - hessRef.mlp48.loss) < 1e-6 * hessRef.mlp48.loss, `${r.loss} vs ${hessRef.mlp48.loss}`);
  }
});

test('metrics: cross-entropy, next-token loss and argmax ties, exactly', () => {
  const logits = Float32Array.of(0, 0, 1, 1); // rows [0, 0] and [1, 1]: ties → index 0
  const s = classificationSums(logits, [2, 2], BigInt64Array.of(0n, 1n));
  assert.ok(Math.abs(s.loss - 2 * Math.log(2)) < 1e-15);
  assert.equal(s.correct, 1);
  assert.equal(s.count, 2);
  // B=1, S=3, V=2: positions 0,1 predict tokens 1,2 of x = [0, 1, 1]
  const lm = lmSums(Float32Array.of(0, Math.log(3), 5, 5, 100, -100), [1, 3, 2], BigInt64Array.of(0n, 1n, 1n));
  assert.ok(Math.abs(lm.loss - (Math.log(4 / 3) + Math.log(2))) < 1e-7); // ln 3 rounded to float32
  assert.equal(lm.count, 2);
  assert.equal(lm.correct, 1); // position 0 argmax 1 = target 1; position 1 tie → 0 ≠ 1
  assert.throws(() => classificationSums(logits, [2, 2], BigInt64Array.of(0n, 2n)), { code: 'invalid-input' });
  assert.throws(() => classificationSums(logits, [4], BigInt64Array.of(0n)), { code: 'shape-mismatch' });
});
