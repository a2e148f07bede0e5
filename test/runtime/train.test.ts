import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine } from '../../src/runtime/engine.js';
import { loadDataset } from '../../src/runtime/dataset.js';
import { sgd } from '../../src/runtime/optim.js';
import { train, type StepInfo } from '../../src/runtime/train.js';
import type { ParamMap } from '../../src/runtime/params.js';
import { fixture } from '../helpers/fixtures.js';

test('train: SGD on the fmnist-backdoor clean subset lowers the loss; a fixed seed reproduces the run exactly', async () => {
  const engine = await createEngine(fixture('fmnist-backdoor', 'model_a.onnx'), { loss: 'classification' });
  const ds = await loadDataset(fixture('fmnist-backdoor', 'clean_subset.safetensors'));
  const before = await engine.evaluate(engine.initialParams(), ds, 1000);

  async function run(seed: number): Promise<{ params: ParamMap; steps: StepInfo[]; epochLoss: number[] }> {
    const params = engine.initialParams();
    const steps: StepInfo[] = [];
    const progress: number[] = [];
    const r = await train(engine, params, ds, {
      epochs: 2,
      batchSize: 128,
      samplesPerEpoch: 640, // CI-sized: 2 epochs × 5 batches of 128 drawn from the 3000 images
      seed,
      optimizer: sgd({ lr: 0.05, momentum: 0.9 }),
      lrSchedule: (epoch) => (epoch === 0 ? 0.05 : 0.025),
      onStep: (info) => {
        steps.push(info);
      },
      progress: (done, total) => progress.push(done / total),
    });
    assert.equal(r.steps, 10);
    assert.deepEqual(progress.at(-1), 1);
    assert.deepEqual(
      steps.map((s) => s.lr),
      [0.05, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.025],
    );
    return { params, steps, epochLoss: r.epochs.map((e) => e.trainLoss) };
  }

  const a = await run(11);
  const after = await engine.evaluate(a.params, ds, 1000);
  assert.ok(after.loss < before.loss - 0.01, `clean-subset loss ${before.loss} → ${after.loss}`);
  const b = await run(11);
  assert.deepEqual(
    b.steps.map((s) => s.loss),
    a.steps.map((s) => s.loss),
  );
  for (const [name, w] of a.params) assert.deepEqual(b.params.get(name), w, name);
  const c = await run(12);
  assert.notDeepEqual(
    c.steps.map((s) => s.loss),
    a.steps.map((s) => s.loss),
  );
});
