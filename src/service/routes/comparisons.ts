/** POST /v1/comparisons + GET /v1/comparisons/{id}: CKA and weight distance of two stored ONNX models. */
import { CompareOptionsSchema } from '../../landscape/similarity/compare.js';
import { DEFAULT_DEVICE } from '../../runtime/devices.js';
import { anyJson } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { workOf } from '../jobs/limits.js';
import { requireFit } from '../store/fit.js';
import { modelRoute } from '../store/layout.js';
import { ComparisonRequest } from '../schemas.js';

export const comparisons = jobResource({
  kind: 'comparison',
  path: '/v1/comparisons',
  noun: 'Comparison',
  submit: {
    summary:
      "Linear CKA of two models' outputs (ONNX, or Hugging Face folders by their config.json graph) on a dataset, and their parameter L2 distance (a job)",
    notFound: 'Unknown model or dataset',
    body: ComparisonRequest,
    bodyId: 'ComparisonRequest',
    components: [['CompareOptions', CompareOptionsSchema]],
  },
  async submission(ctx, body) {
    const models = await Promise.all(body.models.map((m) => ctx.models.require(m)));
    models.forEach(modelRoute);
    const ds = await ctx.datasets.require(body.dataset);
    for (const m of models) requireFit(m, ds);
    const payload = {
      models: models.map((m) => ({ id: m.id })),
      dataset: ds.id,
      options: { ...CompareOptionsSchema.parse(body.options ?? {}) },
      device: body.device ?? DEFAULT_DEVICE,
    };
    return { payload, work: workOf(models, [ds]) };
  },
  result: { summary: 'The comparison', content: anyJson('CKA and L2 distance (src/landscape/similarity/compare.ts)') },
});
