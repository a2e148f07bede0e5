/**
 * `collapse`: neural-collapse metrics of a classifier on labelled data. The features (the input of the last linear
 * layer, classifier.ts, or a value named in the options) and the logits come from one forward pass of the graph the
 * engine differentiates (so every model the engine runs works), batch by batch; the metrics (metrics.ts) are
 * float64. One zod schema holds the options for the library, the CLI and the service.
 */
import { dirname } from 'node:path';
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';
import { buildLossGraph, loadParamValues, lossModel, type LossGraph } from '../../graph/index.js';
import { readOnnxModel, type ModelProto } from '../../io/onnx-model.js';
import { loadDataset, sliceBatch, type Dataset } from '../../runtime/dataset.js';
import { pruneTo } from '../../runtime/forward-graph.js';
import { DEFAULT_DEVICE, DEVICE_CHOICES } from '../../runtime/devices.js';
import { getSession, releaseSession } from '../../runtime/session.js';
import type { HostTensor } from '../../runtime/wire.js';
import { argmaxRows } from '../../runtime/metrics.js';
import { parseOptions } from '../../util/options.js';
import type { ProgressHook } from '../../util/progress.js';
import { classifierMatrix, findClassifier, type Classifier } from './classifier.js';
import { neuralCollapse, type NeuralCollapse } from './metrics.js';

const posInt = z.number().int().positive();

/** Features are held in memory (float32): at most this many values (1 GiB). */
const MAX_FEATURE_VALUES = 2 ** 28;

export const CollapseOptionsSchema = z
  .object({
    /** The value holding the features (default: the input of the last linear layer before the logits). */
    features: z.string().min(1).optional(),
    /** Samples per forward pass. */
    batchSize: posInt.max(1_000_000).default(500),
    /** Use only the first N samples. */
    samples: posInt.optional(),
    /** Heads wider than this are refused (a language model's vocabulary is not a set of classes). */
    maxClasses: z.number().int().min(2).max(100_000).default(4096),
    device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
  })
  .strict();
export type CollapseOptionsInput = z.input<typeof CollapseOptionsSchema>;
export type CollapseOptions = z.output<typeof CollapseOptionsSchema>;

export function parseCollapseOptions(input: unknown = {}): CollapseOptions {
  return parseOptions(CollapseOptionsSchema, input, 'collapse');
}

export interface CollapseResult extends NeuralCollapse {
  /** The value read as features, the logits, and the classifier (null when the features are not its input). */
  readonly features: string;
  readonly logits: string;
  readonly classifier: { readonly node: string; readonly weight: string } | null;
  /** Wall time of the forward passes (session included) and of the metrics. */
  readonly seconds: { readonly forward: number; readonly metrics: number };
}

export interface CollapseInput {
  readonly model: ModelProto;
  readonly dataset: Dataset;
  /** Folder resolving external initializer data (default the working directory). */
  readonly baseDir?: string;
}

/** The classification loss graph of the model, with a message for what is not a classifier. */
function classifierGraph(model: ModelProto): LossGraph {
  try {
    return buildLossGraph(model, { loss: 'classification', fusePools: false });
  } catch (e) {
    if (e instanceof WeightscopeError && /needs logits \[batch, classes\]/.test(e.message)) {
      throw new WeightscopeError(
        'invalid-input',
        `neural collapse needs a classifier (logits [batch, classes]): ${e.message} — a language model's head is not a classifier`,
      );
    }
    throw e;
  }
}

function checkWidth(classes: number, o: CollapseOptions): void {
  if (classes > o.maxClasses) {
    throw new WeightscopeError(
      'invalid-input',
      `the head has ${classes} outputs: a vocabulary-sized (language-model) head, not a set of classes; neural collapse takes classifiers with at most ${o.maxClasses} classes (maxClasses)`,
    );
  }
}

