import type { Rng } from '../../util/random.js';
import { type HvOperator, dot, norm, normalizePyHessian, orthogonalizeInPlace } from './operator.js';

export interface TopEigenOptions {
  k: number;
  maxIter: number;
  tol: number;
  rng: Rng;
  onIteration?: (eigenIndex: number, iteration: number, value: number) => void;
}

export interface TopEigenResult {
  values: number[];
  vectors: Float64Array[];
  /** Hv products used per eigenvalue. */
  iterations: number[];
  /** ‖Hv − λv‖ for each returned (λ, v), v unit. */
  residuals: number[];
}

/**
 * PyHessian's `eigenvalues()`: power iteration with projection deflation, stopping when the Rayleigh quotient's
 * relative change is below tol. As in PyHessian the value returned is the previous iteration's quotient and the
 * vector is the normalised last Hv; the residual is computed for that pair with one extra Hv.
 */
export async function powerIteration(op: HvOperator, opts: TopEigenOptions): Promise<TopEigenResult> {
  const values: number[] = [];
  const vectors: Float64Array[] = [];
  const iterations: number[] = [];
  const residuals: number[] = [];
  for (let j = 0; j < opts.k; j++) {
    let v: Float64Array = new Float64Array(op.dim);
    for (let i = 0; i < v.length; i++) v[i] = opts.rng.normal();
    normalizePyHessian(v);
    let prev: number | null = null;
    let used = 0;
    for (let it = 0; it < opts.maxIter; it++) {
      orthogonalizeInPlace(v, vectors);
      normalizePyHessian(v);
      const w = await op.apply(v);
      used++;
      // Rayleigh quotient over ⟨v,v⟩: PyHessian's ‖v‖+1e-6 normalisation would bias it by −2e-6 relative.
      const mu = dot(w, v) / dot(v, v);
      v = normalizePyHessian(w);
      opts.onIteration?.(j, it, mu);
      if (prev === null) prev = mu;
      else if (Math.abs(prev - mu) / (Math.abs(prev) + 1e-6) < opts.tol) break;
      else prev = mu;
    }
    const lambda = prev ?? 0;
    const hv = await op.apply(v);
    const r = hv.slice();
    for (let i = 0; i < r.length; i++) r[i] -= lambda * v[i];
    values.push(lambda);
    vectors.push(v);
    iterations.push(used);
    residuals.push(norm(r) / Math.max(norm(v), 1e-300));
  }
  return { values, vectors, iterations, residuals };
}
