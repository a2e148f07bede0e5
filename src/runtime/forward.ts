/**
 * Forward passes with parameters as inputs: logits for a batch, and loss/accuracy over a dataset as size-weighted
 * means (sums of per-sample cross-entropy in float64, divided once at the end).
 */
import { WeightscopeError } from '../errors.js';
import type { Criterion } from '../graph/criteria.js';
import type { ModelProto } from '../io/onnx-model.js';
import { sequentialBatches, type Batch, type Dataset, type LossKind } from './dataset.js';
import { paramsAsInputs, pruneTo } from './forward-graph.js';
import { addSums, classificationSums, lmSums, ZERO_SUMS, type LossSums } from './metrics.js';
import { checkParams, type ParamSpec } from './params.js';
import type { DeviceChoice } from './devices.js';
import { getSession, type RuntimeSession } from './session.js';
import type { HostTensor } from './wire.js';

export interface EvalResult {
  /** Mean cross-entropy, or the criterion asked for (per sample; per predicted token for a language model). */
  readonly loss: number;
  /** Share of argmax-correct predictions (token accuracy for a language model). */
  readonly accuracy: number;
  /** Number of samples (sequences for a language model). */
  readonly n: number;
  /** Language models: number of predicted tokens, n·(S−1). */
  readonly tokens?: number;
}

export interface ForwardRunner {
  readonly session: RuntimeSession;
  readonly inputName: string;
  readonly logitsName: string;
  logits(params: ReadonlyMap<string, Float32Array>, x: HostTensor): Promise<HostTensor>;
  /** Loss and accuracy sums of one batch (the loss: cross-entropy, or the criterion given). */
  sums(params: ReadonlyMap<string, Float32Array>, batch: Batch, loss: LossKind, criterion?: Criterion): Promise<LossSums>;
  evaluate(
    params: ReadonlyMap<string, Float32Array>,
    ds: Dataset,
    opts: { batchSize?: number; loss: LossKind; criterion?: Criterion },
  ): Promise<EvalResult>;
}

export interface ForwardOptions {
  /** A device, or 'auto' (session.device says which one runs). */
  readonly device?: DeviceChoice;
  /** Which graph output holds the logits (default: the first). */
  readonly logitsOutput?: string;
}

/** The model's one data input: a graph input that is neither an initializer nor a parameter. */
export function dataInputName(model: ModelProto, params: readonly string[]): string {
  const graph = model.graph;
  const skip = new Set([...params, ...(graph?.initializer ?? []).map((t) => t.name ?? '')]);
  const data = (graph?.input ?? []).map((i) => i.name ?? '').filter((n) => !skip.has(n));
  if (data.length !== 1) {
    throw new WeightscopeError('invalid-input', `the model must have exactly one data input, it has ${data.length} (${data.join(', ')})`);
  }
  return data[0];
}

export function logitsOutputName(model: ModelProto, requested?: string): string {
  const outs = (model.graph?.output ?? []).map((o) => o.name ?? '');
  if (requested !== undefined) {
    if (!outs.includes(requested)) {
      throw new WeightscopeError('not-found', `the model has no output '${requested}' (outputs: ${outs.join(', ')})`);
    }
    return requested;
  }
  if (outs.length === 0) throw new WeightscopeError('invalid-input', 'the model has no outputs');
  return outs[0];
}

export function sumsFor(loss: LossKind, logits: HostTensor, batch: Batch, criterion?: Criterion): LossSums {
  if (logits.type !== 'float32') throw new WeightscopeError('unsupported-dtype', `logits must be float32, got ${logits.type}`);
  const data = logits.data as Float32Array;
  if (loss === 'classification') {
    if (!batch.y) throw new WeightscopeError('invalid-input', 'classification needs labels y');
    return classificationSums(data, logits.dims, batch.y.data as BigInt64Array, criterion);
  }
  if (batch.x.type !== 'int64') throw new WeightscopeError('invalid-input', 'a language-model loss needs int64 token inputs');
  return lmSums(data, logits.dims, batch.x.data as BigInt64Array, criterion);
}

export function meanOf(s: LossSums, n: number, loss: LossKind): EvalResult {
  if (s.count === 0) throw new WeightscopeError('invalid-input', 'nothing to evaluate');
  const r = { loss: s.loss / s.count, accuracy: s.correct / s.count, n };
  return loss === 'lm' ? { ...r, tokens: s.count } : r;
}

/**
 * A forward runner for `model` whose parameters `params` (initializers, or inputs already) are fed per call.
 * The session graph keeps only what the logits need.
 */
export async function createForward(model: ModelProto, params: readonly ParamSpec[], opts: ForwardOptions = {}): Promise<ForwardRunner> {
  const names = params.map((p) => p.name);
  const logitsName = logitsOutputName(model, opts.logitsOutput);
  const graph = pruneTo(paramsAsInputs(model, names), [logitsName]);
  const inputName = dataInputName(graph, names);
  const session: RuntimeSession = await getSession(graph, { device: opts.device });
  const used = new Set(session.inputNames);

  async function logits(values: ReadonlyMap<string, Float32Array>, x: HostTensor): Promise<HostTensor> {
    checkParams(params, values);
    const feeds: Record<string, HostTensor> = { [inputName]: x };
    for (const p of params) {
      if (used.has(p.name)) feeds[p.name] = { type: 'float32', data: values.get(p.name) as Float32Array, dims: p.dims };
    }
    const out = await session.run(feeds, [logitsName]);
    return out[logitsName];
  }

  async function sums(values: ReadonlyMap<string, Float32Array>, batch: Batch, loss: LossKind, criterion?: Criterion): Promise<LossSums> {
    return sumsFor(loss, await logits(values, batch.x), batch, criterion);
  }

  return {
    session,
    inputName,
    logitsName,
    logits,
    sums,
    async evaluate(values, ds, { batchSize = 256, loss, criterion }) {
      let total = ZERO_SUMS;
      for (const batch of sequentialBatches(ds, batchSize)) total = addSums(total, await sums(values, batch, loss, criterion));
      return meanOf(total, ds.n, loss);
    },
  };
}
