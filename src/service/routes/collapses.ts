/** POST /v1/collapses + GET /v1/collapses/{id}: neural-collapse metrics of a stored classifier on a stored dataset. */
import { CollapseOptionsSchema, parseCollapseOptions } from '../../landscape/collapse/run.js';
import { anyJson } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { modelOnData } from '../http/stored.js';
import { CollapseRequest, withOptions } from '../schemas.js';

export const collapses = jobResource({
  kind: 'collapse',
  path: '/v1/collapses',
  noun: 'Neural collapse',
  submit: {
    summary: "Neural collapse of a classifier's last-layer features on labelled data: NC1–NC4 and the class-mean cosines (a job)",
    notFound: 'Unknown model or dataset',
    body: CollapseRequest,
    bodyId: 'CollapseRequest',
    bodyDoc: withOptions(CollapseRequest, CollapseOptionsSchema, 'Neural-collapse options (src/landscape/collapse/run.ts)'),
    components: [['CollapseOptions', CollapseOptionsSchema]],
  },
  submission: (ctx, body) => modelOnData(ctx, body, parseCollapseOptions(body.options ?? {}), { labelled: true, what: 'neural collapse' }),
  result: {
    summary: 'The neural-collapse report',
    content: anyJson(
      'nc1, nc2_etf, nc2_equinorm, nc2_equiangular, nc3, nc3_zhu, nc4, accuracies, class counts and mean_cosines (C × C) (src/landscape/collapse)',
    ),
  },
});
