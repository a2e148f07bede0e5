/**
 * One entry point for spectra: eigenvalues (ascending, float64, unclamped) of a symmetric matrix, or of the
 * smaller Gram matrix of W. Backend 'auto' uses system LAPACK/BLAS when it loads, else pure TypeScript.
 */
import { WeightscopeError } from '../errors.js';
import { checkMatrix, gram } from './gram.js';
import { eigenvaluesTs } from './eigh-ts.js';
import { lapackAvailable, lapackEigenvalues, lapackUnavailableReason, type EigenMethod, type EigenTimings } from './lapack.js';

export type EigenBackend = 'auto' | 'lapack' | 'ts';

export interface EigenOptions {
  backend?: EigenBackend;
  /** Allow the input buffer to be used as workspace (it is destroyed). Default false. */
  overwrite?: boolean;
  /** LAPACK only: one-stage dsyevd, the two-stage reduction, or the faster one for the order ('auto'). */
  method?: EigenMethod;
  /** LAPACK only: filled with where the time went. */
  timings?: EigenTimings;
}

/** Which backend 'auto' (or an explicit choice) resolves to; throws when 'lapack' is asked for and absent. */
export function resolveBackend(backend: EigenBackend = 'auto'): 'lapack' | 'ts' {
  if (backend === 'ts') return 'ts';
  if (lapackAvailable()) return 'lapack';
  if (backend === 'lapack') {
    throw new WeightscopeError('device-unavailable', `LAPACK backend requested but not available: ${lapackUnavailableReason()}`);
  }
  return 'ts';
}

function firstNonFinite(a: Float64Array, len: number): number {
  for (let i = 0; i < len; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** Eigenvalues, ascending, of the symmetric n×n row-major matrix G (lower triangle is read). */
export function symmetricEigenvalues(G: Float64Array, n: number, opts: EigenOptions = {}): Float64Array {
  if (!Number.isInteger(n) || n < 0) throw new WeightscopeError('shape-mismatch', `matrix order must be a non-negative integer, got ${n}`);
  if (G.length !== n * n) throw new WeightscopeError('shape-mismatch', `symmetric ${n}×${n} matrix needs ${n * n} values, got ${G.length}`);
  // NaN/Inf would make either solver spin to its iteration limit: refuse up front (O(n²) against O(n³)).
  const bad = firstNonFinite(G, G.length);
  if (bad >= 0) throw new WeightscopeError('numerical', `matrix has a non-finite value (${G[bad]}) at index ${bad}`);
  const backend = resolveBackend(opts.backend);
  if (backend === 'lapack') return lapackEigenvalues(opts.overwrite ? G : G.slice(), n, { method: opts.method, timings: opts.timings });
  return eigenvaluesTs(G, n, { overwrite: opts.overwrite ?? false });
}

/**
 * Eigenvalues (ascending) of WᵀW if cols ≤ rows else WWᵀ, i.e. the squared singular values of W
 * (min(rows, cols) of them). Round-off can leave tiny negative values: they are returned as they are.
 * With backend 'lapack' the Gram product uses BLAS dsyrk_ too; with 'ts' everything is TypeScript.
 */
export function matrixEigenvalues(W: Float64Array, rows: number, cols: number, opts: EigenOptions = {}): Float64Array {
  checkMatrix(W, rows, cols);
  const bad = firstNonFinite(W, W.length);
  if (bad >= 0) {
    throw new WeightscopeError(
      'numerical',
      `matrix has a non-finite value (${W[bad]}) at row ${Math.floor(bad / cols)}, column ${bad % cols}`,
    );
  }
  const backend = resolveBackend(opts.backend);
  const { G, n } = gram(W, rows, cols, { backend: backend === 'lapack' ? 'auto' : 'ts' });
  return symmetricEigenvalues(G, n, { backend, overwrite: true });
}
