/**
 * Request and response schemas of the /v1 API (zod 4). The routes validate with them and openapi.ts turns them
 * into api-spec/openapi.json, so the document cannot drift from what the server accepts.
 */
import { z } from 'zod';
import { CriterionSchema } from '../graph/criteria.js';
import { CompareOptionsSchema } from '../landscape/similarity/compare.js';
import { RANKING_METRICS } from '../ranking/metrics.js';
import { DEVICE_CHOICES, DEVICE_HELP } from '../runtime/devices.js';
import { JOB_STATES } from './jobs/types.js';
import type { DatasetRecord } from './store/datasets.js';
import type { ModelRecord } from './store/models.js';

/** Compile-time proof that a response schema describes exactly what a store returns (no drift either way). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(_proof: T): void => undefined;

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
    inputs: z
      .array(z.object({ name: z.string(), dtype: z.string(), shape: z.array(z.union([z.number().int(), z.string()])) }))
      .nullable()
      .meta({
        description: "The ONNX graph's data inputs (symbolic dims as names); a dataset's x must fit the first; null without a graph",
      }),
  })
  .meta({ id: 'Model' });

export const ModelList = z.object({ models: z.array(Model) }).meta({ id: 'ModelList' });
same<Same<z.output<typeof Model>, ModelRecord>>(true);

export const ImportRequest = z
  .union([
    z
      .object({ path: z.string().min(1).meta({ description: 'A file or folder under an allow-listed root (models/, the HF cache)' }) })
      .strict(),
    z
      .object({
        // The hub's ids: an optional ORG/ and a NAME, each starting with a letter or digit (so no '..', no leading '/').
        hf: z
          .string()
          .max(200)
          .regex(/^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/, 'NAME or ORG/NAME')
          .refine((s) => !s.split('/').some((p) => p.includes('..')), "no '..'"),
        revision: z
          .string()
          .min(1)
          .max(200)
          .regex(/^[\w.-]+(?:\/[\w.-]+)*$/, 'a branch, tag or commit')
          .refine((s) => !s.split('/').includes('..'), "no '..'")
          .optional(),
      })
      .strict(),
  ])
  .meta({ id: 'ImportRequest' });

export const ImportResult = z
  .object({ model: Model, created: z.boolean().meta({ description: 'false: a model with the same content was already stored' }) })
  .meta({ id: 'ImportResult' });

export const IdParams = z.object({ id: z.string().min(1).max(200) });

export const AnalysisRequest = z
  .object({
    model: ModelId,
    fits: z
      .array(z.enum(['pl', 'etpl', 'exp']))
      .min(1)
      .optional(),
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
    scores: z
      .record(z.string(), z.number())
      .optional()
      .meta({ description: 'model id → quality score; adds Spearman and Kendall correlation' }),
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
    requests: z.number().int().meta({
      description: 'Requests waiting for this job (identical requests share one job); a DELETE withdraws one, the last cancels it',
    }),
    error: JobErrorSchema.nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    updated_at: z
      .number()
      .int()
      .meta({ description: 'Last change, ms since the epoch; the id of its SSE events (send it back as Last-Event-ID)' }),
  })
  .meta({ id: 'Job' });

export const JobEnvelope = z.object({ job: Job }).meta({ id: 'JobEnvelope' });

const RankRows = z.array(z.object({ model: z.string(), value: z.number().nullable(), rank: z.number().int() }));
const RankCorrelation = z.object({
  n: z.number().int(),
  spearman: z.object({ rho: z.number().nullable(), p: z.number().nullable() }),
  kendall: z.object({ tau: z.number().nullable(), p: z.number().nullable() }),
});

export const RankingResult = z
  .object({
    metric: RankingMetricSchema,
    direction: z.enum(['asc', 'desc']),
    rows: RankRows,
    correlation: RankCorrelation.extend({ cross_family: z.boolean() }).optional(),
    cross_family: z.boolean().meta({ description: 'The models come from more than one family (model_type, else layer signature)' }),
    families: z
      .array(z.object({ family: z.string(), rows: RankRows, correlation: RankCorrelation.optional() }))
      .meta({ description: 'The models ranked within each family; HT-SR metrics do not support a ranking across families' }),
    note: z.string().optional(),
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

const DebugLeaf = z
  .object({
    steps: z.number().int().optional(),
    ms: z.number().int().optional(),
    value: z.number().optional(),
    fail: z.string().optional(),
    cache: z.boolean().optional(),
    allocateMb: z.number().int().optional(),
    budget: z.number().optional(),
  })
  .strict();
export const DebugJobRequest = DebugLeaf.extend({ children: z.array(DebugLeaf).optional() }).strict();

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

export const Health = z
  .object({ status: z.enum(['ok', 'not-ready']), jobs: z.record(z.string(), z.number()).optional() })
  .meta({ id: 'Health' });

/** Where a job runs its onnxruntime sessions. */
export const DeviceSchema = z.enum(DEVICE_CHOICES).meta({ id: 'Device', description: DEVICE_HELP });

export const Dataset = z
  .object({
    id: Sha256.meta({ description: 'Content-derived dataset id (sha256)' }),
    name: z.string(),
    bytes: z.number().int(),
    samples: z.number().int().meta({ description: 'Rows of x' }),
    x_shape: z.array(z.number().int()),
    x_dtype: z.enum(['float32', 'int64']),
    labels: z.boolean().meta({ description: 'true: classification data (x, y); false: token ids only (language model)' }),
    created_at: z.string(),
  })
  .meta({ id: 'Dataset' });
same<Same<z.output<typeof Dataset>, DatasetRecord>>(true);

export const DatasetFit = z.object({ ok: z.boolean(), why: z.string().nullable() }).meta({
  id: 'DatasetFit',
  description: "Whether the dataset's samples fit the model's first graph input (ok also when the model's inputs are unknown)",
});

