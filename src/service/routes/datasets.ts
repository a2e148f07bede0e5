/** POST/GET /v1/datasets and GET /v1/datasets/{id}: data for the Hessian, comparison, connectivity and repair jobs. */
import { WeightscopeError } from '../../errors.js';
import { BUSY, COMMON_ERRORS, jsonBody, locationHeader, nameParam, parametersOf, problem, ref, uploadBody } from '../http/doc.js';
import { idParams } from '../http/job-resource.js';
import type { Operation } from '../http/operation.js';
import { receiveFiles, refuseDeclaredOverLimit } from '../http/upload.js';
import { Dataset, DatasetFit, DatasetList, DatasetListQuery, IdParams } from '../schemas.js';
import { misfit } from '../store/fit.js';
import { parseOr400 } from '../validate.js';

export const datasetOperations: readonly Operation[] = [
  {
    method: 'get',
    path: '/v1/datasets',
    components: [
      ['Dataset', Dataset],
      ['DatasetFit', DatasetFit],
      ['DatasetList', DatasetList],
    ],
    doc: {
      summary: 'List stored datasets (with ?model=<id>, each marked with whether it fits that model)',
      parameters: parametersOf(DatasetListQuery, 'query'),
      responses: {
        '200': { description: 'datasets', content: jsonBody(ref('DatasetList')) },
        '404': problem('Unknown model'),
        ...COMMON_ERRORS,
      },
    },
    async handle(ctx, req, res) {
      const q = parseOr400(DatasetListQuery, req.query, 'query');
      const model = q.model ? await ctx.models.require(q.model) : null;
      const datasets = await ctx.datasets.list();
      res.json({
        datasets: model ? datasets.map((d) => ({ ...d, fit: { ok: misfit(model, d) === null, why: misfit(model, d) } })) : datasets,
      });
    },
  },
  {
    method: 'post',
    path: '/v1/datasets',
    doc: {
      summary:
        'Upload a dataset: a safetensors file with `x` (and `y` for classification); raw body (?name=FILE) or the first file of a multipart body',
      parameters: [nameParam],
      requestBody: uploadBody('one'),
      responses: {
        '201': { description: 'Stored (new)', headers: locationHeader('/v1/datasets/{id}'), content: jsonBody(ref('Dataset')) },
        '200': {
          description: 'Already stored (same content)',
          headers: locationHeader('/v1/datasets/{id}'),
          content: jsonBody(ref('Dataset')),
        },
        '413': problem('Over WEIGHTSCOPE_MAX_UPLOAD; nothing stored'),
        '422': problem('Empty, corrupt or truncated file, mismatched shapes or an unsupported dtype; nothing stored'),
        ...COMMON_ERRORS,
        '400': problem('Not a dataset (x must be float32 or int64 [N, ...]; float x needs labels y), or a bad multipart body'),
        '503': BUSY,
      },
    },
    async handle(ctx, req, res) {
      refuseDeclaredOverLimit(req, ctx.config.maxUpload);
      const { parts } = await receiveFiles(req, ctx, 1);
      if (parts.length === 0) throw new WeightscopeError('invalid-input', 'no file in the request');
      const { dataset, created } = await ctx.datasets.add(parts[0].part, parts[0].name);
      res
        .status(created ? 201 : 200)
        .location(`/v1/datasets/${dataset.id}`)
        .json(dataset);
    },
  },
  {
    method: 'get',
    path: '/v1/datasets/{id}',
    doc: {
      summary: 'One dataset',
      parameters: idParams('Dataset id'),
      responses: { '200': { description: 'dataset', content: jsonBody(ref('Dataset')) }, '404': problem('Unknown id'), ...COMMON_ERRORS },
    },
    async handle(ctx, req, res) {
      const { id } = parseOr400(IdParams, req.params, 'params');
      res.json(await ctx.datasets.require(id));
    },
  },
];
