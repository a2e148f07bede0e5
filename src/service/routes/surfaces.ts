/**
 * POST /v1/surfaces + GET /v1/surfaces/{id} + GET /v1/surfaces/{id}/model?format=onnx|safetensors: Bezier surfaces
 * between 3 or 4 stored models of one graph (MCSurface), the best interior point downloadable as a model.
 */
import { parseSurfaceOptions, patchFor, surfaceOptionsSchema } from '../../landscape/connectivity/connect-surface.js';
import { anyJson } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { modelDownload } from '../http/model-download.js';
import { storedInputs } from '../http/stored.js';
import { SurfaceRequest, withOptions } from '../schemas.js';

const PATH = '/v1/surfaces';

export const surfaces = jobResource({
  kind: 'surface',
  path: PATH,
  noun: 'Surface',
  submit: {
    summary:
      'Train a Bezier surface between 3 or 4 models of one graph; loss and accuracy over a grid, centre, barrier, ensembles, the best interior point as a model (a job)',
    notFound: 'Unknown model or dataset',
    body: SurfaceRequest,
    bodyId: 'SurfaceRequest',
    bodyDoc: withOptions(
      SurfaceRequest,
      surfaceOptionsSchema,
      'Patch, training and evaluation options (src/landscape/connectivity/connect-surface.ts)',
    ),
    components: [['SurfaceOptions', surfaceOptionsSchema]],
  },
  async submission(ctx, body) {
    const s = storedInputs(ctx, 'a surface');
    const options = { ...parseSurfaceOptions(body.options ?? {}) };
    patchFor(body.models.length, options.degree); // a degree the patch cannot take is a 400 now, not a failed job
    const payload = {
      models: await Promise.all(body.models.map((id) => s.model(id))),
      data: await s.dataset(body.data, true),
      heldOutData: body.heldOutData ? await s.dataset(body.heldOutData, true) : null,
      test: body.test ? await s.dataset(body.test, true) : null,
      options,
    };
    return { payload, work: s.work() };
  },
  result: {
    summary: 'The surface result',
    content: anyJson(
      'patch, grid[] of {u, v, loss, accuracy}, corners, center, barrier, best (exported), ensembles, files (src/landscape/connectivity/connect-surface.ts)',
    ),
  },
  extra: [
    modelDownload({
      kind: 'surface',
      path: PATH,
      noun: 'Surface',
      what: 'the best interior grid point of the surface (model averaging)',
      filename: 'surface-best',
    }),
  ],
});
