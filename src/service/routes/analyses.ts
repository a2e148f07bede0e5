/** POST /v1/analyses, GET /v1/analyses/{id} (JSON or ?format=csv), GET /v1/analyses/{id}/esd/{layer}. */
import { reportToCsv } from '../../report/csv.js';
import { AnalyzeOptionsSchema } from '../../report/options.js';
import type { AnalysisReport } from '../../report/types.js';
import { WeightscopeError } from '../../errors.js';
import { join } from 'node:path';
import { COMMON_ERRORS, anyJson, jsonBody, parametersOf, problem, ref } from '../http/doc.js';
import { sendFile } from '../http/files.js';
import { CSV, LITE, esdName, layerEsd, liteReport } from '../jobs/analysis-views.js';
import { RESULT_FILE } from '../jobs/results.js';
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
  async submission(ctx, body) {
    const model = await ctx.models.require(body.model);
    return { payload: { model: model.id, options: analysisOptions(body) }, work: workOf([model]) };
  },
  result: {
    summary: 'The analysis report (the CLI JSON), or CSV',
    content: { ...anyJson('The analysis report (as `weightscope analyze --json`)'), 'text/csv': { schema: { type: 'string' } } },
    query: AnalysisQuery,
    async send(ctx, req, res, id) {
      const q = parseOr400(AnalysisQuery, req.query, 'query');
      const stored = await ctx.queue.result(id, 'analysis');
      const artifact = q.format === 'csv' ? CSV : q.eigenvalues === '1' ? RESULT_FILE : LITE;
      if ('dir' in stored)
        return sendFile(res, await ctx.jobFile(id, join(stored.dir, artifact)), q.format === 'csv' ? 'text/csv' : 'application/json');
      if (q.format === 'csv') {
        res.type('text/csv').send(reportToCsv(JSON.parse(stored.text) as AnalysisReport));
        return;
      }
      if (q.eigenvalues === '1' || !stored.text.includes('"eigenvalues"')) {
        res.type('application/json').send(stored.text);
        return;
      }
      res.json(liteReport(JSON.parse(stored.text) as AnalysisReport));
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
        responses: {
          '200': { description: 'ESD', content: jsonBody(ref('Esd')) },
          '404': problem('Unknown id or layer, or no eigenvalues kept'),
          '409': problem('Not finished, failed or cancelled'),
          ...COMMON_ERRORS,
        },
      },
      async handle(ctx, req, res) {
        const { id, layer } = parseOr400(EsdParams, req.params, 'params');
        const stored = await ctx.queue.result(id, 'analysis');
        const missing = (): WeightscopeError =>
          new WeightscopeError(
            'not-found',
            `analysis ${id} has no layer ${layer} with eigenvalues (unknown layer, or the analysis did not keep them)`,
          );
        if ('dir' in stored) {
          const file = await ctx.jobFile(id, join(stored.dir, esdName(layer)));
          if (!file) throw missing();
          return sendFile(res, file, 'application/json');
        }
        const esd = layerEsd(JSON.parse(stored.text) as AnalysisReport, layer);
        if (!esd) throw missing();
        res.json(esd);
      },
    },
  ],
});