export const DatasetList = z
  .object({
    datasets: z.array(Dataset.extend({ fit: DatasetFit.optional().meta({ description: 'With ?model=<id>: whether it fits that model' }) })),
  })
  .meta({ id: 'DatasetList' });

export const DatasetListQuery = z
  .object({ model: ModelId.optional().meta({ description: 'Mark each dataset with whether it fits this model' }) })
  .strict();

export const HessianRequest = z
  .object({
    model: z.string().min(1),
    dataset: z.string().min(1),
    /** Options of src/landscape/hessian/run.ts (topK, tol, lanczos, trace, traceExact, density, input, seed, …). */
    options: z.record(z.string(), z.unknown()).optional(),
    device: DeviceSchema.optional(),
    untie: z.boolean().optional(),
    /** The loss whose Hessian is taken (default ce). */
    criterion: CriterionSchema.optional(),
  })
  .strict();

export const ComparisonRequest = z
  .object({
    models: z.array(z.string().min(1)).length(2),
    dataset: z.string().min(1),
    options: CompareOptionsSchema.optional(),
    device: DeviceSchema.optional(),
  })
  .strict();

export const ConnectivityRequest = z
  .object({
    models: z.array(z.string().min(1)).length(2),
    /** Clean dataset id: trains the curve (and BN statistics). */
    data: z.string().min(1),
    /** Further dataset ids evaluated along t. */
    evalData: z.array(z.string().min(1)).max(4).optional(),
    /** Triggered dataset id (x, y = target, y_true): ASR along t. */
    triggered: z.string().min(1).optional(),
    /** connect() options: curve, bends, epochs, samplesPerEpoch, batchSize, lr, momentum, l2, seed, schedule, ts, device. */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const RepairRequest = z
  .object({
    models: z.array(z.string().min(1)).min(1).max(2),
    data: z.string().min(1),
    /** Clean held-out dataset id for choosing t (else a share of `data` is held out). */
    evalData: z.string().min(1).optional(),
    /** Triggered dataset id, for reporting ASR only. */
    triggered: z.string().min(1).optional(),
    /**
     * Error-injection targets (x, y = the labels the attack wants, y_true), for reporting attack success before and
     * after only: never read by the training, the choice of t or the output.
     */
    targets: z.string().min(1).optional(),
    /** repair() options: the curve options plus heldOut, delta, fineTuneLr, baseline. */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** A stored dataset's id (POST /v1/datasets). */
const DatasetId = Sha256.meta({ description: 'Content-derived dataset id (sha256)' });

export const CollapseRequest = z
  .object({
    model: ModelId.meta({ description: 'A stored ONNX classifier' }),
    dataset: DatasetId.meta({ description: 'A stored labelled dataset (x, y)' }),
    /** collapse() options: features, batchSize, samples, maxClasses, device. */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const FlatnessRequest = z
  .object({
    model: ModelId.meta({ description: 'A stored ONNX model' }),
    dataset: DatasetId,
    /** flatness() options: gamma, draws, seed, batchSize, samples, drawsPerRun, trace, traceMaxIter, criterion, device. */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const TaxonomyRequest = z
  .object({
    models: z
      .array(ModelId)
      .min(3)
      .max(16)
      .refine((ids) => new Set(ids).size === ids.length, 'the models must be distinct')
      .meta({ description: '3–16 stored ONNX models of one graph, trained in one setting' }),
    /** Training data: Hessian batch, curve training, mc and CKA inputs. */
    data: DatasetId.meta({ description: 'Labelled training data (x, y)' }),
    test: DatasetId.optional().meta({ description: "Labelled test data: each model's test accuracy beside its metrics" }),
    /** taxonomy() options: the curve options, ts, pairs, Hessian and CKA settings, thresholds, criterion, device. */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const SurfaceRequest = z
  .object({
    models: z
      .array(ModelId)
      .min(3)
      .max(4)
      .refine((ids) => new Set(ids).size === ids.length, 'the models must be distinct')
      .meta({
        description: 'The corners M1, M2, M3[, M4]: 3 (triangular patch) or 4 (tensor-product patch) stored ONNX models of one graph',
      }),
    data: DatasetId.meta({
      description: 'Clean labelled data (x, y): trains the surface; a share is held out unless heldOutData is given',
    }),
    heldOutData: DatasetId.optional().meta({ description: 'Clean held-out data: chooses the best interior point' }),
    test: DatasetId.optional().meta({
      description: 'Test data: the grid, centre, corners and ensembles are measured on it (else on the held-out data)',
    }),
    /** connectSurface() options: degree, grid, ensemble, heldOut and the curve training options. */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const AttackRequest = z
  .object({
    model: ModelId.meta({ description: 'A stored ONNX classifier with float inputs' }),
    dataset: DatasetId.meta({ description: 'Labelled data (x float, y) to attack' }),
    /** attackModel() options: attack, eps, steps, alpha, randomStart, clip, samples, input-Hessian settings, device. */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/**
 * GET /v1/repairs/{id}/model?format=…, GET /v1/surfaces/{id}/model?format=…: zip: a Hugging Face folder as one
 * archive (the default for those); onnx (the default otherwise) / safetensors: one file.
 */
export const ModelFormatQuery = z.object({ format: z.enum(['zip', 'onnx', 'safetensors']).optional() }).strict();

/**
 * A request body as documented: the route's own schema, with its free-form `options` narrowed to the schema the
 * handler then parses `options` with (a failure there is a 400 `invalid-input` problem, not a `validation` one).
 */
export const withOptions = (schema: z.ZodObject, options: z.ZodType, description: string): z.ZodObject =>
  schema.extend({ options: options.optional().meta({ description }) });
