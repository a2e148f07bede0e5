/**
 * Model similarity (Yang et al. 2021, docs/algorithms.md §5.1): linear CKA between two models' SOFTMAX outputs on the same
 * inputs, and the L2 distance between their parameter vectors. Language models contribute one output row per
 * token position. Only forward passes are needed.
 */
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';
import { parseOptions } from '../../util/options.js';
import { buildLossGraph } from '../../graph/index.js';
import { loadModelData, type DataSource } from '../../data/model-data.js';
import { lossFor } from '../../model-io/engine.js';
import { describeModel, openModel, type ModelDescription, type OpenedModel, type OpenModelOptions } from '../../model-io/open.js';
import { sliceBatch, type Dataset, type LossKind } from '../../runtime/dataset.js';
import type { Engine } from '../../runtime/engine.js';
import { createForward } from '../../runtime/forward.js';
import { floatInitializerNames, loadParams, type ParamSpec } from '../../runtime/params.js';
import type { DeviceChoice } from '../../runtime/devices.js';
import type { HostTensor } from '../../runtime/wire.js';
import { l2Distance, linearCka } from './cka.js';

export const CompareOptionsSchema = z
  .object({
    batchSize: z.number().int().positive().default(256),
    /** Use only the first N samples (default all). */
    samples: z.number().int().positive().optional(),
  })
  .strict();
export type CompareOptionsInput = z.input<typeof CompareOptionsSchema>;

export interface CompareResult {
  /** Linear CKA of the softmax outputs (1 = same representation up to rotation and scale). */
  cka: number;
  /** ‖θ_a − θ_b‖₂ over the parameters; null when the two models' parameters differ in names or shapes. */
  l2_distance: number | null;
  /** Rows compared (samples, or token positions for a language model) and output width. */
  rows: number;
  outputs: number;
}

/** What similarity needs of a model: its parameters and its logits for an input batch. */
export interface OutputModel {
  readonly params: readonly ParamSpec[];
  readonly values: ReadonlyMap<string, Float32Array>;
  logits(x: HostTensor): Promise<HostTensor>;
}

/** An engine at given parameter values (default its own) as an OutputModel. */
export function engineOutputs(engine: Engine, values: ReadonlyMap<string, Float32Array> = engine.initialParams()): OutputModel {
  return { params: engine.params, values, logits: (x) => engine.logits(values, x) };
}

/**
 * An opened model (src/model-io/open.ts) as an OutputModel without gradient graphs. Parameters are those the loss
 * graph differentiates (tied weights once), or every float initializer when no loss graph can be built for it.
 */
export async function modelOutputs(m: OpenedModel, loss: LossKind, device?: DeviceChoice): Promise<OutputModel> {
  let names: string[];
  try {
    names = buildLossGraph(m.model, { loss, ...(m.pretied ? { untie: true } : {}) }).params.map((p) => p.name);
  } catch {
    names = floatInitializerNames(m.model);
  }
  const { specs, values } = await loadParams(m.model, process.cwd(), names);
  const fwd = await createForward(m.model, specs, device ? { device } : {});
  return { params: specs, values, logits: (x) => fwd.logits(values, x) };
}

/** A model argument (an .onnx file, an HF folder or id) as an OutputModel. */
export async function onnxOutputs(path: string, loss: LossKind, device?: DeviceChoice): Promise<OutputModel> {
  return modelOutputs(await openModel(path), loss, device);
}

/** Row-wise softmax of logits [..., C] in float64, appended to `out`. */
function softmaxInto(logits: HostTensor, out: number[]): number {
  if (logits.type !== 'float32' && logits.type !== 'float64')
    throw new WeightscopeError('unsupported-dtype', `logits must be float, got ${logits.type}`);
  const c = logits.dims[logits.dims.length - 1];
  const d = logits.data as Float32Array | Float64Array;
  for (let r = 0; r < d.length; r += c) {
    let m = -Infinity;
    for (let k = 0; k < c; k++) m = Math.max(m, d[r + k]);
    let z = 0;
    for (let k = 0; k < c; k++) z += Math.exp(d[r + k] - m);
    for (let k = 0; k < c; k++) out.push(Math.exp(d[r + k] - m) / z);
  }
  return c;
}

