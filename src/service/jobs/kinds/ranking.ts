/**
 * Ranking of several stored models by one metric (src/ranking). Each model's analysis comes from the result cache
 * when one with the same options exists; otherwise it is computed here and added to the cache as a finished
 * analysis job, so a later POST /v1/analyses for that model is served at once.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { RANKING_METRICS, metricMean } from '../../../ranking/metrics.js';
import { isWeightscopeError } from '../../../errors.js';
import { rankModels } from '../../../ranking/rank.js';
import type { AnalysisReport } from '../../../report/types.js';
import type { ProgressHook } from '../../../util/progress.js';
import { hashOf } from '../hash.js';
import { resultTextOf, storeResult } from '../results.js';
import { analysisArtifacts } from '../analysis-views.js';
import { ANALYSIS_BYTES_PER_S, BASE_SECONDS } from '../limits.js';
import { defineJobKind } from '../types.js';
import { analysisCacheKey } from './analysis.js';

export const RankingPayload = z.object({
  models: z.array(z.object({ id: z.string(), path: z.string() })).min(2),
  metric: z.enum(RANKING_METRICS),
  direction: z.enum(['asc', 'desc']),
  scores: z.record(z.string(), z.number()).optional(),
  /** Parsed analyze() options used for every model. */
  options: z.record(z.string(), z.unknown()),
});

type Db = import('better-sqlite3').Database;

/** The model's analysis from the result cache, or computed here and added to the cache. */
async function reportFor(db: Db, dataDir: string, inlineLimit: number, m: { id: string; path: string }, options: Record<string, unknown>, progress: ProgressHook): Promise<AnalysisReport> {
  const key = analysisCacheKey(m.id, options);
  const hit = db.prepare(`SELECT result, result_dir FROM jobs WHERE kind = 'analysis' AND cache_key = ? AND state = 'succeeded' LIMIT 1`).get(key) as
    | { result: string | null; result_dir: string | null }
    | undefined;
  if (hit) return JSON.parse(await resultTextOf(dataDir, hit.result_dir !== null ? { dir: hit.result_dir } : { text: hit.result ?? 'null' })) as AnalysisReport;
  const { analyze } = await import('../../../report/analyze.js');
  const { parseAnalyzeOptions } = await import('../../../report/options.js');
  const t0 = Date.now();
  const raw = await analyze(m.path, parseAnalyzeOptions(options), progress);
  const report = { ...raw, model: { ...raw.model, source: m.id } };
  const now = Date.now();
  const id = randomUUID();
  const stored = storeResult(dataDir, id, report, inlineLimit, analysisArtifacts as (r: never) => Record<string, unknown>);
  db.prepare(
    `INSERT INTO jobs (id, kind, state, progress, message, payload, cache_key, result, result_dir, attempts, created_at, started_at, finished_at, updated_at)
     VALUES (?, 'analysis', 'succeeded', 1, 'done (for a ranking)', ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
  ).run(id, JSON.stringify({ model: m.id, path: m.path, options }), key, 'text' in stored ? stored.text : null, 'dir' in stored ? stored.dir : null, t0, t0, now, now);
  return report;
}

export const rankingJob = defineJobKind({
  kind: 'ranking',
  payload: RankingPayload,
  cacheKey: (p) => hashOf({ models: p.models.map((m) => m.id), metric: p.metric, direction: p.direction, scores: p.scores ?? null, options: analysisCacheKey('', p.options) }),
  // Work sums over the models: each analysis is budgeted as its own job would be.
  limits: { caps: { workers: 16 }, seconds: (p, work) => BASE_SECONDS * p.models.length + work.bytes / ANALYSIS_BYTES_PER_S },
  async run(p, ctx) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(ctx.dataDir, 'weightscope.db'));
    db.pragma('busy_timeout = 5000');
    try {
      const values: { model: string; value: number | null }[] = [];
      const failed: { model: string; error: { code: string; message: string } }[] = [];
      let done = 0;
      for (const m of p.models) {
        ctx.progress(done, p.models.length, `analysing ${m.id.slice(0, 12)}`);
        try {
          // Per-layer progress within each model's share, which is also where a cancelled ranking stops.
          const within: ProgressHook = (d, t, msg) => ctx.progress(done + (t > 0 ? d / t : 0), p.models.length, msg);
          values.push({ model: m.id, value: metricMean(await reportFor(db, ctx.dataDir, ctx.inlineResultBytes, m, p.options, within), p.metric) });
        } catch (e) {
          // A model that cannot be analysed ranks last (value null) instead of failing the whole ranking.
          if (!isWeightscopeError(e)) throw e;
          failed.push({ model: m.id, error: { code: e.code, message: e.message } });
          values.push({ model: m.id, value: null });
        }
        ctx.progress(++done, p.models.length, `analysed ${done}/${p.models.length}`);
      }
      return { ...rankModels(values, p.metric, p.direction, p.scores), ...(failed.length ? { failed } : {}) };
    } finally {
      db.close();
    }
  },
});
