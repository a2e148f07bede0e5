/**
 * The Hessian of a model's mean loss over a dataset as an HvOperator: flat float64 vectors in the engine's parameter
 * order ↔ per-parameter float32 maps. Hv over several batches is the size-weighted mean of the per-batch Hv (the
 * Hessian of the mean loss over all their samples, PyHessian's dataloader mode), accumulated here in float64.
 * The engine's graphs have no dropout/BatchNorm training branch, so this is the eval-mode Hessian.
 */
import { WeightscopeError } from '../../errors.js';
import type { Engine } from '../../runtime/engine.js';
import type { Batch } from '../../runtime/dataset.js';
import { totalSize, unflatten, type ParamSpec } from '../../runtime/params.js';
import type { HvOperator } from './operator.js';

export interface CountingOperator extends HvOperator {
  /** Hv products computed so far (each one a pass over every batch). */
  readonly hvCount: number;
  /** The mean loss seen by the last Hv (the same at every call: the parameters do not move). */
  readonly loss: number | null;
}

export interface EngineOperatorOptions {
  /** Called after every Hv with the running count. */
  readonly onApply?: (count: number) => void;
}

/** Samples in the batches; a batch list must be non-empty. */
export function sampleCount(batches: readonly Batch[]): number {
  const n = batches.reduce((s, b) => s + b.size, 0);
  if (batches.length === 0 || n === 0) throw new WeightscopeError('invalid-input', 'the Hessian needs at least one sample');
  return n;
}

/** Copy the per-parameter map into one flat float64 vector (engine order). */
function flatInto(specs: readonly ParamSpec[], map: ReadonlyMap<string, Float32Array>, out: Float64Array, weight: number): void {
  let o = 0;
  for (const s of specs) {
    const v = map.get(s.name);
    if (!v || v.length !== s.size)
      throw new WeightscopeError('shape-mismatch', `Hv output for '${s.name}' is missing or has the wrong size`);
    for (let i = 0; i < s.size; i++) out[o + i] += weight * v[i];
    o += s.size;
  }
}

/**
 * Adds weight·(a batch's mean-loss Hv) into `out` and resolves to the batch's mean loss; made once per Hv from the
 * direction, so per-direction conversions happen once.
 */
export type BatchHv = (b: Batch, out: Float64Array, weight: number) => Promise<number>;

/**
 * The operator whose Hv is the size-weighted mean over `batches` of the per-batch Hv (the Hessian of the mean loss
 * over all their samples), counting products and keeping the last mean loss. `dimText` says what `dim` counts, for
 * the wrong-length error.
 */
export function batchMeanOperator(
  dim: number,
  dimText: string,
  batches: readonly Batch[],
  forDirection: (v: Float64Array) => BatchHv,
  onApply?: (count: number) => void,
): CountingOperator {
  const n = sampleCount(batches);
  let hvCount = 0;
  let loss: number | null = null;
  return {
    dim,
    get hvCount() {
      return hvCount;
    },
    get loss() {
      return loss;
    },
    async apply(v: Float64Array): Promise<Float64Array> {
      if (v.length !== dim) throw new WeightscopeError('shape-mismatch', `direction has ${v.length} values, ${dimText}`);
      const batchHv = forDirection(v);
      const out = new Float64Array(dim);
      let lossSum = 0;
      for (const b of batches) lossSum += b.size * (await batchHv(b, out, b.size / n));
      loss = lossSum / n;
      hvCount++;
      onApply?.(hvCount);
      return out;
    },
  };
}

/**
 * v ↦ H v for the mean loss of `engine`'s model at `params` over `batches`. The batches are kept (not re-read) so
 * every Hv sees exactly the same data.
 */
export function engineOperator(
  engine: Engine,
  params: ReadonlyMap<string, Float32Array>,
  batches: readonly Batch[],
  opts: EngineOperatorOptions = {},
): CountingOperator {
  const specs = engine.params;
  const dim = totalSize(specs);
  return batchMeanOperator(
    dim,
    `the model has ${dim} parameters`,
    batches,
    (v) => {
      const vm = unflatten(specs, v);
      return async (b, out, weight) => {
        const r = await engine.hvp(params, b, vm);
        flatInto(specs, r.hv, out, weight);
        return r.loss;
      };
    },
    opts.onApply,
  );
}
