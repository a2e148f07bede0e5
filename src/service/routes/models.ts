/** POST/GET /v1/models, GET/DELETE /v1/models/{id}, POST /v1/models/import. */
import {
  BUSY,
  COMMON_ERRORS,
  JSON_BODY_ERRORS,
  jsonBody,
  jsonRequest,
  locationHeader,
  nameParam,
  problem,
  ref,
  uploadBody,
  type Json,
} from '../http/doc.js';
import type { Operation } from '../http/operation.js';
import { receiveFiles, refuseDeclaredOverLimit } from '../http/upload.js';
import { IdParams, ImportRequest, Model, ModelFile, ModelId, ModelList } from '../schemas.js';
import { requesterOf } from '../auth.js';
import { idParams, sendJob } from '../http/job-resource.js';
import { executeImport, planImport } from '../store/import.js';
import { parseOr400 } from '../validate.js';

const stored = (what: string): Json => ({
  '201': { description: 'Stored (new)', headers: locationHeader('/v1/models/{id}'), content: jsonBody(ref('Model')) },
  '200': { description: `Already stored (${what})`, headers: locationHeader('/v1/models/{id}'), content: jsonBody(ref('Model')) },
});

export const modelOperations: readonly Operation[] = [
  {
    method: 'get',
    path: '/v1/models',
    components: [
      ['ModelId', ModelId],
      ['ModelFile', ModelFile],
      ['Model', Model],
      ['ModelList', ModelList],
    ],
    doc: {
      summary: 'List stored models',
      responses: { '200': { description: 'models', content: jsonBody(ref('ModelList')) }, ...COMMON_ERRORS },
    },
    async handle(ctx, _req, res) {
      res.json({ models: await ctx.models.list() });
    },
  },
  {
    method: 'post',
    path: '/v1/models',
    doc: {
      summary: 'Upload a checkpoint (raw body, ?name=FILE) or several files of one model (multipart)',
      parameters: [nameParam],
      requestBody: uploadBody('many'),
      responses: {
        ...stored('same content'),
        '413': problem('Over WEIGHTSCOPE_MAX_UPLOAD; nothing stored'),
        '415': problem('Not safetensors, PyTorch zip or ONNX'),
        '422': problem('Corrupt or truncated file, or an unsafe pickle; nothing stored'),
        ...COMMON_ERRORS,
        '503': BUSY,
      },
    },
    async handle(ctx, req, res) {
      refuseDeclaredOverLimit(req, ctx.config.maxUpload);
      const received = await receiveFiles(req, ctx, 256);
      ctx.metrics.upload();
      const { model, created } = await ctx.models.add(received.parts, 'upload', received.name);
      res
        .status(created ? 201 : 200)
        .location(`/v1/models/${model.id}`)
        .json(model);
    },
  },
  {
    method: 'post',
    path: '/v1/models/import',
    jsonLimit: '64kb',
    components: [['ImportRequest', ImportRequest]],
    doc: {
      summary:
        'Store a model from an allow-listed folder (models/, the HF cache) or by Hugging Face id; over WEIGHTSCOPE_IMPORT_INLINE, and for hub downloads, an import job (202; its result at /v1/imports/{id} is the model)',
      requestBody: jsonRequest('ImportRequest'),
      responses: {
        ...stored('same content'),
        '202': {
          description: 'A large import or a download: queued as a job (Location: the job)',
          headers: locationHeader('/v1/jobs/{id}'),
          content: jsonBody(ref('JobEnvelope')),
        },
        '404': problem('No such path or model'),
        '422': problem('Corrupt or truncated file, or an unsafe pickle; nothing stored'),
        ...JSON_BODY_ERRORS,
        '403': problem('Path outside the import roots (`path-not-allowed`), or API key not accepted'),
        '503': BUSY,
      },
    },
    async handle(ctx, req, res) {
      const body = parseOr400(ImportRequest, req.body, 'body');
      const plan = await planImport(ctx.config, body);
      // Small local imports are answered with the model; large ones and downloads become an import job.
      if (plan.kind === 'hub' || plan.bytes > ctx.config.importInline) {
        const { job, cached } = await ctx.queue.submit(
          'import',
          body,
          { bytes: plan.kind === 'local' ? plan.bytes : 0, parameters: 0, samples: 0 },
          requesterOf(res),
        );
        sendJob(res, job, cached);
        return;
      }
      const release = ctx.slots.uploads.take();
      const { model, created } = await executeImport(ctx, plan).finally(release);
      res
        .status(created ? 201 : 200)
        .location(`/v1/models/${model.id}`)
        .json(model);
    },
  },
  {
    method: 'get',
    path: '/v1/models/{id}',
    doc: {
      summary: 'One model',
      parameters: idParams('Model id'),
      responses: { '200': { description: 'model', content: jsonBody(ref('Model')) }, '404': problem('Unknown id'), ...COMMON_ERRORS },
    },
    async handle(ctx, req, res) {
      const { id } = parseOr400(IdParams, req.params, 'params');
      res.json(await ctx.models.require(id));
    },
  },
  {
    method: 'delete',
    path: '/v1/models/{id}',
    doc: {
      summary: 'Delete a model (and blobs no other model uses)',
      parameters: idParams('Model id'),
      responses: { '204': { description: 'deleted' }, '404': problem('Unknown id'), ...COMMON_ERRORS },
    },
    async handle(ctx, req, res) {
      const { id } = parseOr400(IdParams, req.params, 'params');
      await ctx.models.delete(id);
      res.status(204).end();
    },
  },
];
