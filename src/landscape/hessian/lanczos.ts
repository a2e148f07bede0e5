import { tridiagonalEigen } from '../../linalg/tridiagonal.js';
import { type HvOperator, dot, norm, orthogonalizeInPlace } from './operator.js';

export interface LanczosRun {
  alpha: number[];
  beta: number[]; // beta[0] = 0; beta[i] couples steps i−1 and i
  basis: Float64Array[];
  /** ‖w‖ after the last step: the residual norm factor of every Ritz pair. */
  lastBeta: number;
}

/**
 * Lanczos with full re-orthogonalisation (two Gram–Schmidt passes: one pass loses orthogonality in float64 once
 * Ritz values converge). Starts from the unit vector v0. Stops early on an invariant subspace (β ≈ 0) unless
 * `restartOnBreakdown` supplies a fresh direction, as PyHessian's SLQ does.
 */
export async function lanczos(
  op: HvOperator,
  v0: Float64Array,
  steps: number,
  opts: { restart?: () => Float64Array; keepBasis?: boolean; shouldStop?: (run: LanczosRun) => boolean } = {},
): Promise<LanczosRun> {
  const alpha: number[] = [];
  const beta: number[] = [0];
  const basis: Float64Array[] = [];
  let v = v0;
  let w: Float64Array = new Float64Array(op.dim);
  let lastBeta = 0;
  for (let i = 0; i < steps; i++) {
    if (i > 0) {
      const b = norm(w);
      let next: Float64Array;
      if (b > 1e-10 * Math.max(1, Math.abs(alpha[0]))) {
        next = w;
        orthogonalizeInPlace(next, basis);
        orthogonalizeInPlace(next, basis);
      } else if (opts.restart) {
        next = opts.restart();
        orthogonalizeInPlace(next, basis);
        orthogonalizeInPlace(next, basis);
      } else {
        lastBeta = 0;
        break;
      }
      const nb = norm(next);
      for (let j = 0; j < next.length; j++) next[j] /= nb;
      beta.push(b);
      v = next;
    }
    basis.push(v);
    const hv = await op.apply(v);
    const a = dot(hv, v);
    alpha.push(a);
    w = hv;
    for (let j = 0; j < w.length; j++) w[j] -= a * v[j];
    if (i > 0) {
      const prev = basis[i - 1];
      const b = beta[i];
      for (let j = 0; j < w.length; j++) w[j] -= b * prev[j];
    }
    orthogonalizeInPlace(w, basis);
    lastBeta = norm(w);
    const run: LanczosRun = { alpha, beta, basis, lastBeta };
    if (opts.shouldStop?.(run)) break;
  }
  return { alpha, beta, basis: opts.keepBasis === false ? [] : basis, lastBeta };
}

export interface LanczosTopK {
  values: number[];
  vectors: Float64Array[];
  residuals: number[];
  /** Hv products used in total. */
  iterations: number;
}

/**
 * Top-k eigenvalues (largest algebraic) by Lanczos: iterate until every wanted Ritz pair's residual
 * β_m·|last component| is below tol·|θ| (or maxIter steps). Residuals reported are explicit ‖Hv − θv‖.
 */
export async function lanczosTopK(op: HvOperator, v0: Float64Array, k: number, maxIter: number, tol: number): Promise<LanczosTopK> {
  const steps = Math.min(maxIter, op.dim);
  const converged = (run: LanczosRun): boolean => {
    const m = run.alpha.length;
    if (m < Math.min(k + 1, op.dim)) return m >= op.dim;
    const T = tridiagonalEigen(run.alpha, run.beta);
    for (let j = m - 1; j >= m - Math.min(k, m); j--) {
      const last = T.vectors[j * m + (m - 1)];
      if (Math.abs(run.lastBeta * last) > tol * Math.max(Math.abs(T.values[j]), 1e-12)) return false;
    }
    return true;
  };
  const run = await lanczos(op, v0, steps, { shouldStop: converged });
  const m = run.alpha.length;
  const T = tridiagonalEigen(run.alpha, run.beta);
  const values: number[] = [];
  const vectors: Float64Array[] = [];
  const residuals: number[] = [];
  for (let j = m - 1; j >= Math.max(0, m - k); j--) {
    const x = new Float64Array(op.dim);
    for (let i = 0; i < m; i++) {
      const c = T.vectors[j * m + i];
      const b = run.basis[i];
      for (let p = 0; p < x.length; p++) x[p] += c * b[p];
    }
    const hx = await op.apply(x);
    for (let p = 0; p < hx.length; p++) hx[p] -= T.values[j] * x[p];
    values.push(T.values[j]);
    vectors.push(x);
    residuals.push(norm(hx));
  }
  return { values, vectors, residuals, iterations: m + values.length };
}
