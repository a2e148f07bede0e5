/**
 * What the differentiated graphs are fed and what they give back: a batch's data inputs (kept resident in the
 * session's place), the parameters (and an Hv direction under `v.`), the loss and one tensor per parameter. Labels
 * and tokens are range-checked here, since a graph's one-hot or gather of an out-of-range label would not fail.
 */
import { WeightscopeError } from '../errors.js';
import type { ModelProto } from '../io/onnx-model.js';
import type { DerivedGraph } from '../graph/grad.js';
import type { Batch, LossKind } from './dataset.js';
import type { ParamMap, ParamSpec } from './params.js';
import type { HostTensor } from './wire.js';

export interface DiffOutputs {
  readonly loss: number;
  readonly map: ParamMap;
}

export class DiffFeeds {
  readonly #params: readonly ParamSpec[];
  readonly #paramNames: ReadonlySet<string>;
  readonly #labels: string | null;
  readonly #lossKind: LossKind;
  readonly #classes: number | null;
  readonly #dataNames = new Map<DerivedGraph, readonly string[]>();

  /**
   * `labels`: the labels input of the graphs (null for language models); `classes`: the logits' last extent when the
   * model declares it (labels, or tokens, must lie below it).
   */
  constructor(params: readonly ParamSpec[], labels: string | null, lossKind: LossKind, classes: number | null) {
    this.#params = params;
    this.#paramNames = new Set(params.map((p) => p.name));
    this.#labels = labels;
    this.#lossKind = lossKind;
    this.#classes = classes;
  }

  /** A graph's data inputs (neither parameters nor directions): what `data` fills, kept resident across calls. */
  residentNames(g: DerivedGraph): readonly string[] {
    let names = this.#dataNames.get(g);
    if (!names) {
      names = g.inputs.filter((n) => !this.#paramNames.has(n) && !n.startsWith('v.'));
      this.#dataNames.set(g, names);
    }
    return names;
  }

  /** The batch as the graph's data feeds: labels to the labels input, x to every other data input. */
  data(g: DerivedGraph, batch: Batch): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = {};
    for (const name of this.residentNames(g)) {
      if (name === this.#labels) {
        if (!batch.y) throw new WeightscopeError('invalid-input', 'classification loss needs labels y in the dataset');
        feeds[name] = batch.y;
      } else {
        feeds[name] = batch.x;
      }
    }
    return feeds;
  }

  /** Each parameter's values as feed `prefix + name` (prefix 'v.' for an Hv direction). */
  params(values: ReadonlyMap<string, Float32Array>, prefix: string, feeds: Record<string, HostTensor>): void {
    for (const p of this.#params) feeds[prefix + p.name] = { type: 'float32', data: values.get(p.name) as Float32Array, dims: p.dims };
  }

  /** The loss and the per-parameter outputs `prefix + name` ('grad.' or 'hv.'); a non-finite loss is an error. */
  read(out: Record<string, HostTensor>, prefix: string): DiffOutputs {
    const lossT = out.loss;
    if (!lossT) throw new WeightscopeError('invalid-input', 'the generated graph has no loss output');
    const map: ParamMap = new Map();
    for (const p of this.#params) {
      const t = out[prefix + p.name];
      if (!t) throw new WeightscopeError('invalid-input', `the generated graph has no output ${prefix}${p.name}`);
      map.set(p.name, t.data as Float32Array);
    }
    const loss = Number((lossT.data as Float32Array)[0]);
    if (!Number.isFinite(loss)) throw new WeightscopeError('numerical', `the loss is ${loss}`);
    return { loss, map };
  }

  /** A batch the loss can take: labels present (classification), int64 tokens (lm), every label or token in range. */
  check(batch: Batch): void {
    const kind = this.#lossKind;
    if (kind === 'classification' && !batch.y) throw new WeightscopeError('invalid-input', 'classification loss needs labels y');
    if (kind === 'lm' && batch.x.type !== 'int64') throw new WeightscopeError('invalid-input', 'language-model loss needs int64 tokens');
    const labels = (kind === 'classification' ? batch.y?.data : batch.x.data) as BigInt64Array;
    if (this.#classes === null) return;
    const limit = BigInt(this.#classes);
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] < 0n || labels[i] >= limit) {
        const what = kind === 'classification' ? 'label' : 'token';
        throw new WeightscopeError('invalid-input', `${what} ${labels[i]} is outside the model's ${this.#classes} classes`);
      }
    }
  }
}

/** The size of the logits' last axis when the model declares it (classes, or vocabulary size). */
export function staticClasses(model: ModelProto, logits: string): number | null {
  const out = (model.graph?.output ?? []).find((o) => o.name === logits);
  const dims = out?.type?.tensorType?.shape?.dim ?? [];
  const last = dims[dims.length - 1];
  const v = last?.dimValue;
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}
