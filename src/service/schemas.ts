/**
 * Request and response schemas of the /v1 API (zod 4). The routes validate with them and openapi.ts turns them
 * into api-spec/openapi.json, so the document cannot drift from what the server accepts.
 */
import { z } from 'zod';
import { RANKING_METRICS } from '../ranking/metrics.js';
import { JOB_STATES } from './jobs/types.js';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');

export const ModelId = Sha256.meta({ id: 'ModelId', description: 'Content-derived model id (sha256)' });
export const JobId = z.uuid().meta({ id: 'JobId' });

export const ModelFile = z.object({ name: z.string(), sha256: Sha256, bytes: z.number().int() }).meta({ id: 'ModelFile' });

export const Model = z
  .object({
    id: ModelId,
    name: z.string(),
    format: z.string().meta({ description: 'safetensors | pytorch | onnx' }),
    bytes: z.number().int(),
    tensors: z.number().int(),
    parameters: z.number().int(),
    source: z.string().meta({ description: "'upload', 'import:<path>' or 'hf:<ORG/NAME>@<revision>'" }),
    created_at: z.string(),
    files: z.array(ModelFile),
  })
  .meta({ id: 'Model' });

export const ModelList = z.object({ models: z.array(Model) }).meta({ id: 'ModelList' });

export const ImportRequest = z
  .union([
    z.object({ path: z.string().min(1).meta({ description: 'A file or folder under an allow-listed root (models/, the HF cache)' }) }).strict(),
    z.object({ hf: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'ORG/NAME'), revision: z.string().min(1).optional() }).strict(),
  ])
  .meta({ id: 'ImportRequest' });

export const IdParams = z.object({ id: z.string().min(1).max(200) });

export const AnalysisRequest = z
  .object({
    model: ModelId,
    fits: z.array(z.enum(['pl', 'etpl', 'exp'])).min(1).optional(),
    layers: z.array(z.union([z.number().int().nonnegative(), z.string().min(1)])).optional(),
    options: z.record(z.string(), z.unknown()).optional().meta({ description: 'Other analyze options (see the CLI)' }),
  })
  .strict()
  .meta({ id: 'AnalysisRequest' });

export const RankingMetricSchema = z.enum(RANKING_METRICS).meta({ id: 'RankingMetric' });

export const RankingRequest = z
  .object({
    models: z.array(ModelId).min(2).max(500),
    metric: RankingMetricSchema.default('alpha'),
    direction: z.enum(['asc', 'desc']).optional().meta({ description: "Default: the metric's documented direction" }),
    scores: z.record(z.string(), z.number()).optional().meta({ description: 'model id → quality score; adds Spearman and Kendall correlation' }),
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .meta({ id: 'RankingRequest' });

export const JobErrorSchema = z.object({ code: z.string(), message: z.string() }).meta({ id: 'JobError' });

export const Job = z
  .object({
    id: JobId,
    kind: z.string(),
    state: z.enum(JOB_STATES),
    progress: z.number().min(0).max(1),
    message: z.string(),
    result: z.string().nullable().meta({ description: 'URL of the result once succeeded' }),
    error: JobErrorSchema.nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .meta({ id: 'Job' });

export const JobEnvelope = z.object({ job: Job }).meta({ id: 'JobEnvelope' });

export const RankingResult = z
  .object({
    metric: RankingMetricSchema,
    direction: z.enum(['asc', 'desc']),
    rows: z.array(z.object({ model: z.string(), value: z.number().nullable(), rank: z.number().int() })),
    correlation: z
      .object({
        n: z.number().int(),
        spearman: z.object({ rho: z.number().nullable(), p: z.number().nullable() }),
        kendall: z.object({ tau: z.number().nullable(), p: z.number().nullable() }),
      })
      .optional(),
    failed: z
      .array(z.object({ model: z.string(), error: JobErrorSchema }))
      .optional()
      .meta({ description: 'Models whose analysis failed; they rank last with value null' }),
  })
  .meta({ id: 'RankingResult' });

export const AnalysisQuery = z.object({
  format: z.enum(['json', 'csv']).default('json'),
  eigenvalues: z.enum(['0', '1']).default('0').meta({ description: "'1' keeps each layer's eigenvalues (when the analysis stored them)" }),
});

export const EsdParams = z.object({ id: z.string().min(1).max(200), layer: z.coerce.number().int().nonnegative() });

export const Esd = z
  .object({
    layer_id: z.number().int(),
    name: z.string(),
    eigenvalues: z.array(z.number()),
    alpha: z.number().nullable(),
    xmin: z.number().nullable(),
    xmax: z.number().nullable(),
    etpl: z.object({ beta: z.number().nullable(), lambda: z.number().nullable(), xmin: z.number().nullable() }).nullable(),
  })
  .meta({ id: 'Esd' });

export const DebugJobRequest = z
  .object({ steps: z.number().int().optional(), ms: z.number().int().optional(), value: z.number().optional(), fail: z.string().optional(), cache: z.boolean().optional() })
  .strict();

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem' });

export const Health = z.object({ status: z.enum(['ok', 'not-ready']), jobs: z.record(z.string(), z.number()).optional() }).meta({ id: 'Health' });
