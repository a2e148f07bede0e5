/** Neural-collapse metrics (NC1–NC4) of a stored ONNX classifier on a stored labelled dataset (src/landscape/collapse). */
import { hashOf } from '../hash.js';
import { BASE_SECONDS, flopSeconds } from '../limits.js';
import { defineJobKind } from '../types.js';
import { ModelOnDataPayload, modelOnDataInputs } from './model-on-data.js';

export const collapseJob = defineJobKind({
  kind: 'collapse',
  payload: ModelOnDataPayload,
  // The device changes only the speed.
  cacheKey: (p) => {
    const { device: _d, ...options } = p.options;
    return hashOf({ model: p.model, dataset: p.dataset, options });
  },
  limits: {
    caps: { batchSize: 65_536 },
    // One forward pass (~2 flop per parameter per sample) and the O(N·d·C) metrics, which d·C ≤ parameters bounds.
    seconds(p, work) {
      const samples = typeof p.options.samples === 'number' ? Math.min(p.options.samples, work.samples) : work.samples;
      return BASE_SECONDS + flopSeconds(4 * work.parameters * samples);
    },
  },
  inputs: (p) => modelOnDataInputs(p),
  async run(p, ctx) {
    const { collapseOnFiles } = await import('../../../landscape/collapse/run.js');
    ctx.progress(0, 1, 'reading the model');
    const r = await collapseOnFiles(ctx.onnx(p.model), ctx.dataset(p.dataset), p.options, (done, total, msg) =>
      ctx.progress(done, total, msg),
    );
    ctx.progress(1, 1, 'done');
    return { model: p.model, dataset: p.dataset, options: p.options, ...r };
  },
});
