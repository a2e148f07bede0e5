/** POST /v1/analyses, GET /v1/analyses/{id} (JSON or ?format=csv), GET /v1/analyses/{id}/esd/{layer}. */
import { Router, json, type Response } from 'express';
import { parseAnalyzeOptions } from '../../report/options.js';
import { reportToCsv } from '../../report/csv.js';
import type { AnalysisReport } from '../../report/types.js';
import { WeightscopeError } from '../../errors.js';
import type { ServiceContext } from '../context.js';
import type { JobView } from '../jobs/queue.js';
import { AnalysisQuery, AnalysisRequest, EsdParams, IdParams } from '../schemas.js';
import { parseOr400 } from '../validate.js';

/**
 * analyze() options from a request: `fits` and `layers` at the top level win over the same keys in `options`. The
 * service keeps each layer's eigenvalues (for the dashboard's ESD plots) unless the request says otherwise.
 */
export function analysisOptions(body: { fits?: string[]; layers?: (number | string)[]; options?: Record<string, unknown> }): Record<string, unknown> {
  const merged: Record<string, unknown> = { keepEigenvalues: true, ...(body.options ?? {}) };
  if (body.fits) merged.fits = body.fits;
  if (body.layers) merged.layers = body.layers;
  return { ...parseAnalyzeOptions(merged) };
}

export function sendJob(res: Response, job: JobView, cached: boolean): void {
  res.status(cached ? 200 : 202).location(`/v1/jobs/${job.id}`).json({ job });
}

export function analysisRoutes(ctx: ServiceContext): Router {
  const r = Router();

  r.post('/v1/analyses', json({ limit: '256kb' }), (req, res) => {
    const body = parseOr400(AnalysisRequest, req.body, 'body');
    const model = ctx.models.require(body.model);
    const options = analysisOptions(body);
    const { job, cached } = ctx.queue.submit('analysis', { model: model.id, path: ctx.models.path(model), options });
    sendJob(res, job, cached);
  });

  r.get('/v1/analyses/:id', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    const q = parseOr400(AnalysisQuery, req.query, 'query');
    const text = ctx.queue.resultText(id, 'analysis');
    if (q.format === 'csv') {
      res.type('text/csv').send(reportToCsv(JSON.parse(text) as AnalysisReport));
      return;
    }
    if (q.eigenvalues === '1' || !text.includes('"eigenvalues"')) {
      res.type('application/json').send(text);
      return;
    }
    const report = JSON.parse(text) as AnalysisReport;
    res.json({ ...report, layers: report.layers.map(({ eigenvalues: _e, ...rest }) => rest) });
  });

  r.get('/v1/analyses/:id/esd/:layer', (req, res) => {
    const { id, layer } = parseOr400(EsdParams, req.params, 'params');
    const report = JSON.parse(ctx.queue.resultText(id, 'analysis')) as AnalysisReport;
    const row = report.layers.find((l) => l.layer_id === layer);
    if (!row) throw new WeightscopeError('not-found', `analysis ${id} has no layer ${layer}`);
    if (!row.eigenvalues) throw new WeightscopeError('not-found', `analysis ${id} did not keep eigenvalues (layer ${layer})`);
    res.json({
      layer_id: row.layer_id,
      name: row.name,
      eigenvalues: row.eigenvalues,
      alpha: row.alpha,
      xmin: row.xmin,
      xmax: row.xmax,
      etpl: row.etpl ? { beta: row.etpl.beta, lambda: row.etpl.lambda, xmin: row.etpl.xmin } : null,
    });
  });

  return r;
}
