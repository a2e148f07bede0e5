/**
 * The OpenAPI 3.1 document, generated from the zod schemas the routes validate with (schemas.ts, and the option
 * schemas of src/report and src/landscape that handlers parse `options` with) by zod 4's z.toJSONSchema (JSON
 * Schema 2020-12, which OpenAPI 3.1 uses as is). api-spec/openapi.json is this document; a test fails when they
 * differ, and another when a route registered on the express app is missing here (or a path here has no route).
 * Regenerate: `npm run openapi`.
 */
import { z } from 'zod';
import { pathToFileURL } from 'node:url';
import { connectOptionsSchema } from '../landscape/connectivity/connect.js';
import { HessianOptionsSchema } from '../landscape/hessian/run.js';
import { repairOptionsSchema } from '../landscape/repair/repair.js';
import { CompareOptionsSchema } from '../landscape/similarity/compare.js';
import { AnalyzeOptionsSchema } from '../report/options.js';
import * as S from './schemas.js';

type Json = Record<string, unknown>;

const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });
const jsonBody = (schema: Json): Json => ({ 'application/json': { schema } });
const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const jsonRequest = (id: string): Json => ({ required: true, content: jsonBody(ref(id)) });
const locationHeader = (description: string): Json => ({ Location: { description, schema: { type: 'string' } } });

/** Path or query parameters from the zod object a handler parses `req.params` / `req.query` with. */
function parametersOf(schema: z.ZodObject, where: 'path' | 'query', descriptions: Record<string, string> = {}): Json[] {
  const js = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (js.required ?? []).includes(name),
    ...(descriptions[name] ? { description: descriptions[name] } : {}),
    schema: s,
  }));
}
const idParams = (description: string): Json[] => parametersOf(S.IdParams, 'path', { id: description });

const COMMON_ERRORS: Json = {
  '400': problem('Invalid request (validation, malformed JSON, invalid options)'),
  '401': problem('Missing API key (when WEIGHTSCOPE_API_KEYS is set)'),
  '403': problem('API key not accepted'),
};
const JSON_BODY_ERRORS: Json = { ...COMMON_ERRORS, '413': problem('JSON body over its size limit') };

/**
 * Request bodies as documented: the route's own schema, with its free-form `options` narrowed to the schema the
 * handler then parses `options` with (a failure there is a 400 `invalid-input` problem, not a `validation` one).
 */
const withOptions = (schema: z.ZodObject, options: z.ZodType, description: string): z.ZodObject =>
  schema.extend({ options: options.optional().meta({ description }) });

