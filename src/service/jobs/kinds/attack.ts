/**
 * One model's adversarial robustness (`attack`): clean and L∞ PGD/FGSM loss and accuracy and the input Hessian's
 * top eigenvalue of a stored ONNX classifier on a stored labelled dataset (src/landscape/robustness/attack-model.ts).
 */
import { hashOf } from '../hash.js';
import { attackFlops, BASE_SECONDS, flopSeconds } from '../limits.js';
import { defineJobKind } from '../types.js';
import { ModelOnDataPayload, modelOnDataInputs } from './model-on-data.js';

export const attackJob = defineJobKind({
  kind: 'attack',
  payload: ModelOnDataPayload,
  // Seeded (the random start): the device changes only the speed.
  cacheKey: (p) => {
    const { device: _d, ...options } = p.options;
    return hashOf({ model: p.model, dataset: p.dataset, options });
  },
  limits: {
    caps: { steps: 10_000, samples: 10_000_000, batchSize: 65_536, evalBatchSize: 65_536, hessianSamples: 100_000, hessianMaxIter: 1000 },
    seconds: (p, work) => BASE_SECONDS + flopSeconds(attackFlops(p.options, work.parameters, work.samples)),
  },
  inputs: (p) => modelOnDataInputs(p),
  async run(p, ctx) {
    const { attackModel } = await import('../../../landscape/robustness/attack-model.js');
    ctx.progress(0, 1, 'reading the model');
    const r = await attackModel({ model: ctx.onnx(p.model), data: ctx.dataset(p.dataset) }, p.options, {
      progress: (done, total, msg) => ctx.progress(done, total, msg),
    });
    ctx.progress(1, 1, 'done');
    return { model: p.model, dataset: p.dataset, ...r };
  },
});