export async function collapse(
  input: CollapseInput,
  options: CollapseOptionsInput = {},
  onProgress?: ProgressHook,
): Promise<CollapseResult> {
  const o = parseCollapseOptions(options);
  const ds = input.dataset;
  if (!ds.y) throw new WeightscopeError('invalid-input', 'neural collapse needs labels y in the dataset');
  const n = o.samples ?? ds.n;
  if (n > ds.n) throw new WeightscopeError('invalid-input', `asked for ${n} samples, the data has ${ds.n}`);
  const lg = classifierGraph(input.model);
  const declared = lg.graph.values.get(lg.logits)?.shape?.[1];
  if (typeof declared === 'number') checkWidth(declared, o);

  const params = new Set(lg.params.map((p) => p.name));
  let cls: Classifier | null = null;
  try {
    cls = findClassifier(lg.graph, lg.logits, params, lg.dataInputs);
  } catch (e) {
    if (o.features === undefined) throw e;
  }
  const features = o.features ?? (cls as Classifier).features;
  if (!lg.graph.values.has(features)) throw new WeightscopeError('not-found', `the model has no value named '${features}'`);
  if (features === lg.logits) throw new WeightscopeError('invalid-input', `'${features}' is the logits, not features`);
  if (cls && cls.features !== features) cls = null;

  const values = await loadParamValues(lg, input.baseDir ?? process.cwd());
  const graph = pruneTo(lossModel(lg).model, [features, lg.logits]);
  const t0 = performance.now();
  const session = await getSession(graph, { device: o.device });
  let H: Float32Array | null = null;
  let d = 0;
  let classes = 0;
  const predictions = new Int32Array(n);
  try {
    const feeds: Record<string, HostTensor> = {};
    for (const p of lg.params) {
      if (!session.inputNames.includes(p.name)) continue;
      const v = values.get(p.name)!;
      feeds[p.name] = v instanceof Float64Array ? { type: 'float64', data: v, dims: p.dims } : { type: 'float32', data: v, dims: p.dims };
    }
    const [xName] = lg.dataInputs;
    let done = 0;
    for (let s = 0; s < n; s += o.batchSize) {
      const batch = sliceBatch(ds, s, Math.min(n, s + o.batchSize));
      const out = await session.run({ ...feeds, [xName]: batch.x }, [features, lg.logits]);
      const f = out[features];
      const z = out[lg.logits];
      if (f.dims.length < 2 || f.dims[0] !== batch.size) {
        throw new WeightscopeError(
          'invalid-input',
          `features '${features}' must be [batch, ...] (one row per sample), got [${f.dims.join(', ')}]`,
        );
      }
      if (f.type !== 'float32' || z.type !== 'float32')
        throw new WeightscopeError('unsupported-dtype', `features and logits must be float32, got ${f.type} and ${z.type}`);
      if (!H) {
        d = f.dims.slice(1).reduce((a, b) => a * b, 1); // a feature map is flattened per sample
        classes = z.dims[1];
        checkWidth(classes, o);
        if (n * d > MAX_FEATURE_VALUES) {
          throw new WeightscopeError(
            'too-large',
            `${n} samples × ${d} features exceed ${MAX_FEATURE_VALUES} values; use fewer samples (samples)`,
          );
        }
        H = new Float32Array(n * d);
      }
      if (f.data.length !== batch.size * d)
        throw new WeightscopeError('shape-mismatch', `features '${features}' changed shape between batches ([${f.dims.join(', ')}])`);
      H.set(f.data as Float32Array, done * d);
      argmaxRows(z, predictions, done);
      done += batch.size;
      onProgress?.(done, n, 'forward');
    }
  } finally {
    await releaseSession(session);
  }
  const forward = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const weight = cls ? classifierMatrix(cls, values.get(cls.weight)!, classes, d) : null;
  const labels = Int32Array.from(ds.y.subarray(0, n), (v) => {
    const k = Number(v);
    return k < classes ? k : -1;
  });
  const bad = labels.indexOf(-1);
  if (bad >= 0) throw new WeightscopeError('invalid-input', `label y[${bad}] = ${ds.y[bad]} is outside the model's ${classes} classes`);
  const nc = neuralCollapse({
    features: H as Float32Array,
    n,
    d,
    labels,
    predictions,
    classes,
    weight,
    onRows: (i) => onProgress?.(i, n, 'class-mean metrics'),
  });
  return {
    ...nc,
    features,
    logits: lg.logits,
    classifier: cls ? { node: cls.node, weight: cls.weight } : null,
    seconds: { forward, metrics: (performance.now() - t1) / 1000 },
  };
}

/** The file-facing edge shared by the CLI and the service: an ONNX model path and a dataset file. */
export async function collapseOnFiles(
  modelPath: string,
  dataPath: string,
  options: CollapseOptionsInput = {},
  onProgress?: ProgressHook,
): Promise<CollapseResult> {
  const o = parseCollapseOptions(options);
  const [model, dataset] = await Promise.all([readOnnxModel(modelPath), loadDataset(dataPath)]);
  return collapse({ model, dataset, baseDir: dirname(modelPath) }, o, onProgress);
}
