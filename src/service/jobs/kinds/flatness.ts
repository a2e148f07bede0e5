/** Local entropy over γ beside its second-order value, of a stored ONNX model on a stored dataset (src/landscape/flatness). */
import { hashOf } from '../hash.js';
import { BASE_SECONDS, flopSeconds } from '../limits.js';
import { defineJobKind } from '../types.js';
import { ModelOnDataPayload, modelOnDataInputs } from './model-on-data.js';

/** Options that change how fast, not what: left out of the cache key. */
const SPEED_ONLY = new Set(['device', 'drawsPerRun']);

export const flatnessJob = defineJobKind({
  kind: 'flatness',
  payload: ModelOnDataPayload,
  // Seeded draws: same model, data and options → the same numbers.
  cacheKey: (p) =>
    hashOf({
      model: p.model,
      dataset: p.dataset,
      options: Object.fromEntries(Object.entries(p.options).filter(([k]) => !SPEED_ONLY.has(k))),
    }),
  limits: {
    caps: { draws: 100_000, gamma: 16, drawsPerRun: 64, batchSize: 65_536, traceMaxIter: 10_000, traceMinIter: 10_000 },
    // draws × γ forward passes (~2 flop per parameter per sample) and the trace's Hv products (~8 each).
    seconds(p, work) {
      const o = p.options as { draws?: number; gamma?: number[]; samples?: number; trace?: string; traceMaxIter?: number };
      const samples = Math.min(o.samples ?? work.samples, work.samples);
      const evaluations = (o.draws ?? 1000) * (o.gamma?.length ?? 3);
      const hv = o.trace === 'exact' ? work.parameters : o.trace === 'none' ? 0 : (o.traceMaxIter ?? 100);
      return BASE_SECONDS + flopSeconds((2 * evaluations + 8 * (hv + 1)) * work.parameters * samples);
    },
  },
  inputs: (p) => modelOnDataInputs(p),
  async run(p, ctx) {
    const { flatnessOnFiles } = await import('../../../landscape/flatness/run.js');
    ctx.progress(0, 1, 'reading the model');
    const r = await flatnessOnFiles(ctx.onnx(p.model), ctx.dataset(p.dataset), p.options, (done, total, msg) =>
      ctx.progress(done, total, msg),
    );
    return { model: p.model, dataset: p.dataset, options: p.options, ...r };
  },
});
