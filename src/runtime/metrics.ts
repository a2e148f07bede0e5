/**
 * Loss and accuracy from logits, in float64 with a stable log-sum-exp. These are sums (not means) so batches of any
 * size combine exactly into a size-weighted mean. Argmax ties go to the first index, as torch.argmax.
 */
import { WeightscopeError } from '../errors.js';
import { criterionRow, type Criterion } from '../graph/criteria.js';
import type { HostTensor } from './wire.js';

export interface LossSums {
  /** Σ cross-entropy (or the criterion) over the predictions counted. */
  readonly loss: number;
  /** Number of correct argmax predictions. */
  readonly correct: number;
  /** Number of predictions (samples for classification, tokens for a language model). */
  readonly count: number;
}

/**
 * −log softmax(row)[target] (or the criterion's value, criteria.ts) and whether argmax(row) = target, for
 * row = logits[off .. off+c).
 */
function rowLoss(logits: Float32Array, off: number, c: number, target: number, criterion?: Criterion): [number, boolean] {
  let max = -Infinity;
  let arg = 0;
  for (let j = 0; j < c; j++) {
    const v = logits[off + j];
    if (v > max) {
      max = v;
      arg = j;
    }
  }
  if (criterion && criterion.kind !== 'ce') return [criterionRow(criterion, logits, off, c, target), arg === target];
  let s = 0;
  for (let j = 0; j < c; j++) s += Math.exp(logits[off + j] - max);
  return [Math.log(s) + max - logits[off + target], arg === target];
}

/** The arg-max of each row of logits [B, C] (ties to the first index), written to out[offset + i]. */
export function argmaxRows(t: HostTensor, out: Int32Array, offset: number): void {
  const [b, c] = t.dims;
  const z = t.data as Float32Array;
  for (let i = 0; i < b; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (z[i * c + k] > z[i * c + best]) best = k;
    out[offset + i] = best;
  }
}

function label(v: bigint, classes: number, what: string): number {
  if (v < 0n || v >= BigInt(classes)) {
    throw new WeightscopeError('invalid-input', `${what} ${v} is outside the model's ${classes} classes`);
  }
  return Number(v);
}

/** Softmax cross-entropy (or the criterion) of logits [B, C] against labels [B]. */
export function classificationSums(logits: Float32Array, dims: readonly number[], y: BigInt64Array, criterion?: Criterion): LossSums {
  if (dims.length !== 2 || dims[0] !== y.length) {
    throw new WeightscopeError('shape-mismatch', `classification needs logits [B, C] for ${y.length} labels, got [${dims.join(', ')}]`);
  }
  const [b, c] = dims;
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < b; i++) {
    const [l, ok] = rowLoss(logits, i * c, c, label(y[i], c, `label y[${i}] =`), criterion);
    loss += l;
    if (ok) correct++;
  }
  return { loss, correct, count: b };
}

/** Next-token cross-entropy: logits [B, S, V] at positions 0..S−2 against tokens x[:, 1:]. */
export function lmSums(logits: Float32Array, dims: readonly number[], tokens: BigInt64Array, criterion?: Criterion): LossSums {
  if (dims.length !== 3 || dims[0] * dims[1] !== tokens.length) {
    throw new WeightscopeError('shape-mismatch', `language-model loss needs logits [B, S, V] matching tokens, got [${dims.join(', ')}]`);
  }
  const [b, s, v] = dims;
  if (s < 2) throw new WeightscopeError('invalid-input', 'language-model loss needs sequences of at least 2 tokens');
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < b; i++) {
    for (let t = 0; t < s - 1; t++) {
      const target = label(tokens[i * s + t + 1], v, `token x[${i}, ${t + 1}] =`);
      const [l, ok] = rowLoss(logits, (i * s + t) * v, v, target, criterion);
      loss += l;
      if (ok) correct++;
    }
  }
  return { loss, correct, count: b * (s - 1) };
}

export function addSums(a: LossSums, b: LossSums): LossSums {
  return { loss: a.loss + b.loss, correct: a.correct + b.correct, count: a.count + b.count };
}

export const ZERO_SUMS: LossSums = { loss: 0, correct: 0, count: 0 };
