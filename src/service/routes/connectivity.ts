/**
 * POST /v1/connectivity + GET /v1/connectivity/{id} (with `options.attack`: robustness along t); POST /v1/repairs
 * (backdoored or error-injected models; `targets` report-only) + GET /v1/repairs/{id} +
 * GET /v1/repairs/{id}/model?format=zip|onnx|safetensors. Models and datasets are stored ones (by id): ONNX models,
 * or Hugging Face folders (their config.json graph); a repaired folder downloads as a ZIP of the folder.
 */
import { connectOptionsSchema, parseConnectOptions } from '../../landscape/connectivity/connect.js';
import { parseRepairOptions, repairOptionsSchema } from '../../landscape/repair/repair.js';
import { anyJson } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { modelDownload } from '../http/model-download.js';
import { storedInputs } from '../http/stored.js';
import { ConnectivityRequest, RepairRequest, withOptions } from '../schemas.js';

export const connectivity = jobResource({
  kind: 'connectivity',
  path: '/v1/connectivity',
  noun: 'Connectivity',
  submit: {
    summary:
      'Train a curve between two models of one graph; loss and accuracy along t, barrier mc; with options.attack, clean and adversarial metrics and the input Hessian along t (a job)',
    notFound: 'Unknown model or dataset',
    body: ConnectivityRequest,
    bodyId: 'ConnectivityRequest',
    bodyDoc: withOptions(ConnectivityRequest, connectOptionsSchema, 'Curve training and evaluation options'),
    components: [['ConnectOptions', connectOptionsSchema]],
  },
  async submission(ctx, body) {
    const s = storedInputs(ctx, 'this job', { hf: true });
    const payload = {
      models: await Promise.all(body.models.map((id) => s.model(id))),
      data: await s.dataset(body.data),
      evalData: await Promise.all((body.evalData ?? []).map((id) => s.dataset(id))),
      triggered: body.triggered ? await s.dataset(body.triggered) : null,
      options: { ...parseConnectOptions(body.options ?? {}) },
    };
    return { payload, work: s.work() };
  },
  result: {
    summary: 'The connectivity result',
    content: anyJson('Curve training summary, metrics along t, mc (src/landscape/connectivity/connect.ts)'),
  },
});

export const repairs = jobResource({
  kind: 'repair',
  path: '/v1/repairs',
  noun: 'Repair',
  submit: {
    summary:
      'Repair of backdoored or error-injected models by path connection: curve on clean data, t chosen from clean held-out accuracy, model at t exported, the clean-vs-attack trade-off over t (a job)',
    notFound: 'Unknown model or dataset',
    body: RepairRequest,
    bodyId: 'RepairRequest',
    bodyDoc: withOptions(RepairRequest, repairOptionsSchema, 'Curve, t selection and polishing options'),
    components: [['RepairOptions', repairOptionsSchema]],
  },
  async submission(ctx, body) {
    const s = storedInputs(ctx, 'this job', { hf: true });
    const payload = {
      models: await Promise.all(body.models.map((id) => s.model(id))),
      data: await s.dataset(body.data),
      evalData: body.evalData ? await s.dataset(body.evalData) : null,
      triggered: body.triggered ? await s.dataset(body.triggered) : null,
      targets: body.targets ? await s.dataset(body.targets) : null,
      options: { ...parseRepairOptions(body.options ?? {}) },
    };
    return { payload, work: s.work() };
  },
  result: {
    summary: 'The repair result',
    content: anyJson(
      'Metrics along t, the chosen t, baseline, the trade-off over t, targets before/after, exported files (src/landscape/repair/repair.ts)',
    ),
  },
  extra: [
    modelDownload({
      kind: 'repair',
      path: '/v1/repairs',
      noun: 'Repair',
      what: 'the repaired model (the point at the chosen t)',
      filename: 'repaired',
    }),
  ],
});
