/** Hessian diagnostics of a stored ONNX model or Hugging Face folder (result: route, architecture) on a stored dataset (src/landscape/hessian) in a worker thread. */
import { z } from 'zod';
import { DEFAULT_DEVICE, DEVICE_CHOICES } from '../../../runtime/devices.js';
import { hashOf } from '../hash.js';
import { BASE_SECONDS, flopSeconds } from '../limits.js';
import { defineJobKind } from '../types.js';
import { ModelOnDataPayload, modelOnDataInputs } from './model-on-data.js';

export const HessianPayload = ModelOnDataPayload.extend({
  device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
  untie: z.boolean().default(false),
  /** The loss criterion's spec (src/graph/criteria.ts), validated by the route. */
  criterion: z.string().default('ce'),
});
export type HessianPayload = z.infer<typeof HessianPayload>;

/**
 * The density again, for the dashboard's plot, on a grid reaching 6 kernel widths past the extreme Ritz values:
 * PyHessian's grid stops 0.01 (about one width) past them, which cuts the top eigenvalue's peak in half.
 */
async function displayDensity(d: { nodes: number[][]; weights: number[][] }): Promise<{ grid: number[]; values: number[] }> {
  const { smoothDensity } = await import('../../../landscape/hessian/density.js');
  const runs = d.nodes.map((nodes, i) => ({ nodes, weights: d.weights[i], startQuadratic: 0 }));
  const span = Math.max(...runs.map((r) => Math.max(...r.nodes))) - Math.min(...runs.map((r) => Math.min(...r.nodes)));
  const margin = 6 * Math.sqrt(1e-5 * Math.max(1, span + 0.02));
  return smoothDensity(runs, { bins: 4000, margin });
}

export const hessianJob = defineJobKind({
  kind: 'hessian',
  payload: HessianPayload,
  // Same model bytes, data bytes and options (seeded) → the same numbers; the device changes only the speed.
  // (Cross-entropy adds nothing to the key, so results computed before criteria existed stay valid.)
  cacheKey: (p) =>
    hashOf({
      model: p.model,
      dataset: p.dataset,
      options: p.options,
      untie: p.untie,
      ...(p.criterion !== 'ce' ? { criterion: p.criterion } : {}),
    }),
  limits: {
    caps: {
      batchSize: 65_536,
      topK: 100,
      maxIter: 10_000,
      traceMaxIter: 10_000,
      traceMinIter: 10_000,
      densitySteps: 1000,
      densityRuns: 100,
      densityBins: 100_000,
      inputMaxIter: 10_000,
    },
    // Hv products the options can spend (as run.ts's progress budget) × ~8 flop per parameter per sample each.
    seconds(p, work) {
      const o = p.options as Record<string, number | boolean | undefined>;
      const n = (k: string, d: number): number => (typeof o[k] === 'number' ? (o[k] as number) : d);
      const topK = n('topK', 1);
      let hv = topK > 0 ? (o.lanczos ? n('maxIter', 100) + topK : topK * (n('maxIter', 100) + 1)) : 0;
      if (o.trace) hv += n('traceMaxIter', 100);
      if (o.traceExact) hv += work.parameters;
      if (o.density) hv += n('densitySteps', 100) * n('densityRuns', 1);
      if (o.input) hv += n('inputMaxIter', 100) + 1;
      const samples = Math.min(n('samples', work.samples), work.samples || Infinity);
      return BASE_SECONDS + flopSeconds((hv + 1) * 8 * work.parameters * samples);
    },
  },
  inputs: (p) => modelOnDataInputs(p),
  async run(p, ctx) {
    const { hessianOnFiles } = await import('../../../landscape/hessian/files.js');
    const { parseCriterion } = await import('../../../graph/criteria.js');
    const criterion = parseCriterion(p.criterion);
    const r = await hessianOnFiles(
      ctx.modelArg(p.model),
      { data: ctx.dataset(p.dataset) },
      p.options,
      { device: p.device, untie: p.untie, criterion },
      (done, total, msg) => ctx.progress(done, total, msg),
    );
    return {
      model: p.model,
      dataset: p.dataset,
      options: p.options,
      criterion: p.criterion,
      ...r,
      ...(r.density ? { density: { ...r.density, display: await displayDensity(r.density) } } : {}),
    };
  },
});
