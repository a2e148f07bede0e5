/** HT-SR analysis of one stored model: src/report/analyze.ts in a worker; cached by (model content, options). */
import { z } from 'zod';
import type { AnalysisReport } from '../../../report/types.js';
import { analysisArtifacts } from '../analysis-views.js';
import { hashOf } from '../hash.js';
import { ANALYSIS_BYTES_PER_S, BASE_SECONDS } from '../limits.js';
import { defineJobKind } from '../types.js';

export const AnalysisPayload = z.object({
  /** Model id = content hash, so the cache key needs no file hashing. */
  model: z.string(),
  /** analyze() options, already validated by the route with parseAnalyzeOptions. */
  options: z.record(z.string(), z.unknown()),
});
export type AnalysisPayload = z.infer<typeof AnalysisPayload>;

/** Options that change how fast, not what: left out of the cache key. */
const SPEED_ONLY = new Set(['workers', 'eigenBackend']);

export function analysisCacheKey(model: string, options: Record<string, unknown>): string {
  const semantic = Object.fromEntries(Object.entries(options).filter(([k]) => !SPEED_ONLY.has(k)));
  return hashOf({ model, options: semantic });
}

export const analysisJob = defineJobKind({
  kind: 'analysis',
  payload: AnalysisPayload,
  cacheKey: (p) => analysisCacheKey(p.model, p.options),
  limits: { caps: { workers: 16 }, seconds: (_p, work) => BASE_SECONDS + work.bytes / ANALYSIS_BYTES_PER_S },
  inputs: (p) => ({ models: [p.model] }),
  artifacts: (report) => analysisArtifacts(report as AnalysisReport),
  async run(p, ctx) {
    const { analyze } = await import('../../../report/analyze.js');
    const { parseAnalyzeOptions } = await import('../../../report/options.js');
    const report = await analyze(ctx.model(p.model), parseAnalyzeOptions(p.options), (done, total, msg) => ctx.progress(done, total, msg));
    // The path on this machine is an implementation detail; clients know the model by its id.
    return { ...report, model: { ...report.model, source: p.model } };
  },
});
