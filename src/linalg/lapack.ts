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

/** Where a LAPACK eigensolve spent its time (seconds), for progress lines and the benchmarks. */
export interface EigenTimings {
  method: 'dsyevd' | '2stage';
  /** dense → tridiagonal (dsyevd) or dense → band (two-stage, BLAS-3). */
  reduce: number;
  /** band → tridiagonal (two-stage only: bulge chasing, memory-bound). */
  band: number;
  /** tridiagonal eigenvalues (dsterf, or inside dsyevd). */
  solve: number;
}

export type EigenMethod = 'auto' | 'dsyevd' | '2stage';

/**
 * From this order up the two-stage reduction beats dsyevd's one-stage dsytrd, whose half of BLAS-2 (dsymv) streams
 * the whole trailing matrix once per column. Measured with bench/eigen.bench.ts (`stages`) on the project's
 * 2-core machine, one thread per matrix: see docs/llm-scale.md.
 */
export const TWO_STAGE_MIN_N = 2048;

/** Band width of the two-stage reduction: wider bands make stage 1 faster and stage 2 (O(n²·kd)) slower. */
export function twoStageBandwidth(n: number): number {
  return n >= 3072 ? 64 : 32;
}

/** Eigenvalues (ascending) of the symmetric n×n matrix `a`; `method` 'auto' picks the faster reduction for n. */
export function lapackEigenvalues(a: Float64Array, n: number, opts: { method?: EigenMethod; timings?: EigenTimings } = {}): Float64Array {
  const lib = nativeLinalg();
  if (!lib) throw new WeightscopeError('device-unavailable', `LAPACK is not available: ${lapackUnavailableReason()}`);
  const method = opts.method ?? 'auto';
  const two = method === '2stage' || (method === 'auto' && n >= TWO_STAGE_MIN_N && lib.twoStage !== null);
  if (!two) {
    const t0 = performance.now();
    const w = dsyevdValuesInPlace(a, n);
    if (opts.timings) Object.assign(opts.timings, { method: 'dsyevd', reduce: (performance.now() - t0) / 1000, band: 0, solve: 0 });
    return w;
  }
  return twoStageValuesInPlace(a, n, twoStageBandwidth(n), opts.timings);
}

/** An exact power of two that brings max|a| into [2^-480, 2^480] (LAPACK's dsyevd scales the same way). */
function safeScale(a: Float64Array, n: number): number {
  let amax = 0;
  for (let i = 0; i < n * n; i++) {
    const v = Math.abs(a[i]);
    if (v > amax) amax = v;
  }
  if (amax === 0 || (amax > 2 ** -480 && amax < 2 ** 480)) return 1;
  const s = 2 ** -Math.round(Math.log2(amax));
  for (let i = 0; i < n * n; i++) a[i] *= s;
  return s;
}

/**
 * Eigenvalues (ascending) by the two-stage reduction with band width kd: dsytrd_sy2sb, dsytrd_sb2st, dsterf —
 * what LAPACK's dsyevd_2stage does with JOBZ='N', called stage by stage so each stage can be timed. `a` is
 * destroyed.
 */
export function twoStageValuesInPlace(a: Float64Array, n: number, kd: number, timings?: EigenTimings): Float64Array {
  const lib = nativeLinalg();
  const ts = lib?.twoStage;
  if (!ts)
    throw new WeightscopeError(
      'device-unavailable',
      `LAPACK two-stage reduction is not available (${lib ? lib.path : lapackUnavailableReason()})`,
    );
  if (a.length < n * n) throw new WeightscopeError('shape-mismatch', `two-stage: buffer holds ${a.length} values, need ${n * n}`);
  const d = new Float64Array(n);
  if (n === 0) return d;
  const scale = safeScale(a, n);
  const N = Int32Array.of(n);
  const KD = Int32Array.of(Math.max(1, Math.min(kd, n - 1)));
  const ldab = KD[0] + 1;
  const LDAB = Int32Array.of(ldab);
  const info = new Int32Array(1);
  const check = (what: string): void => {
    if (info[0] !== 0) throw new WeightscopeError('numerical', `${what} failed (info=${info[0]})`);
  };
  const ab = new Float64Array(ldab * n);
  const tau = new Float64Array(n);
  const q = new Float64Array(1);
  ts.sy2sb('L', N, KD, a, N, ab, LDAB, tau, q, Int32Array.of(-1), info, 1);
  check('dsytrd_sy2sb workspace query');
  let work = new Float64Array(Math.max(1, Math.ceil(q[0])));
  const t0 = performance.now();
  ts.sy2sb('L', N, KD, a, N, ab, LDAB, tau, work, Int32Array.of(work.length), info, 1);
  check('dsytrd_sy2sb');
  const t1 = performance.now();
  const e = new Float64Array(n);
  const hq = new Float64Array(1);
  ts.sb2st('Y', 'N', 'L', N, KD, ab, LDAB, d, e, hq, Int32Array.of(-1), q, Int32Array.of(-1), info, 1, 1, 1);
  check('dsytrd_sb2st workspace query');
  const hous = new Float64Array(Math.max(1, Math.ceil(hq[0])));
  work = new Float64Array(Math.max(1, Math.ceil(q[0])));
  const t2 = performance.now();
  ts.sb2st('Y', 'N', 'L', N, KD, ab, LDAB, d, e, hous, Int32Array.of(hous.length), work, Int32Array.of(work.length), info, 1, 1, 1);
  check('dsytrd_sb2st');
  const t3 = performance.now();
  ts.dsterf(N, d, e, info);
  if (info[0] !== 0) throw new WeightscopeError('numerical', `dsterf failed to converge (info=${info[0]})`);
  const t4 = performance.now();
  if (scale !== 1) for (let i = 0; i < n; i++) d[i] /= scale;
  if (timings) Object.assign(timings, { method: '2stage', reduce: (t1 - t0) / 1000, band: (t3 - t2) / 1000, solve: (t4 - t3) / 1000 });
  return d;
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
