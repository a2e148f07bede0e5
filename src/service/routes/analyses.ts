/** POST /v1/analyses, GET /v1/analyses/{id} (JSON or ?format=csv), GET /v1/analyses/{id}/esd/{layer}. */
import { reportToCsv } from '../../report/csv.js';
import { AnalyzeOptionsSchema } from '../../report/options.js';
import type { AnalysisReport } from '../../report/types.js';
import { WeightscopeError } from '../../errors.js';
import { COMMON_ERRORS, anyJson, jsonBody, parametersOf, problem, ref } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { analysisOptions } from '../jobs/analysis-options.js';
import { workOf } from '../jobs/limits.js';
import { AnalysisQuery, AnalysisRequest, Esd, EsdParams, withOptions } from '../schemas.js';
import { parseOr400 } from '../validate.js';

export const analyses = jobResource({
  kind: 'analysis',
  path: '/v1/analyses',
  noun: 'Analysis',
  submit: {
    summary: 'Analyse a stored model (a job)',
    notFound: 'Unknown model',
    body: AnalysisRequest,
    bodyId: 'AnalysisRequest',
    bodyDoc: withOptions(AnalysisRequest, AnalyzeOptionsSchema, 'Other analyze options (as the CLI); `fits` and `layers` above win'),
    components: [['AnalyzeOptions', AnalyzeOptionsSchema]],
    limit: '256kb',
  },
  submission(ctx, body) {
    const model = ctx.models.require(body.model);
    return { payload: { model: model.id, path: ctx.models.path(model), options: analysisOptions(body) }, work: workOf([model]) };
  },
  result: {
    summary: 'The analysis report (the CLI JSON), or CSV',
    content: { ...anyJson('The analysis report (as `weightscope analyze --json`)'), 'text/csv': { schema: { type: 'string' } } },
    query: AnalysisQuery,
    async send(ctx, req, res, id) {
      const q = parseOr400(AnalysisQuery, req.query, 'query');
      const text = await ctx.queue.resultText(id, 'analysis');
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
    },
  },
  extra: [
    {
      method: 'get',
      path: '/v1/analyses/{id}/esd/{layer}',
      components: [['Esd', Esd]],
      doc: {
        summary: "One layer's eigenvalues and fits",
        parameters: parametersOf(EsdParams, 'path', { id: 'Analysis id', layer: 'Layer id' }),
        responses: { '200': { description: 'ESD', content: jsonBody(ref('Esd')) }, '404': problem('Unknown id or layer, or no eigenvalues kept'), '409': problem('Not finished, failed or cancelled'), ...COMMON_ERRORS },
      },
      async handle(ctx, req, res) {
        const { id, layer } = parseOr400(EsdParams, req.params, 'params');
        const report = JSON.parse(await ctx.queue.resultText(id, 'analysis')) as AnalysisReport;
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
      },
    },
  ],
});
