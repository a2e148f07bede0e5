/** POST /v1/rankings and GET /v1/rankings/{id}. */
import { METRIC_INFO } from '../../ranking/metrics.js';
import { AnalyzeOptionsSchema } from '../../report/options.js';
import { WeightscopeError } from '../../errors.js';
import { jsonBody, ref } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { analysisOptions } from '../jobs/analysis-options.js';
import { workOf } from '../jobs/limits.js';
import { RankingMetricSchema, RankingRequest, RankingResult, withOptions } from '../schemas.js';

export const rankings = jobResource({
  kind: 'ranking',
  path: '/v1/rankings',
  noun: 'Ranking',
  submit: {
    summary: 'Rank models by a metric (mean over layers); with scores, Spearman and Kendall correlation (a job)',
    notFound: 'Unknown model',
    body: RankingRequest,
    bodyId: 'RankingRequest',
    bodyDoc: withOptions(RankingRequest, AnalyzeOptionsSchema, "Analyze options for each model (the metric's own fit is always added)"),
    components: [
      ['RankingMetric', RankingMetricSchema],
      ['RankingResult', RankingResult],
    ],
    limit: '256kb',
  },
  async submission(ctx, body) {
    if (new Set(body.models).size !== body.models.length) throw new WeightscopeError('invalid-input', 'a model is listed twice');
    const models = await Promise.all(body.models.map((id) => ctx.models.require(id)));
    for (const k of Object.keys(body.scores ?? {})) {
      if (!body.models.includes(k)) throw new WeightscopeError('invalid-input', `scores has ${JSON.stringify(k)}, which is not in models`);
    }
    const info = METRIC_INFO[body.metric];
    // Without explicit fits only the metric's own fit runs (E-TPL is the slow one); with them, it is added if missing.
    const given = body.options?.fits as string[] | undefined;
    const options = analysisOptions({
      options: { ...(body.options ?? {}), fits: given ? [...new Set([...given, info.fit])] : [info.fit] },
    });
    const payload = {
      models: models.map((m) => ({ id: m.id, bytes: m.bytes, parameters: m.parameters })),
      metric: body.metric,
      direction: body.direction ?? info.direction,
      ...(body.scores ? { scores: body.scores } : {}),
      options,
    };
    return { payload, work: workOf(models) };
  },
  result: { summary: 'The ranking', content: jsonBody(ref('RankingResult')) },
});
