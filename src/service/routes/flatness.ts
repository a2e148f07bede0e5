/** POST /v1/flatness + GET /v1/flatness/{id}: local entropy over γ of a stored ONNX model on a stored dataset. */
import { FlatnessOptionsSchema, parseFlatnessOptions } from '../../landscape/flatness/run.js';
import { anyJson } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { modelOnData } from '../http/stored.js';
import { FlatnessRequest, withOptions } from '../schemas.js';

export const flatness = jobResource({
  kind: 'flatness',
  path: '/v1/flatness',
  noun: 'Flatness',
  submit: {
    summary: 'Local entropy F(w; γ) from seeded perturbed copies, beside its second-order value −L − tr(H)/(2γ) (a job)',
    notFound: 'Unknown model or dataset',
    body: FlatnessRequest,
    bodyId: 'FlatnessRequest',
    bodyDoc: withOptions(FlatnessRequest, FlatnessOptionsSchema, 'Local-entropy options (src/landscape/flatness/run.ts)'),
    components: [['FlatnessOptions', FlatnessOptionsSchema]],
  },
  submission: (ctx, body) => modelOnData(ctx, body, parseFlatnessOptions(body.options ?? {})),
  result: {
    summary: 'The local-entropy report',
    content: anyJson(
      'rows[] of {gamma, local_entropy, stderr, second_order, second_order_stderr, loss, mean_perturbed_loss}, the trace and settings (src/landscape/flatness)',
    ),
  },
});
