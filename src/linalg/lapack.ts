/**
 * Symmetric eigenvalues through the system LAPACK (`dsyevd_`, Fortran ABI) loaded by koffi.
 * Search order and failure reasons are in native.ts; set WEIGHTSCOPE_LAPACK to force a library.
 */
import { WeightscopeError } from '../errors.js';
import { nativeLinalg, nativeStatus } from './native.js';

export { nativeStatus as lapackStatus } from './native.js';

export function lapackAvailable(): boolean {
  return nativeLinalg() !== null;
}

/** Why LAPACK is not used ('' when it is). */
export function lapackUnavailableReason(): string {
  const s = nativeStatus();
  return s.available ? '' : s.reason;
}

/**
 * OpenBLAS threads for every BLAS/LAPACK call in this process (the setting is process-wide, shared by worker
 * threads). Use 1 when several workers each solve their own matrix, all cores for one big matrix.
 * Returns false when the library has no thread control (reference LAPACK) or is absent.
 */
export function setBlasThreads(n: number): boolean {
  const lib = nativeLinalg();
  if (!lib?.setThreads) return false;
  if (!Number.isInteger(n) || n < 1) throw new WeightscopeError('invalid-input', `BLAS threads must be a positive integer, got ${n}`);
  lib.setThreads(n);
  return true;
}

/** OpenBLAS's current thread count, or null when unknown. */
export function getBlasThreads(): number | null {
  const lib = nativeLinalg();
  return lib?.getThreads ? lib.getThreads() : null;
}

/**
 * Eigenvalues (ascending) of the symmetric n×n matrix `a` (full storage; only one triangle is read, so a
 * row-major or column-major buffer gives the same result). `a` is destroyed.
 */
export function dsyevdValuesInPlace(a: Float64Array, n: number): Float64Array {
  const lib = nativeLinalg();
  if (!lib) throw new WeightscopeError('device-unavailable', `LAPACK is not available: ${lapackUnavailableReason()}`);
  if (a.length < n * n) throw new WeightscopeError('shape-mismatch', `dsyevd: buffer holds ${a.length} values, need ${n * n}`);
  const w = new Float64Array(n);
  if (n === 0) return w;
  const N = Int32Array.of(n);
  const info = new Int32Array(1);
  // Workspace query (lwork = liwork = -1), then the real call.
  const wq = new Float64Array(1);
  const iwq = new Int32Array(1);
  lib.dsyevd('N', 'L', N, a, N, w, wq, Int32Array.of(-1), iwq, Int32Array.of(-1), info, 1, 1);
  if (info[0] !== 0) throw new WeightscopeError('numerical', `dsyevd workspace query failed (info=${info[0]})`);
  const lwork = Math.max(1, Math.ceil(wq[0]), 2 * n + 1);
  const liwork = Math.max(1, iwq[0]);
  const work = new Float64Array(lwork);
  const iwork = new Int32Array(liwork);
  lib.dsyevd('N', 'L', N, a, N, w, work, Int32Array.of(lwork), iwork, Int32Array.of(liwork), info, 1, 1);
  if (info[0] !== 0) {
    throw new WeightscopeError(
      'numerical',
      info[0] < 0 ? `dsyevd: argument ${-info[0]} invalid` : `dsyevd failed to converge (info=${info[0]})`,
    );
  }
  return w;
}
