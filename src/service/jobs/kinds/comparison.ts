/** Similarity of two stored models (ONNX, or Hugging Face folders by their config.json graph) on a stored dataset: CKA of softmax outputs and L2 distance of weights. */
import { z } from 'zod';
import { DEFAULT_DEVICE, DEVICE_CHOICES } from '../../../runtime/devices.js';
import { hashOf } from '../hash.js';
import { BASE_SECONDS, flopSeconds } from '../limits.js';
import { defineJobKind } from '../types.js';

export const ComparisonPayload = z.object({
  models: z.array(z.object({ id: z.string() })).length(2),
  dataset: z.string(),
  options: z.record(z.string(), z.unknown()),
  device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
});

export const comparisonJob = defineJobKind({
  kind: 'comparison',
  payload: ComparisonPayload,
  cacheKey: (p) => hashOf({ models: p.models.map((m) => m.id), dataset: p.dataset, options: p.options }),
  // One forward pass of each model over the data (~2 flop per parameter per sample).
  limits: { caps: { batchSize: 65_536 }, seconds: (_p, work) => BASE_SECONDS + flopSeconds(2 * work.parameters * work.samples) },
  inputs: (p) => ({ models: p.models.map((m) => m.id), datasets: [p.dataset] }),
  async run(p, ctx) {
    const { compareFiles } = await import('../../../landscape/similarity/compare.js');
    ctx.progress(0, 1, 'comparing');
    const r = await compareFiles(
      ctx.modelArg(p.models[0].id),
      ctx.modelArg(p.models[1].id),
      { data: ctx.dataset(p.dataset) },
      p.options,
      p.device,
    );
    ctx.progress(1, 1, 'done');
    return { models: p.models.map((m) => m.id), dataset: p.dataset, ...r };
  },
});
