/**
 * Yang et al.'s loss-landscape taxonomy of 3–16 stored ONNX models of one graph on a stored training set (and an
 * optional test set): per-model Hessian, per-pair trained curves and CKA, the phase (src/landscape/taxonomy).
 */
import { z } from 'zod';
import { hashOf } from '../hash.js';
import { BASE_SECONDS, CURVE_CAPS, flopSeconds } from '../limits.js';
import { defineJobKind } from '../types.js';
import { inputsOf, Stored } from './model-on-data.js';

export const TaxonomyPayload = z.object({
  models: z.array(Stored).min(3),
  data: Stored,
  test: Stored.nullable().default(null),
  /** taxonomy() options, already validated by the route with parseTaxonomyOptions (defaults filled in). */
  options: z.record(z.string(), z.unknown()),
});
export type TaxonomyPayload = z.infer<typeof TaxonomyPayload>;

interface BudgetOptions {
  epochs?: number;
  samplesPerEpoch?: number;
  bends?: number;
  ts?: number[];
  pairs?: string;
  hessianSamples?: number;
  hessianMaxIter?: number;
  traceMaxIter?: number;
  ckaSamples?: number;
}

/**
 * Per model: its Hessian (top eigenvalue + trace, ~8 flop per parameter per sample per Hv) on the Hessian batch and
 * a forward pass over train and test; per pair: curve training (6 flop per parameter per sample per bend), the
 * evaluation at each t over the training data (BN statistics and loss, 2 × 2 flop) and the CKA forward passes.
 */
export function taxonomySeconds(
  p: { models: readonly unknown[]; options: BudgetOptions },
  work: { parameters: number; samples: number },
): number {
  const o = p.options;
  const k = p.models.length;
  const P = work.parameters / k;
  const N = work.samples;
  const pairs = o.pairs === 'all' ? (k * (k - 1)) / 2 : k;
  const hessian =
    k * ((o.hessianMaxIter ?? 100) + 1 + (o.traceMaxIter ?? 100)) * 8 * P * Math.min(o.hessianSamples ?? 200, N) + k * 2 * P * N;
  const curve =
    (o.epochs ?? 50) * (o.samplesPerEpoch ?? N) * 6 * P * (o.bends ?? 3) + (o.ts?.length ?? 5) * N * 4 * P + 4 * P * (o.ckaSamples ?? 768);
  return BASE_SECONDS + flopSeconds(hessian + pairs * curve);
}

export const taxonomyJob = defineJobKind({
  kind: 'taxonomy',
  payload: TaxonomyPayload,
  // Seeded: the same models (by content), data and options → the same report; the device changes only the speed.
  cacheKey: (p) => {
    const { device: _d, ...options } = p.options;
    return hashOf({ models: p.models.map((m) => m.id), data: p.data.id, test: p.test?.id ?? null, options });
  },
  limits: {
    caps: { ...CURVE_CAPS, hessianSamples: 65_536, hessianMaxIter: 10_000, traceMaxIter: 10_000, ckaSamples: 100_000, ckaBatch: 65_536 },
    seconds: (p, work) => taxonomySeconds(p as { models: unknown[]; options: BudgetOptions }, work),
  },
  inputs: (p) => inputsOf(p.models, [p.data, p.test]),
  async run(p, ctx) {
    const { taxonomy } = await import('../../../landscape/taxonomy/run.js');
    ctx.progress(0, 1, 'reading the models');
    const paths = p.models.map((m) => ctx.onnx(m.id));
    const r = await taxonomy(
      { models: paths, train: ctx.dataset(p.data.id), ...(p.test ? { test: ctx.dataset(p.test.id) } : {}) },
      p.options,
      { progress: (done, total, msg) => ctx.progress(done, total, msg) },
    );
    // The library names models by file; clients know them by id (and a stored path is an implementation detail).
    const idOf = (path: string): string => p.models[paths.indexOf(path)].id;
    return {
      ...r,
      models: r.models.map((m) => ({ ...m, model: idOf(m.model) })),
      pairs: r.pairs.map((x) => ({ ...x, a: idOf(x.a), b: idOf(x.b) })),
      data: p.data.id,
      test: p.test?.id ?? null,
      options: p.options,
    };
  },
});
