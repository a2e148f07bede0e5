/**
 * POST /v1/connectivity + GET /v1/connectivity/{id}; POST /v1/repairs + GET /v1/repairs/{id} +
 * GET /v1/repairs/{id}/model?format=onnx|safetensors. Models and datasets are stored ones (by id).
 */
import { sendFile } from '../http/files.js';
import { WeightscopeError } from '../../errors.js';
import { connectOptionsSchema, parseConnectOptions } from '../../landscape/connectivity/connect.js';
import { parseRepairOptions, repairOptionsSchema } from '../../landscape/repair/repair.js';
import { COMMON_ERRORS, anyJson, parametersOf, problem } from '../http/doc.js';
import { idParams, jobResource } from '../http/job-resource.js';
import { storedInputs } from '../http/stored.js';
import { ConnectivityRequest, IdParams, RepairModelQuery, RepairRequest, withOptions } from '../schemas.js';
import { parseOr400 } from '../validate.js';

export const connectivity = jobResource({
  kind: 'connectivity',
  path: '/v1/connectivity',
  noun: 'Connectivity',
  submit: {
    summary: 'Train a curve between two models of one graph; loss and accuracy along t, barrier mc (a job)',
    notFound: 'Unknown model or dataset',
    body: ConnectivityRequest,
    bodyId: 'ConnectivityRequest',
    bodyDoc: withOptions(ConnectivityRequest, connectOptionsSchema, 'Curve training and evaluation options'),
    components: [['ConnectOptions', connectOptionsSchema]],
  },
  async submission(ctx, body) {
    const s = storedInputs(ctx);
    const payload = {
      models: await Promise.all(body.models.map((id) => s.model(id))),
      data: await s.dataset(body.data),
      evalData: await Promise.all((body.evalData ?? []).map((id) => s.dataset(id))),
      triggered: body.triggered ? await s.dataset(body.triggered) : null,
      options: { ...parseConnectOptions(body.options ?? {}) },
    };
    return { payload, work: s.work() };
  },
  result: { summary: 'The connectivity result', content: anyJson('Curve training summary, metrics along t, mc (src/landscape/connectivity/connect.ts)') },
});

export const repairs = jobResource({
  kind: 'repair',
  path: '/v1/repairs',
  noun: 'Repair',
  submit: {
    summary: 'Backdoor repair by path connection: curve on clean data, t chosen from clean held-out accuracy, model at t exported (a job)',
    notFound: 'Unknown model or dataset',
    body: RepairRequest,
    bodyId: 'RepairRequest',
    bodyDoc: withOptions(RepairRequest, repairOptionsSchema, 'Curve, t selection and polishing options'),
    components: [['RepairOptions', repairOptionsSchema]],
  },
  async submission(ctx, body) {
    const s = storedInputs(ctx);
    const payload = {
      models: await Promise.all(body.models.map((id) => s.model(id))),
      data: await s.dataset(body.data),
      evalData: body.evalData ? s.dataset(body.evalData) : null,
      triggered: body.triggered ? await s.dataset(body.triggered) : null,
      options: { ...parseRepairOptions(body.options ?? {}) },
    };
    return { payload, work: s.work() };
  },
  result: { summary: 'The repair result', content: anyJson('Metrics along t, the chosen t, baseline, exported files (src/landscape/repair/repair.ts)') },
  extra: [
    {
      method: 'get',
      path: '/v1/repairs/{id}/model',
      doc: {
        summary: 'Download the repaired model (the point at the chosen t)',
        parameters: [...idParams('Repair id (= its job id)'), ...parametersOf(RepairModelQuery, 'query')],
        responses: {
          '200': { description: 'the model file (attachment repaired.onnx | repaired.safetensors)', content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
          '404': problem('Unknown id, or no model of that format stored'),
          '409': problem('Not finished, failed or cancelled'),
          ...COMMON_ERRORS,
        },
      },
      async handle(ctx, req, res) {
        const { id } = parseOr400(IdParams, req.params, 'params');
        const { format } = parseOr400(RepairModelQuery, req.query, 'query');
        const result = JSON.parse(await ctx.queue.resultText(id, 'repair')) as { files?: Record<string, string> };
        const rel = result.files?.[format];
        if (!rel) throw new WeightscopeError('not-found', `repair ${id} has no ${format} model`);
        const file = await ctx.jobFile(id, rel);
        if (!file) throw new WeightscopeError('not-found', `the ${format} model of repair ${id} is no longer stored`);
        await sendFile(res, file, 'application/octet-stream', { 'content-disposition': `attachment; filename="repaired.${format}"` });
      },
    },
  ],
});
