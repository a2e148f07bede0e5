/** POST /v1/hessians + GET /v1/hessians/{id}: the loss Hessian of a stored ONNX model or Hugging Face folder on a stored dataset. */
import { HessianOptionsSchema, parseHessianOptions } from '../../landscape/hessian/run.js';
import { DEFAULT_DEVICE } from '../../runtime/devices.js';
import { anyJson } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { modelOnData } from '../http/stored.js';
import { DeviceSchema, HessianRequest, withOptions } from '../schemas.js';

export const hessians = jobResource({
  kind: 'hessian',
  path: '/v1/hessians',
  noun: 'Hessian',
  submit: {
    summary:
      'Hessian spectrum of an ONNX model or a Hugging Face folder (graph built from config.json) on a dataset: top-k eigenvalues, trace, density, input Hessian (a job)',
    notFound: 'Unknown model or dataset',
    body: HessianRequest,
    bodyId: 'HessianRequest',
    bodyDoc: withOptions(HessianRequest, HessianOptionsSchema, 'Hessian options (src/landscape/hessian/run.ts)'),
    components: [
      ['Device', DeviceSchema],
      ['HessianOptions', HessianOptionsSchema],
    ],
  },
  async submission(ctx, body) {
    const { payload, work } = await modelOnData(ctx, body, parseHessianOptions(body.options ?? {}), { hf: true });
    return {
      payload: { ...payload, device: body.device ?? DEFAULT_DEVICE, untie: body.untie ?? false, criterion: body.criterion ?? 'ce' },
      work,
    };
  },
  result: {
    summary: 'The Hessian report',
    content: anyJson('model, dataset, options and the Hessian report (src/landscape/hessian/run.ts)'),
  },
});
