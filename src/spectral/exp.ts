/**
 * Exponential tail fit (the KDD'23 EXP metric): p(x) = λ e^(−λ(x − xmin)) on x ≥ xmin, λ = 1/(mean(x) − xmin), the
 * exact MLE (powerlaw 1.5 reaches it only to Nelder–Mead precision). xmin is chosen over the same xmin_peak
 * candidates as the E-TPL fit by minimum KS distance (powerlaw's definition; CDF truncated at xmax for 'kdd').
 */
import type { ExpFit } from './types.js';
import { firstMinimum } from '../numerics/first-min.js';
import { tailCandidates } from './etpl.js';
import type { XminRule } from './xmin.js';

export interface ExpOptions {
  /** 'ww' (default, same as the E-TPL fit): WW's xmin_peak range, xmax None; 'kdd' (the KDD'23 EXP recipe,
   *  the only published reference): (0.95p, 1.05p), xmax = max λ. */
  xminRule?: XminRule;
  thresh?: number;
}

export interface ExpResult extends ExpFit {
  loglik: number | null;
  n_tail: number;
  num_candidates: number;
}

/** KS distance of the exponential with rate λ on a sorted tail (tail[0] = xmin); see etplKS for the conventions. */
export function expKS(tail: ArrayLike<number>, lambda: number, xmax: number | null, stopAt = Infinity): number {
  const n = tail.length;
  const xmin = tail[0];
  const norm = xmax === null ? 1 : -Math.expm1(-lambda * (xmax - xmin));
  let dPlus = -Infinity;
  let dMinus = -Infinity;
  for (let k = 0; k < n; k++) {
    if (k > 0 && tail[k] === tail[k - 1]) continue;
    const T = -Math.expm1(-lambda * (tail[k] - xmin)) / norm;
    const diff = T - k / n;
    if (diff > dPlus) dPlus = diff;
    if (-diff > dMinus) dMinus = -diff;
    if (Math.max(dPlus, dMinus) >= stopAt) break;
  }
  return Math.max(dPlus, dMinus);
}

function failedResult(reason: string, numCandidates = 0): ExpResult {
  return { lambda: null, xmin: null, D: null, loglik: null, status: 'failed', reason, n_tail: 0, num_candidates: numCandidates };
}

export function fitExponential(evals: Float64Array, opts: ExpOptions = {}): ExpResult {
  const prep = tailCandidates(evals, opts);
  if (typeof prep === 'string') return failedResult(prep);
  const { data, candidates, xmax, suf } = prep;
  const N = data.length;
  const lambdaAt = (i: number): number | null => {
    const excess = suf.sum[i] / (N - i) - data[i];
    return excess > 0 ? 1 / excess : null;
  };
  // candidates in order (one seed per candidate): a later candidate must be strictly better to win
  const found = firstMinimum(candidates.length, candidates.length, (c, inc) => {
    const lambda = lambdaAt(candidates[c]);
    return lambda === null ? null : expKS(data.subarray(candidates[c]), lambda, xmax, inc ? inc.value : Infinity);
  });
  const best = found ? { i: candidates[found.index], lambda: lambdaAt(candidates[found.index]) as number, D: found.value } : null;
  if (!best) return failedResult('no candidate xmin has a tail with two distinct values', candidates.length);
  const n = N - best.i;
  // Σ ln p = n ln λ − λ Σ(x − xmin) = n ln λ − n at the MLE
  const loglik = n * Math.log(best.lambda) - n;
  const status = best.lambda * data[N - 1] < 1e-6 ? 'bound' : 'ok';
  return { lambda: best.lambda, xmin: data[best.i], D: best.D, loglik, status, n_tail: n, num_candidates: candidates.length };
}
