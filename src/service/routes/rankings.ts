/** POST /v1/rankings and GET /v1/rankings/{id}. */
import { Router, json } from 'express';
import { METRIC_INFO } from '../../ranking/metrics.js';
import { WeightscopeError } from '../../errors.js';
import type { ServiceContext } from '../context.js';
import { IdParams, RankingRequest } from '../schemas.js';
import { parseOr400 } from '../validate.js';
import { analysisOptions, sendJob } from './analyses.js';

export function rankingRoutes(ctx: ServiceContext): Router {
  const r = Router();

  r.post('/v1/rankings', json({ limit: '256kb' }), (req, res) => {
    const body = parseOr400(RankingRequest, req.body, 'body');
    if (new Set(body.models).size !== body.models.length) throw new WeightscopeError('invalid-input', 'a model is listed twice');
    const models = body.models.map((id) => ctx.models.require(id));
    for (const k of Object.keys(body.scores ?? {})) {
      if (!body.models.includes(k)) throw new WeightscopeError('invalid-input', `scores has ${JSON.stringify(k)}, which is not in models`);
    }
    const info = METRIC_INFO[body.metric];
    // Without explicit fits only the metric's own fit runs (E-TPL is the slow one); with them, it is added if missing.
    const given = body.options?.fits as string[] | undefined;
    const options = analysisOptions({ options: { ...(body.options ?? {}), fits: given ? [...new Set([...given, info.fit])] : [info.fit] } });
    const { job, cached } = ctx.queue.submit('ranking', {
      models: models.map((m) => ({ id: m.id, path: ctx.models.path(m) })),
      metric: body.metric,
      direction: body.direction ?? info.direction,
      ...(body.scores ? { scores: body.scores } : {}),
      options,
    });
    sendJob(res, job, cached);
  });

  r.get('/v1/rankings/:id', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    res.type('application/json').send(ctx.queue.resultText(id, 'ranking'));
  });

  return r;
}