async function softmaxOutputs(m: OutputModel, ds: Dataset, n: number, batchSize: number): Promise<{ data: Float64Array; cols: number }> {
  const acc: number[] = [];
  let cols = 0;
  for (let s = 0; s < n; s += batchSize) cols = softmaxInto(await m.logits(sliceBatch(ds, s, Math.min(n, s + batchSize)).x), acc);
  return { data: Float64Array.from(acc), cols };
}

function sameParams(a: readonly ParamSpec[], b: readonly ParamSpec[]): boolean {
  if (a.length !== b.length) return false;
  const bm = new Map(b.map((p) => [p.name, p]));
  return a.every((p) => bm.get(p.name)?.size === p.size && bm.get(p.name)!.dims.join() === p.dims.join());
}

/** ‖θ_a − θ_b‖₂ in float64 over the parameters (null when they do not correspond). */
export function parameterDistance(a: OutputModel, b: OutputModel): number | null {
  if (!sameParams(a.params, b.params)) return null;
  let s = 0;
  for (const p of a.params) s += l2Distance(a.values.get(p.name)!, b.values.get(p.name)!) ** 2;
  return Math.sqrt(s);
}

export async function compareModels(
  a: OutputModel,
  b: OutputModel,
  ds: Dataset,
  options: CompareOptionsInput = {},
): Promise<CompareResult> {
  const o = parseOptions(CompareOptionsSchema, options, 'compare');
  const n = o.samples ?? ds.n;
  if (n > ds.n) throw new WeightscopeError('invalid-input', `asked for ${n} samples, the data has ${ds.n}`);
  const X = await softmaxOutputs(a, ds, n, o.batchSize);
  const Y = await softmaxOutputs(b, ds, n, o.batchSize);
  const rows = X.data.length / X.cols;
  if (Y.data.length / Y.cols !== rows) throw new WeightscopeError('shape-mismatch', 'the two models give different numbers of output rows');
  if (rows < 2) throw new WeightscopeError('invalid-input', 'CKA needs at least two output rows');
  const cka = linearCka(X.data, Y.data, rows, X.cols, Y.cols);
  if (!Number.isFinite(cka)) throw new WeightscopeError('numerical', 'CKA is undefined: one model gives the same output for every input');
  return { cka, l2_distance: parameterDistance(a, b), rows, outputs: X.cols };
}

/**
 * Two model arguments on one dataset: a Dataset already in the models' input form, or a source (data file or text)
 * loaded for model A. The loss kind (for parameter selection) comes from the models' task or the data.
 */
export async function compareFiles(
  pathA: string,
  pathB: string,
  data: Dataset | DataSource,
  options: CompareOptionsInput = {},
  device?: DeviceChoice,
  open: OpenModelOptions = {},
): Promise<CompareResult & { routes: [ModelDescription, ModelDescription] }> {
  const [ma, mb] = [await openModel(pathA, open), await openModel(pathB, open)];
  if (ma.layout.kind !== mb.layout.kind) {
    throw new WeightscopeError(
      'invalid-input',
      `${pathA} takes ${ma.layout.kind} input, ${pathB} takes ${mb.layout.kind}: they cannot be compared on the same data`,
    );
  }
  const ds = 'n' in data ? data : await loadModelData(ma, data);
  const loss = lossFor(ma, ds);
  const [a, b] = [await modelOutputs(ma, loss, device), await modelOutputs(mb, loss, device)];
  return { ...(await compareModels(a, b, ds, options)), routes: [describeModel(ma), describeModel(mb)] };
}
