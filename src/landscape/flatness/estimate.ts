/**
 * Local entropy (the L2O flatness paper's "local entropy", Chaudhari et al.'s Entropy-SGD quantity)
 * F(w; γ) = log E_{ε∼N(0, I/γ)} exp(−L(w + ε)) from K sampled losses: the log-mean-exp, with the delta-method
 * standard error sd(e^{−L})/(√K·mean(e^{−L})) — both computed on e^{−L − max(−L)}, so no exponential overflows.
 */
import { WeightscopeError } from '../../errors.js';

export interface EntropyEstimate {
  readonly local_entropy: number;
  readonly stderr: number;
  /** Plain mean of the K perturbed losses (≥ −local_entropy, by Jensen). */
  readonly mean_perturbed_loss: number;
}

export function localEntropyEstimate(losses: ArrayLike<number>): EntropyEstimate {
  const K = losses.length;
  if (K < 2) throw new WeightscopeError('invalid-input', `local entropy needs at least 2 draws, got ${K}`);
  let max = -Infinity;
  let mean = 0;
  for (let k = 0; k < K; k++) {
    const l = losses[k];
    if (Number.isNaN(l)) throw new WeightscopeError('numerical', `the perturbed loss of draw ${k} is NaN`);
    max = Math.max(max, -l);
    mean += l / K;
  }
  if (!Number.isFinite(max))
    throw new WeightscopeError('numerical', 'every perturbed loss is infinite: the perturbations are too large (raise gamma)');
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.exp(-losses[k] - max);
  const m = s / K;
  let v = 0;
  for (let k = 0; k < K; k++) v += (Math.exp(-losses[k] - max) - m) ** 2;
  const sd = Math.sqrt(v / (K - 1));
  return { local_entropy: max + Math.log(m), stderr: sd / (Math.sqrt(K) * m), mean_perturbed_loss: mean };
}
