/**
 * Mixup (Zhang et al., ICLR 2018) for fine-tuning on a little clean data: a share of a batch's rows become
 * λ·x_i + (1 − λ)·x_j with j another row of the same batch and λ ~ U(½, 1), so the row's own image dominates. The
 * label is y_i with probability λ and y_j otherwise — a one-sample unbiased estimate of mixup's λ-weighted
 * cross-entropy that keeps integer labels, so the engine's loss graph is unchanged. Polishing a repaired point with it
 * keeps clean accuracy and suppresses patch-trigger backdoors (bench/repair.md §5): a small pattern that flips the
 * class is never supported by blended clean images. Only real-valued inputs mix (token ids do not).
 */
import { WeightscopeError } from '../errors.js';
import type { Rng } from '../util/random.js';
import type { Batch } from './dataset.js';

/** The mixed batch (a new one; `b` is untouched). share = probability that a row is mixed, in [0, 1]. */
export function mixupBatch(b: Batch, share: number, rng: Rng): Batch {
  if (!(share >= 0 && share <= 1)) throw new WeightscopeError('invalid-input', `mixup share must be in [0, 1], got ${share}`);
  if (share === 0) return b;
  if (b.x.type !== 'float32') throw new WeightscopeError('invalid-input', 'mixup needs real-valued inputs; token ids cannot be blended');
  if (!b.y) throw new WeightscopeError('invalid-input', 'mixup needs class labels');
  const src = b.x.data as Float32Array;
  const labels = b.y.data as BigInt64Array;
  const row = src.length / b.size;
  const x = Float32Array.from(src);
  const y = BigInt64Array.from(labels);
  for (let i = 0; i < b.size; i++) {
    if (rng.uniform() >= share) continue;
    const j = rng.int(b.size);
    const lam = 0.5 + 0.5 * rng.uniform();
    for (let k = 0; k < row; k++) x[i * row + k] = lam * src[i * row + k] + (1 - lam) * src[j * row + k];
    if (rng.uniform() >= lam) y[i] = labels[j];
  }
  return { x: { type: 'float32', data: x, dims: b.x.dims }, y: { type: 'int64', data: y, dims: b.y.dims }, size: b.size };
}
