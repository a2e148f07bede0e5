/**
 * Loads the system BLAS/LAPACK (OpenBLAS or reference LAPACK) through koffi, once per thread.
 * Nothing here is required: every caller has a pure-TypeScript fallback, and `nativeStatus()` says why the
 * native path is off (so tests and the CLI can report it instead of silently running 10× slower).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { arch } from 'node:os';

/** koffi's function objects: callable with any arguments; typed at the call sites in this folder. */
type NativeFn = (...args: unknown[]) => unknown;
interface KoffiLib {
  func(definition: string): NativeFn;
}
interface KoffiModule {
  load(path: string): KoffiLib;
}

export interface NativeLinalg {
  /** The shared object that provided LAPACK's dsyevd_. */
  path: string;
  /** Fortran LAPACK: eigenvalues (and optionally vectors) of a symmetric matrix, divide and conquer. */
  dsyevd: NativeFn;
  /** Fortran BLAS symmetric rank-k update, or null when the library does not export it. */
  dsyrk: NativeFn | null;
  /**
   * LAPACK ≥ 3.7's two-stage tridiagonal reduction, eigenvalues only: dense → band (dsytrd_sy2sb, BLAS-3),
   * band → tridiagonal (dsytrd_sb2st, bulge chasing), then dsterf. Null when any of the three is missing.
   */
  twoStage: { sy2sb: NativeFn; sb2st: NativeFn; dsterf: NativeFn } | null;
  /** OpenBLAS thread control, or null for non-OpenBLAS libraries. */
  setThreads: ((n: number) => void) | null;
  getThreads: (() => number) | null;
}

export type NativeStatus = { available: true; path: string } | { available: false; reason: string };

const DSYEVD =
  'void dsyevd_(const char *jobz, const char *uplo, const int *n, _Inout_ double *a, const int *lda, ' +
  '_Out_ double *w, _Out_ double *work, const int *lwork, _Out_ int *iwork, const int *liwork, _Out_ int *info, ' +
  'size_t jobz_len, size_t uplo_len)';
const SY2SB =
  'void dsytrd_sy2sb_(const char *uplo, const int *n, const int *kd, _Inout_ double *a, const int *lda, ' +
  '_Out_ double *ab, const int *ldab, _Out_ double *tau, _Out_ double *work, const int *lwork, _Out_ int *info, ' +
  'size_t uplo_len)';
const SB2ST =
  'void dsytrd_sb2st_(const char *stage1, const char *vect, const char *uplo, const int *n, const int *kd, ' +
  '_Inout_ double *ab, const int *ldab, _Out_ double *d, _Out_ double *e, _Out_ double *hous, const int *lhous, ' +
  '_Out_ double *work, const int *lwork, _Out_ int *info, size_t stage1_len, size_t vect_len, size_t uplo_len)';
const DSTERF = 'void dsterf_(const int *n, _Inout_ double *d, _Inout_ double *e, _Out_ int *info)';
const DSYRK =
  'void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha, ' +
  'const double *a, const int *lda, const double *beta, _Inout_ double *c, const int *ldc, ' +
  'size_t uplo_len, size_t trans_len)';

/** Where to look, in order: the env override, OpenBLAS (has thread control), then generic LAPACK. */
export function candidatePaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  const override = env.WEIGHTSCOPE_LAPACK;
  if (override) out.push(override);
  const triplets = arch() === 'arm64' ? ['aarch64-linux-gnu'] : ['x86_64-linux-gnu'];
  for (const t of triplets) {
    out.push(
      `/usr/lib/${t}/libopenblas.so.0`,
      `/lib/${t}/libopenblas.so.0`,
      `/usr/lib/${t}/openblas-pthread/libopenblas.so.0`,
      `/usr/lib/${t}/openblas-openmp/libopenblas.so.0`,
    );
  }
  out.push('/usr/lib64/libopenblas.so.0', '/usr/lib/libopenblas.so.0', 'libopenblas.so.0', 'libopenblas.so');
  for (const t of triplets) out.push(`/usr/lib/${t}/liblapack.so.3`, `/lib/${t}/liblapack.so.3`);
  out.push('/usr/lib64/liblapack.so.3', '/usr/lib/liblapack.so.3', 'liblapack.so.3', 'liblapack.so');
  return [...new Set(out)];
}

let cached: NativeLinalg | null | undefined;
let cachedReason = '';

function tryLoad(koffi: KoffiModule, path: string): NativeLinalg | string {
  // Absolute paths that do not exist are skipped quietly; bare sonames go through the dynamic loader.
  if (path.startsWith('/') && !existsSync(path)) return `${path}: not found`;
  let lib: KoffiLib;
  try {
    lib = koffi.load(path);
  } catch (e) {
    return `${path}: ${(e as Error).message}`;
  }
  let dsyevd: NativeFn;
  try {
    dsyevd = lib.func(DSYEVD);
  } catch {
    return `${path}: no dsyevd_ symbol`;
  }
  const optional = (def: string): NativeFn | null => {
    try {
      return lib.func(def);
    } catch {
      return null;
    }
  };
  let dsyrk = optional(DSYRK);
  if (!dsyrk && !path.includes('openblas')) {
    // Reference liblapack links libblas; dsyrk_ lives there.
    try {
      dsyrk = koffi.load(path.replace(/liblapack(\.so.*)$/, 'libblas$1')).func(DSYRK);
    } catch {
      dsyrk = null;
    }
  }
  const sy2sb = optional(SY2SB);
  const sb2st = optional(SB2ST);
  const dsterf = optional(DSTERF);
  const set = optional('void openblas_set_num_threads(int n)');
  const get = optional('int openblas_get_num_threads()');
  return {
    path,
    dsyevd,
    dsyrk,
    twoStage: sy2sb && sb2st && dsterf ? { sy2sb, sb2st, dsterf } : null,
    setThreads: set ? (n: number) => void set(n) : null,
    getThreads: get ? () => get() as number : null,
  };
}

/** The loaded native library, or null (then `nativeStatus()` has the reason). Cached per thread. */
export function nativeLinalg(): NativeLinalg | null {
  if (cached !== undefined) return cached;
  if (process.env.WEIGHTSCOPE_NO_LAPACK === '1') {
    cachedReason = 'disabled by WEIGHTSCOPE_NO_LAPACK=1';
    cached = null;
    return cached;
  }
  let koffi: KoffiModule;
  try {
    koffi = createRequire(import.meta.url)('koffi') as KoffiModule;
  } catch (e) {
    cachedReason = `koffi could not be loaded: ${(e as Error).message}`;
    cached = null;
    return cached;
  }
  const failures: string[] = [];
  for (const p of candidatePaths()) {
    const r = tryLoad(koffi, p);
    if (typeof r !== 'string') {
      cached = r;
      return cached;
    }
    if (!r.endsWith('not found')) failures.push(r);
  }
  cachedReason =
    'no LAPACK library found (install OpenBLAS: `apt-get install -y libopenblas0-pthread`, or set ' +
    'WEIGHTSCOPE_LAPACK to a shared object exporting dsyevd_)' +
    (failures.length ? `; tried: ${failures.join('; ')}` : '');
  cached = null;
  return cached;
}

export function nativeStatus(): NativeStatus {
  const n = nativeLinalg();
  return n ? { available: true, path: n.path } : { available: false, reason: cachedReason };
}
