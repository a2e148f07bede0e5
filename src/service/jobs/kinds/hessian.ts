/** Hessian diagnostics of a stored ONNX model on a stored dataset (src/landscape/hessian) in a worker thread. */
import { z } from 'zod';
import { hashOf } from '../hash.js';
import { defineJobKind } from '../types.js';

export const HessianPayload = z.object({
  model: z.string(),
  dataset: z.string(),
  /** Hessian options, already validated by the route with parseHessianOptions. */
  options: z.record(z.string(), z.unknown()),
  device: z.enum(['cpu', 'webgpu', 'cuda']).default('cpu'),
  untie: z.boolean().default(false),
});
export type HessianPayload = z.infer<typeof HessianPayload>;

export const hessianJob = defineJobKind({
  kind: 'hessian',
  payload: HessianPayload,
  // Same model bytes, data bytes and options (seeded) → the same numbers; the device changes only the speed.
  cacheKey: (p) => hashOf({ model: p.model, dataset: p.dataset, options: p.options, untie: p.untie }),
  inputs: (p) => ({ models: [p.model], datasets: [p.dataset] }),
  async run(p, ctx) {
    const { hessianOnFiles } = await import('../../../landscape/hessian/files.js');
    const r = await hessianOnFiles(ctx.onnx(p.model), { data: ctx.dataset(p.dataset) }, p.options, { device: p.device, untie: p.untie }, (done, total, msg) =>
      ctx.progress(done, total, msg),
    );
    return { model: p.model, dataset: p.dataset, options: p.options, ...r };
  },
});
