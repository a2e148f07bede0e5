/** POST /v1/taxonomies + GET /v1/taxonomies/{id}: the loss-landscape phase of 3–16 stored models of one graph. */
import { parseTaxonomyOptions, TaxonomyOptionsSchema } from '../../landscape/taxonomy/run.js';
import { anyJson } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { storedInputs } from '../http/stored.js';
import { TaxonomyRequest, withOptions } from '../schemas.js';

export const taxonomies = jobResource({
  kind: 'taxonomy',
  path: '/v1/taxonomies',
  noun: 'Taxonomy',
  submit: {
    summary:
      "Yang et al.'s loss-landscape taxonomy: per-model Hessian, per-pair trained-curve mc and CKA, the phase with its evidence (a job)",
    notFound: 'Unknown model or dataset',
    body: TaxonomyRequest,
    bodyId: 'TaxonomyRequest',
    bodyDoc: withOptions(TaxonomyRequest, TaxonomyOptionsSchema, 'Taxonomy options (src/landscape/taxonomy/run.ts)'),
    components: [['TaxonomyOptions', TaxonomyOptionsSchema]],
  },
  async submission(ctx, body) {
    const s = storedInputs(ctx, 'the taxonomy');
    // Awaited before s.work(): it checks what the lookups found.
    const payload = {
      models: await Promise.all(body.models.map((id) => s.model(id))),
      data: await s.dataset(body.data, true),
      test: body.test ? await s.dataset(body.test, true) : null,
      options: { ...parseTaxonomyOptions(body.options ?? {}) },
    };
    return { payload, work: s.work() };
  },
  result: {
    summary: 'The taxonomy report',
    content: anyJson(
      'phase, verdict (with reasons), thresholds, summary, per-model metrics (by model id), per-pair mc/CKA along t (src/landscape/taxonomy)',
    ),
  },
});
