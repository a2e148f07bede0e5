/**
 * The OpenAPI 3.1 document, generated from the zod schemas in schemas.ts with zod 4's z.toJSONSchema (JSON Schema
 * 2020-12, which OpenAPI 3.1 uses as is). api-spec/openapi.json is this document; a test fails when they differ.
 * Regenerate: `npx tsx src/service/openapi.ts > api-spec/openapi.json`.
 */
import { z } from 'zod';
import { pathToFileURL } from 'node:url';
import * as S from './schemas.js';

type Json = Record<string, unknown>;

const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });
const jsonBody = (schema: Json): Json => ({ 'application/json': { schema } });
const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const idParam = (description: string): Json => ({ name: 'id', in: 'path', required: true, description, schema: { type: 'string' } });

const COMMON_ERRORS: Json = {
  '400': problem('Invalid request (validation, malformed JSON)'),
  '401': problem('Missing API key (when WEIGHTSCOPE_API_KEYS is set)'),
  '403': problem('API key not accepted'),
};

/** Every schema that becomes a component, by id. */
function components(): Record<string, Json> {
  const reg = z.registry<{ id: string }>();
  const all: [string, z.ZodType][] = [
    ['ModelId', S.ModelId], ['JobId', S.JobId], ['ModelFile', S.ModelFile], ['Model', S.Model], ['ModelList', S.ModelList],
    ['ImportRequest', S.ImportRequest], ['AnalysisRequest', S.AnalysisRequest], ['RankingMetric', S.RankingMetricSchema],
    ['RankingRequest', S.RankingRequest], ['JobError', S.JobErrorSchema], ['Job', S.Job], ['JobEnvelope', S.JobEnvelope],
    ['RankingResult', S.RankingResult], ['Esd', S.Esd], ['Problem', S.ProblemSchema], ['Health', S.Health],
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

export function buildOpenApi(): Json {
  const jobAccepted = {
    '202': { description: 'Queued (Location: the job)', content: jsonBody(ref('JobEnvelope')) },
    '200': { description: 'A finished result with the same inputs exists (cached)', content: jsonBody(ref('JobEnvelope')) },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'weightscope',
      version: '0.1.0',
      description: 'Data-free HT-SR diagnostics of checkpoints: upload or import models, analyse, rank. Errors are RFC 9457 problem+json with a stable `type`.',
    },
    servers: [{ url: 'http://127.0.0.1:8080' }],
    components: {
      schemas: components(),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'One of WEIGHTSCOPE_API_KEYS (only when set)' } },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'ok', content: jsonBody(ref('Health')) } } } },
      '/readyz': { get: { summary: 'Readiness (database answers)', security: [], responses: { '200': { description: 'ok', content: jsonBody(ref('Health')) }, '503': { description: 'not ready' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/v1/models': {
        get: { summary: 'List stored models', responses: { '200': { description: 'models', content: jsonBody(ref('ModelList')) }, ...COMMON_ERRORS } },
        post: {
          summary: 'Upload a checkpoint (raw body, ?name=FILE) or several files of one model (multipart)',
          parameters: [{ name: 'name', in: 'query', required: false, description: 'File name for a raw body', schema: { type: 'string' } }],
          requestBody: {
            required: true,
            content: {
              'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
              'multipart/form-data': { schema: { type: 'object', properties: { name: { type: 'string' }, files: { type: 'array', items: { type: 'string', contentMediaType: 'application/octet-stream' } } } } },
            },
          },
          responses: {
            '201': { description: 'Stored (new)', content: jsonBody(ref('Model')) },
            '200': { description: 'Already stored (same content)', content: jsonBody(ref('Model')) },
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
          requestBody: { required: true, content: jsonBody(ref('ImportRequest')) },
          responses: {
            '201': { description: 'Stored (new)', content: jsonBody(ref('Model')) },
            '200': { description: 'Already stored', content: jsonBody(ref('Model')) },
            '403': problem('Path outside the import roots, or API key not accepted'),
            '404': problem('No such path or model'),
            ...COMMON_ERRORS,
          },
        },
      },
      '/v1/models/{id}': {
        parameters: [idParam('Model id')],
        get: { summary: 'One model', responses: { '200': { description: 'model', content: jsonBody(ref('Model')) }, '404': problem('Unknown id'), ...COMMON_ERRORS } },
        delete: { summary: 'Delete a model (and blobs no other model uses)', responses: { '204': { description: 'deleted' }, '404': problem('Unknown id'), ...COMMON_ERRORS } },
      },
      '/v1/analyses': {
        post: {
          summary: 'Analyse a stored model (a job)',
          requestBody: { required: true, content: jsonBody(ref('AnalysisRequest')) },
          responses: { ...jobAccepted, '404': problem('Unknown model'), ...COMMON_ERRORS },
        },
      },
      '/v1/analyses/{id}': {
        parameters: [
          idParam('Analysis id (= its job id)'),
          { name: 'format', in: 'query', required: false, schema: { type: 'string', enum: ['json', 'csv'] } },
          { name: 'eigenvalues', in: 'query', required: false, schema: { type: 'string', enum: ['0', '1'] } },
        ],
        get: {
          summary: 'The analysis report (the CLI JSON), or CSV',
          responses: {
            '200': { description: 'report', content: { 'application/json': { schema: { type: 'object' } }, 'text/csv': { schema: { type: 'string' } } } },
            '404': problem('Unknown id'),
            '409': problem('Not finished, failed or cancelled'),
            ...COMMON_ERRORS,
          },
        },
      },
      '/v1/analyses/{id}/esd/{layer}': {
        parameters: [idParam('Analysis id'), { name: 'layer', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } }],
        get: { summary: "One layer's eigenvalues and fits", responses: { '200': { description: 'ESD', content: jsonBody(ref('Esd')) }, '404': problem('Unknown id or layer, or no eigenvalues kept'), '409': problem('Not finished'), ...COMMON_ERRORS } },
      },
      '/v1/rankings': {
        post: {
          summary: 'Rank models by a metric (mean over layers); with scores, Spearman and Kendall correlation (a job)',
          requestBody: { required: true, content: jsonBody(ref('RankingRequest')) },
          responses: { ...jobAccepted, '404': problem('Unknown model'), ...COMMON_ERRORS },
        },
      },
      '/v1/rankings/{id}': {
        parameters: [idParam('Ranking id (= its job id)')],
        get: { summary: 'The ranking', responses: { '200': { description: 'ranking', content: jsonBody(ref('RankingResult')) }, '404': problem('Unknown id'), '409': problem('Not finished'), ...COMMON_ERRORS } },
      },
      '/v1/jobs/{id}': {
        parameters: [idParam('Job id')],
        get: { summary: 'Job state, progress, result URL, error', responses: { '200': { description: 'job', content: jsonBody(ref('Job')) }, '404': problem('Unknown id'), ...COMMON_ERRORS } },
        delete: { summary: 'Cancel (terminates its worker); finished jobs are returned unchanged', responses: { '200': { description: 'job', content: jsonBody(ref('Job')) }, '404': problem('Unknown id'), ...COMMON_ERRORS } },
      },
      '/v1/jobs/{id}/events': {
        parameters: [idParam('Job id')],
        get: {
          summary: 'Server-sent events: `state`, `progress`, then `end`; each `data` is the Job',
          responses: { '200': { description: 'event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '404': problem('Unknown id'), ...COMMON_ERRORS },
        },
      },
      '/v1/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: jsonBody({ type: 'object' }) } } } },
    },
  };
}

// `npx tsx src/service/openapi.ts` prints the document (the `npm run openapi` script writes it to api-spec/).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(JSON.stringify(buildOpenApi(), null, 2) + '\n');
}
