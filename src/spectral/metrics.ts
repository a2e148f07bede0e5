/**
 * WeightWatcher 0.7.5.5's per-layer ESD columns (apply_esd / combined_eigenvalues) and norm metrics
 * (apply_norm_metrics), from eigenvalues λ = σ² of the (already scaled) layer matrix, zeros included.
 * Tiny negative eigenvalues (round-off of a Gram-matrix eigensolver) are treated as 0.
 */
import { plWarning } from './pl.js';

const F64_EPS = Number.EPSILON; // numpy.finfo(float64).eps
/** WW's EPSILON in matrix_entropy on a CPU run (6e-5 when CUDA is present). */
export const ENTROPY_EPS = 1e-10;
export const WEAK_RANK_TOL = 1e-6;

export interface NormMetrics {
  norm: number;
  log_norm: number;
  spectral_norm: number;
  log_spectral_norm: number;
  alpha_weighted: number;
  log_alpha_norm: number;
  stable_rank: number;
  matrix_rank: number;
  entropy: number;
  warning: string;
}

export interface EsdColumns {
  num_evals: number;
  lambda_max: number;
  sv_max: number;
  sv_min: number;
  rank_loss: number;
  weak_rank_loss: number;
}

// biome-ignore lint/complexity/useMathMinMax: Math.max would keep a NaN; this maps it to 0
const clamp0 = (v: number): number => (v > 0 ? v : 0);

/** numpy-style pairwise sum, so sums match WW's to the last bits more often than a running sum. */
function pairwiseSum(v: ArrayLike<number>, lo: number, hi: number, f: (x: number) => number): number {
  if (hi - lo <= 128) {
    let s = 0;
    for (let i = lo; i < hi; i++) s += f(v[i]);
    return s;
  }
  const mid = lo + Math.floor((hi - lo) / 2);
  return pairwiseSum(v, lo, mid, f) + pairwiseSum(v, mid, hi, f);
}

/** #{s > max(s)·N·eps} with s = √λ (numpy.linalg.matrix_rank's default tolerance, N = the larger dimension). */
export function matrixRank(evals: ArrayLike<number>, N: number): number {
  let smax = 0;
  for (let i = 0; i < evals.length; i++) smax = Math.max(smax, Math.sqrt(clamp0(evals[i])));
  const tol = smax * N * F64_EPS;
  let r = 0;
  for (let i = 0; i < evals.length; i++) if (Math.sqrt(clamp0(evals[i])) > tol) r++;
  return r;
}

/** WW's matrix entropy: p = λ/Σλ + EPS, H = −Σ p ln p / ln(rank + EPS) (p is not renormalised). */
export function matrixEntropy(evals: ArrayLike<number>, N: number, eps = ENTROPY_EPS): number {
  const rank = matrixRank(evals, N) + eps;
  const total = pairwiseSum(evals, 0, evals.length, clamp0);
  const h = pairwiseSum(evals, 0, evals.length, (v) => {
    const p = clamp0(v) / total + eps;
    return p * Math.log(p);
  });
  return -h / Math.log(rank);
}

/**
 * Norm metrics of one layer. `alpha` is the PL alpha (−1 for a failed fit, as WW does); N is the layer's larger
 * dimension (WW's ww_layer.N), used by the rank tolerance.
 */
export function normMetrics(evals: ArrayLike<number>, N: number, alpha: number): NormMetrics {
  const n = evals.length;
  const norm = pairwiseSum(evals, 0, n, clamp0);
  let spectral = 0;
  for (let i = 0; i < n; i++) spectral = Math.max(spectral, clamp0(evals[i]));
  const logSpectral = Math.log10(spectral);
  const alphaNorm = pairwiseSum(evals, 0, n, (v) => Math.pow(clamp0(v), alpha));
  return {
    norm,
    log_norm: Math.log10(norm),
    spectral_norm: spectral,
    log_spectral_norm: logSpectral,
    alpha_weighted: alpha * logSpectral,
    log_alpha_norm: Math.log10(alphaNorm),
    stable_rank: norm / spectral,
    matrix_rank: matrixRank(evals, N),
    entropy: matrixEntropy(evals, N),
    warning: plWarning(alpha),
  };
}

/**
 * The ESD columns of a layer from its per-slice eigenvalues (one slice for Dense/Conv1D/Embedding, rf for a pooled
 * Conv2D). sv_min is the max over slices of each slice's smallest singular value (a WW quirk); rank_loss sums each
 * slice's #sv − rank; weak_rank_loss counts pooled λ < tolerance.
 */
export function esdColumns(slices: readonly ArrayLike<number>[], N: number, tolerance = WEAK_RANK_TOL): EsdColumns {
  let num = 0;
  let svMax = 0;
  let svMin = 0;
  let rankLoss = 0;
  let weak = 0;
  let lmax = -Infinity;
  for (const ev of slices) {
    let sMin = Infinity;
    let sMax = 0;
    for (let i = 0; i < ev.length; i++) {
      const s = Math.sqrt(clamp0(ev[i]));
      if (s < sMin) sMin = s;
      if (s > sMax) sMax = s;
      if (ev[i] > lmax) lmax = ev[i];
      if (ev[i] < tolerance) weak++;
    }
    num += ev.length;
    svMax = Math.max(svMax, sMax);
    svMin = Math.max(svMin, sMin);
    rankLoss += ev.length - matrixRank(ev, N);
  }
  return { num_evals: num, lambda_max: lmax, sv_max: svMax, sv_min: svMin, rank_loss: rankLoss, weak_rank_loss: weak };
}