/** Every schema that becomes a component, by id. */
function components(): Record<string, Json> {
  const reg = z.registry<{ id: string }>();
  const all: [string, z.ZodType][] = [
    ['ModelId', S.ModelId], ['JobId', S.JobId], ['ModelFile', S.ModelFile], ['Model', S.Model], ['ModelList', S.ModelList],
    ['ImportRequest', S.ImportRequest], ['AnalyzeOptions', AnalyzeOptionsSchema],
    ['AnalysisRequest', withOptions(S.AnalysisRequest, AnalyzeOptionsSchema, 'Other analyze options (as the CLI); `fits` and `layers` above win')],
    ['RankingMetric', S.RankingMetricSchema],
    ['RankingRequest', withOptions(S.RankingRequest, AnalyzeOptionsSchema, "Analyze options for each model (the metric's own fit is always added)")],
    ['JobError', S.JobErrorSchema], ['Job', S.Job], ['JobEnvelope', S.JobEnvelope],
    ['RankingResult', S.RankingResult], ['Esd', S.Esd], ['Problem', S.ProblemSchema], ['Health', S.Health],
    ['Device', S.DeviceSchema], ['Dataset', S.Dataset], ['DatasetList', S.DatasetList],
    ['HessianOptions', HessianOptionsSchema],
    ['HessianRequest', withOptions(S.HessianRequest, HessianOptionsSchema, 'Hessian options (src/landscape/hessian/run.ts)')],
    ['CompareOptions', CompareOptionsSchema], ['ComparisonRequest', S.ComparisonRequest],
    ['ConnectOptions', connectOptionsSchema],
    ['ConnectivityRequest', withOptions(S.ConnectivityRequest, connectOptionsSchema, 'Curve training and evaluation options')],
    ['RepairOptions', repairOptionsSchema],
    ['RepairRequest', withOptions(S.RepairRequest, repairOptionsSchema, 'Curve, t selection and polishing options')],
  ];
  for (const [id, schema] of all) reg.add(schema, { id });
  const out = z.toJSONSchema(reg, { target: 'draft-2020-12', io: 'input', uri: (id) => `#/components/schemas/${id}` });
  const schemas: Record<string, Json> = {};
  for (const [id, s] of Object.entries(out.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = s as Json;
    schemas[id] = rest;
  }
  return schemas;
}

/** POST of a job: 202 (queued) or 200 (a finished job with the same inputs), Location = the job. */
function jobPost(summary: string, requestId: string, notFound: string): Json {
  const headers = locationHeader('/v1/jobs/{id}');
  return {
    summary,
    requestBody: jsonRequest(requestId),
    responses: {
      '202': { description: 'Queued (Location: the job; its `result` is the result URL once succeeded)', headers, content: jsonBody(ref('JobEnvelope')) },
      '200': { description: 'A finished job with the same inputs exists (cached)', headers, content: jsonBody(ref('JobEnvelope')) },
      '404': problem(notFound),
      ...JSON_BODY_ERRORS,
    },
  };
}

/** GET of a job's result (its id = the job id). */
function resultGet(summary: string, content: Json): Json {
  return {
    summary,
    responses: {
      '200': { description: 'result', content },
      '404': problem('Unknown id (or a job of another kind)'),
      '409': problem('Not finished (`job-not-finished`), or failed/cancelled (`job-failed`); `job` holds the Job'),
      ...COMMON_ERRORS,
    },
  };
}
const anyJson = (description: string): Json => jsonBody({ type: 'object', description });

/** Raw body (?name=FILE) or multipart upload; `files` = how many file parts the route reads. */
function uploadBody(files: 'one' | 'many'): Json {
  const file = { type: 'string', contentMediaType: 'application/octet-stream' };
  return {
    required: true,
    content: {
      'application/octet-stream': { schema: file },
      'multipart/form-data': {
        schema: files === 'many'
          ? { type: 'object', properties: { name: { type: 'string' }, files: { type: 'array', items: file } } }
          : { type: 'object', properties: { file } },
      },
    },
  };
}
const nameParam: Json = { name: 'name', in: 'query', required: false, description: 'File name for a raw body', schema: { type: 'string' } };

export function buildOpenApi(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'weightscope',
      version: '0.1.0',
      description:
        'Data-free HT-SR diagnostics of checkpoints (upload or import models, analyse, rank) and, with data, Hessian spectra, model comparison, mode connectivity and backdoor repair. Errors are RFC 9457 problem+json with a stable `type`.',
    },
    servers: [{ url: 'http://127.0.0.1:8080' }],
    components: {
      schemas: components(),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'One of WEIGHTSCOPE_API_KEYS (only when set)' } },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'ok', content: jsonBody(ref('Health')) } } } },
      '/readyz': { get: { summary: 'Readiness (database answers)', security: [], responses: { '200': { description: 'ok', content: jsonBody(ref('Health')) }, '503': { description: 'not ready', content: jsonBody(ref('Health')) } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } }, '401': COMMON_ERRORS['401'], '403': COMMON_ERRORS['403'] } } },
      '/v1/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: jsonBody({ type: 'object' }) }, '401': COMMON_ERRORS['401'], '403': COMMON_ERRORS['403'] } } },
      '/v1/models': {
        get: { summary: 'List stored models', responses: { '200': { description: 'models', content: jsonBody(ref('ModelList')) }, ...COMMON_ERRORS } },
        post: {
          summary: 'Upload a checkpoint (raw body, ?name=FILE) or several files of one model (multipart)',
          parameters: [nameParam],
          requestBody: uploadBody('many'),
          responses: {
            '201': { description: 'Stored (new)', headers: locationHeader('/v1/models/{id}'), content: jsonBody(ref('Model')) },
            '200': { description: 'Already stored (same content)', headers: locationHeader('/v1/models/{id}'), content: jsonBody(ref('Model')) },
            '413': problem('Over WEIGHTSCOPE_MAX_UPLOAD; nothing stored'),
            '415': problem('Not safetensors, PyTorch zip or ONNX'),
            '422': problem('Corrupt or truncated file, or an unsafe pickle; nothing stored'),
            ...COMMON_ERRORS,
          },
        },
      },
      '/v1/models/import': {
        post: {
          summary: 'Store a model from an allow-listed folder (models/, the HF cache) or by Hugging Face id from the cache',
          requestBody: jsonRequest('ImportRequest'),
          responses: {
            '201': { description: 'Stored (new)', headers: locationHeader('/v1/models/{id}'), content: jsonBody(ref('Model')) },
            '200': { description: 'Already stored', headers: locationHeader('/v1/models/{id}'), content: jsonBody(ref('Model')) },
            '404': problem('No such path or model'),
            '422': problem('Corrupt or truncated file, or an unsafe pickle; nothing stored'),
            ...JSON_BODY_ERRORS,
            '403': problem('Path outside the import roots (`path-not-allowed`), or API key not accepted'),
          },
        },
      },
      '/v1/models/{id}': {
        parameters: idParams('Model id'),
        get: { summary: 'One model', responses: { '200': { description: 'model', content: jsonBody(ref('Model')) }, '404': problem('Unknown id'), ...COMMON_ERRORS } },
        delete: { summary: 'Delete a model (and blobs no other model uses)', responses: { '204': { description: 'deleted' }, '404': problem('Unknown id'), ...COMMON_ERRORS } },
      },
      '/v1/analyses': { post: jobPost('Analyse a stored model (a job)', 'AnalysisRequest', 'Unknown model') },
      '/v1/analyses/{id}': {
        parameters: [...idParams('Analysis id (= its job id)'), ...parametersOf(S.AnalysisQuery, 'query')],
        get: resultGet('The analysis report (the CLI JSON), or CSV', { ...anyJson('The analysis report (as `weightscope analyze --json`)'), 'text/csv': { schema: { type: 'string' } } }),
      },
      '/v1/analyses/{id}/esd/{layer}': {
        parameters: parametersOf(S.EsdParams, 'path', { id: 'Analysis id', layer: 'Layer id' }),
        get: { summary: "One layer's eigenvalues and fits", responses: { '200': { description: 'ESD', content: jsonBody(ref('Esd')) }, '404': problem('Unknown id or layer, or no eigenvalues kept'), '409': problem('Not finished, failed or cancelled'), ...COMMON_ERRORS } },
      },
      '/v1/rankings': { post: jobPost('Rank models by a metric (mean over layers); with scores, Spearman and Kendall correlation (a job)', 'RankingRequest', 'Unknown model') },
      '/v1/rankings/{id}': {
        parameters: idParams('Ranking id (= its job id)'),
        get: resultGet('The ranking', jsonBody(ref('RankingResult'))),
      },
      '/v1/datasets': {
        get: { summary: 'List stored datasets', responses: { '200': { description: 'datasets', content: jsonBody(ref('DatasetList')) }, ...COMMON_ERRORS } },
        post: {
          summary: 'Upload a dataset: a safetensors file with `x` (and `y` for classification); raw body (?name=FILE) or the first file of a multipart body',
          parameters: [nameParam],
          requestBody: uploadBody('one'),
          responses: {
            '201': { description: 'Stored (new)', headers: locationHeader('/v1/datasets/{id}'), content: jsonBody(ref('Dataset')) },
            '200': { description: 'Already stored (same content)', headers: locationHeader('/v1/datasets/{id}'), content: jsonBody(ref('Dataset')) },
            '413': problem('Over WEIGHTSCOPE_MAX_UPLOAD; nothing stored'),
            '422': problem('Empty, corrupt or truncated file, mismatched shapes or an unsupported dtype; nothing stored'),
            ...COMMON_ERRORS,
            '400': problem('Not a dataset (x must be float32 or int64 [N, ...]; float x needs labels y), or a bad multipart body'),
          },
        },
      },
      '/v1/datasets/{id}': {
        parameters: idParams('Dataset id'),
        get: { summary: 'One dataset', responses: { '200': { description: 'dataset', content: jsonBody(ref('Dataset')) }, '404': problem('Unknown id'), ...COMMON_ERRORS } },
      },
      '/v1/hessians': { post: jobPost('Hessian spectrum of an ONNX model on a dataset: top-k eigenvalues, trace, density, input Hessian (a job)', 'HessianRequest', 'Unknown model or dataset') },
      '/v1/hessians/{id}': {
        parameters: idParams('Hessian id (= its job id)'),
        get: resultGet('The Hessian report', anyJson('model, dataset, options and the Hessian report (src/landscape/hessian/run.ts)')),
      },
      '/v1/comparisons': { post: jobPost('Linear CKA of two ONNX models\' outputs on a dataset, and their parameter L2 distance (a job)', 'ComparisonRequest', 'Unknown model or dataset') },
      '/v1/comparisons/{id}': {
        parameters: idParams('Comparison id (= its job id)'),
        get: resultGet('The comparison', anyJson('CKA and L2 distance (src/landscape/similarity/compare.ts)')),
      },
      '/v1/connectivity': { post: jobPost('Train a curve between two models of one graph; loss and accuracy along t, barrier mc (a job)', 'ConnectivityRequest', 'Unknown model or dataset') },
      '/v1/connectivity/{id}': {
        parameters: idParams('Connectivity id (= its job id)'),
        get: resultGet('The connectivity result', anyJson('Curve training summary, metrics along t, mc (src/landscape/connectivity/connect.ts)')),
      },
      '/v1/repairs': { post: jobPost('Backdoor repair by path connection: curve on clean data, t chosen from clean held-out accuracy, model at t exported (a job)', 'RepairRequest', 'Unknown model or dataset') },
      '/v1/repairs/{id}': {
        parameters: idParams('Repair id (= its job id)'),
        get: resultGet('The repair result', anyJson('Metrics along t, the chosen t, baseline, exported files (src/landscape/repair/repair.ts)')),
      },
      '/v1/repairs/{id}/model': {
        parameters: [...idParams('Repair id (= its job id)'), ...parametersOf(S.RepairModelQuery, 'query')],
        get: {
          summary: 'Download the repaired model (the point at the chosen t)',
          responses: {
            '200': { description: 'the model file (attachment repaired.onnx | repaired.safetensors)', content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
            '404': problem('Unknown id, or no model of that format stored'),
            '409': problem('Not finished, failed or cancelled'),
            ...COMMON_ERRORS,
          },
        },
      },
      '/v1/jobs/{id}': {
        parameters: idParams('Job id'),
        get: { summary: 'Job state, progress, result URL, error', responses: { '200': { description: 'job', content: jsonBody(ref('Job')) }, '404': problem('Unknown id'), ...COMMON_ERRORS } },
        delete: { summary: 'Cancel (terminates its worker); finished jobs are returned unchanged', responses: { '200': { description: 'job', content: jsonBody(ref('Job')) }, '404': problem('Unknown id'), ...COMMON_ERRORS } },
      },
      '/v1/jobs/{id}/events': {
        parameters: idParams('Job id'),
        get: {
          summary: 'Server-sent events: `state`, `progress`, then `end`; each `data` is the Job',
          responses: { '200': { description: 'event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '404': problem('Unknown id'), ...COMMON_ERRORS },
        },
      },
    },
  };
}

// `npx tsx src/service/openapi.ts` prints the document (the `npm run openapi` script writes it to api-spec/).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(JSON.stringify(buildOpenApi(), null, 2) + '\n');
}
