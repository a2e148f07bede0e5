/**
 * Ranking of several stored models by one metric (src/ranking), as a join: one analysis job per model (each found
 * in the result cache, or run on any free worker, and then cached for later POST /v1/analyses), and this job, which
 * ranks once they have all finished. A model whose analysis failed with an input error ranks last (value null) and
 * is listed in `failed`; an internal error fails the ranking.
 */
import { z } from 'zod';
import { RANKING_METRICS, metricMean } from '../../../ranking/metrics.js';
import { rankModels } from '../../../ranking/rank.js';
import type { AnalysisReport } from '../../../report/types.js';
import { hashOf } from '../hash.js';
import { resultTextOf } from '../results.js';
import { ANALYSIS_BYTES_PER_S, BASE_SECONDS } from '../limits.js';
import { defineJobKind } from '../types.js';
import { analysisCacheKey } from './analysis.js';

export const RankingPayload = z.object({
  /** Models by id, with their size (each analysis child's time budget). */
  models: z.array(z.object({ id: z.string(), bytes: z.number().min(0).default(0), parameters: z.number().min(0).default(0) })).min(2),
  metric: z.enum(RANKING_METRICS),
  direction: z.enum(['asc', 'desc']),
  scores: z.record(z.string(), z.number()).optional(),
  /** Parsed analyze() options used for every model. */
  options: z.record(z.string(), z.unknown()),
});

/** Analysis errors that say something broke (the ranking fails), not that the model cannot be analysed. */
const BROKEN = new Set(['internal', 'interrupted']);

export const rankingJob = defineJobKind({
  kind: 'ranking',
  payload: RankingPayload,
  cacheKey: (p) =>
    hashOf({
      models: p.models.map((m) => m.id),
      metric: p.metric,
      direction: p.direction,
      scores: p.scores ?? null,
      options: analysisCacheKey('', p.options),
    }),
  // Work sums over the models: each analysis is budgeted as its own job would be.
  limits: { caps: { workers: 16 }, seconds: (p, work) => BASE_SECONDS * p.models.length + work.bytes / ANALYSIS_BYTES_PER_S },
  // Its own run only reads its children's results: a worker node runs it in the slot kept for quick jobs.
  light: true,
  children: (p) =>
    p.models.map((m) => ({
      kind: 'analysis',
      payload: { model: m.id, options: p.options },
      work: { bytes: m.bytes, parameters: m.parameters, samples: 0 },
    })),
  async run(p, ctx) {
    if (ctx.children.length !== p.models.length)
      throw new Error(`ranking ${ctx.jobId}: ${ctx.children.length} analyses for ${p.models.length} models`);
    const values: { model: string; value: number | null; family?: string }[] = [];
    const failed: { model: string; error: { code: string; message: string } }[] = [];
    for (const [i, c] of ctx.children.entries()) {
      const model = p.models[i].id;
      ctx.progress(i, p.models.length, `ranking ${model.slice(0, 12)}`);
      if (c.state === 'succeeded' && c.result !== null) {
        // A large analysis is stored as files (results.ts): the queue made them readable under ctx.dataDir.
        const report = JSON.parse(await resultTextOf(ctx.dataDir, c.result)) as AnalysisReport;
        values.push({ model, value: metricMean(report, p.metric), family: report.model.family?.name });
        continue;
      }
      const error = c.error ?? { code: c.state, message: `analysis ${c.id} ${c.state}` };
      if (BROKEN.has(error.code)) throw new Error(`analysis of ${model} failed: ${error.message}`);
      failed.push({ model, error });
      values.push({ model, value: null });
    }
    return { ...rankModels(values, p.metric, p.direction, p.scores), ...(failed.length ? { failed } : {}) };
  },
});
