/**
 * HT-SR eigenvalues on an NVIDIA GPU (`analyze --device cuda`): the smaller Gram matrix of W by cuBLAS `dsyrk` and
 * its eigenvalues only by cuSOLVER `syevd`, in float64, one matrix at a time — the numbers of gram.ts + lapack.ts up
 * to summation order. The CUDA libraries are the machine's own (PyTorch's nvidia-* wheels ship libcudart, libcublas
 * and libcusolver; so does the CUDA toolkit), loaded with koffi; nothing is bundled or compiled.
 *
 * Where they are looked for: the folders in WEIGHTSCOPE_CUDA_LIBS (':'-separated), /usr/local/cuda's, then the
 * dynamic loader's own paths. Every call runs on koffi's async thread, so the main thread reads and decodes the next
 * tensor (and fits the last spectrum) while the GPU works; calls are serialised, the handles are not thread-safe.
 *
 * Over 400 lines because the koffi declarations of three libraries and their one call sequence belong together.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { WeightscopeError } from '../errors.js';
import { checkMatrix } from './gram.js';

/** koffi's function objects: callable with any arguments, `.async` runs them off the main thread. */
interface NativeFn {
  (...args: unknown[]): unknown;
  async(...args: unknown[]): void;
}
interface KoffiLib {
  func(definition: string): NativeFn;
}
interface KoffiModule {
  load(path: string): KoffiLib;
}

/** Device pointers and handles as koffi returns them (opaque). */
type Ptr = unknown;

// The C enums used below (cuda_runtime_api.h, cublas_api.h, cusolver_common.h, library_types.h).
const H2D = 1;
const D2H = 2;
const FILL_LOWER = 0;
const OP_N = 0;
const OP_T = 1;
const EIG_NOVECTOR = 0;
const CUDA_R_64F = 1;
const CUDA_ERROR_MEMORY = 2;

/** One library: its soname stem and the majors tried, newest first (CUDA 13 and 12). */
const LIBS = {
  cudart: { stem: 'libcudart.so', majors: ['13', '12'] },
  cublas: { stem: 'libcublas.so', majors: ['13', '12'] },
  cusolver: { stem: 'libcusolver.so', majors: ['12', '11'] },
} as const;
type LibName = keyof typeof LIBS;

export interface CudaLibs {
  readonly cudart: string;
  readonly cublas: string;
  readonly cusolver: string;
}

/** Folders to search: WEIGHTSCOPE_CUDA_LIBS first, then the CUDA toolkit's usual places. */
export function cudaSearchFolders(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env.WEIGHTSCOPE_CUDA_LIBS ?? '').split(':').filter(Boolean);
  return [...new Set([...fromEnv, '/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib'])];
}

/** `libX.so.N[.M…]` files of a folder, newest version first. */
function versionsIn(folder: string, stem: string): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const version = (f: string) => f.slice(stem.length).split('.').filter(Boolean).map(Number);
  return names
    .filter((f) => f.startsWith(stem) && /^(\.\d+)*$/.test(f.slice(stem.length)))
    .sort((a, b) => {
      const va = version(a),
        vb = version(b);
      for (let i = 0; i < Math.max(va.length, vb.length); i++) if ((va[i] ?? -1) !== (vb[i] ?? -1)) return (vb[i] ?? -1) - (va[i] ?? -1);
      return 0;
    })
    .map((f) => join(folder, f));
}

/**
 * Candidate paths of each library: the first folder holding libcusolver gives all three (one CUDA release, as its
 * libraries must match), then bare sonames for the dynamic loader.
 */
export function cudaCandidates(env: NodeJS.ProcessEnv = process.env): Record<LibName, string[]> {
  const out = { cudart: [] as string[], cublas: [] as string[], cusolver: [] as string[] };
  for (const folder of cudaSearchFolders(env)) {
    for (const name of Object.keys(LIBS) as LibName[]) out[name].push(...versionsIn(folder, LIBS[name].stem));
  }
  for (const name of Object.keys(LIBS) as LibName[]) out[name].push(...LIBS[name].majors.map((m) => `${LIBS[name].stem}.${m}`));
  return out;
}

interface Bound {
  libs: CudaLibs;
  getDeviceCount: NativeFn;
  getErrorName: NativeFn;
  malloc: NativeFn;
  free: NativeFn;
  memcpy: NativeFn;
  memGetInfo: NativeFn;
  deviceName: (() => string) | null;
  cublasCreate: NativeFn;
  cublasDestroy: NativeFn;
  dsyrk: NativeFn;
  solverCreate: NativeFn;
  solverDestroy: NativeFn;
  /** The 64-bit generic API (CUDA ≥ 11.1), preferred; the legacy Dsyevd when a library lacks it. */
  x: { createParams: NativeFn; destroyParams: NativeFn; bufferSize: NativeFn; syevd: NativeFn } | null;
  legacy: { bufferSize: NativeFn; syevd: NativeFn } | null;
}

function loadKoffi(): KoffiModule {
  try {
    return createRequire(import.meta.url)('koffi') as KoffiModule;
  } catch (e) {
    throw unavailable(`koffi could not be loaded: ${(e as Error).message}`);
  }
}

function unavailable(why: string): WeightscopeError {
  return new WeightscopeError('device-unavailable', `device 'cuda' is not available for eigenvalues: ${why}`);
}

/** The first candidate of `name` that loads, or the reasons none did. */
function loadFirst(koffi: KoffiModule, name: LibName, paths: readonly string[]): { lib: KoffiLib; path: string } | string[] {
  const failures: string[] = [];
  for (const p of paths) {
    if (p.startsWith('/') && !existsSync(p)) continue;
    try {
      return { lib: koffi.load(p), path: p };
    } catch (e) {
      // A bare soname the loader does not know is the ordinary "not here" case; anything else is worth showing.
      const msg = (e as Error).message;
      if (p.startsWith('/') || !/cannot open shared object file/.test(msg)) failures.push(`${p}: ${msg}`);
    }
  }
  return failures.length ? failures : [`${LIBS[name].stem} not found`];
}

function optional(lib: KoffiLib, def: string): NativeFn | null {
  try {
    return lib.func(def);
  } catch {
    return null;
  }
}

function bind(env: NodeJS.ProcessEnv): Bound {
  const koffi = loadKoffi();
  const cands = cudaCandidates(env);
  const loaded = {} as Record<LibName, { lib: KoffiLib; path: string }>;
  // cuSOLVER first: it is the one a machine without CUDA most plainly lacks, so the error names it.
  for (const name of ['cusolver', 'cublas', 'cudart'] as const) {
    const r = loadFirst(koffi, name, cands[name]);
    if (Array.isArray(r)) {
      throw unavailable(
        `${r.join('; ')} (looked in ${cudaSearchFolders(env).join(', ')} and the dynamic loader's paths). Set ` +
          "WEIGHTSCOPE_CUDA_LIBS to the folder(s) holding libcudart, libcublas and libcusolver, e.g. PyTorch's " +
          'site-packages/nvidia/cu13/lib',
      );
    }
    loaded[name] = r;
  }
  const { cudart, cublas, cusolver } = { cudart: loaded.cudart.lib, cublas: loaded.cublas.lib, cusolver: loaded.cusolver.lib };
  try {
    const props =
      optional(cudart, 'int cudaGetDeviceProperties_v2(void *prop, int device)') ??
      optional(cudart, 'int cudaGetDeviceProperties(void *prop, int device)');
    const x = optional(
      cusolver,
      'int cusolverDnXsyevd(void *h, void *params, int jobz, int uplo, int64_t n, int typeA, void *A, int64_t lda, int typeW, void *W, int computeType, void *bufDev, size_t devBytes, void *bufHost, size_t hostBytes, void *info)',
    );
    const legacy = optional(
      cusolver,
      'int cusolverDnDsyevd(void *h, int jobz, int uplo, int n, void *A, int lda, void *W, void *work, int lwork, void *info)',
    );
    if (!x && !legacy) throw unavailable(`${loaded.cusolver.path} exports neither cusolverDnXsyevd nor cusolverDnDsyevd`);
    return {
      libs: { cudart: loaded.cudart.path, cublas: loaded.cublas.path, cusolver: loaded.cusolver.path },
      getDeviceCount: cudart.func('int cudaGetDeviceCount(_Out_ int *count)'),
      getErrorName: cudart.func('const char *cudaGetErrorName(int err)'),
      malloc: cudart.func('int cudaMalloc(_Out_ void **ptr, size_t size)'),
      free: cudart.func('int cudaFree(void *ptr)'),
      memcpy: cudart.func('int cudaMemcpy(void *dst, void *src, size_t count, int kind)'),
      memGetInfo: cudart.func('int cudaMemGetInfo(_Out_ size_t *free, _Out_ size_t *total)'),
      // cudaDeviceProp starts with char name[256]; the struct is ~1 KB and grows between releases: 16 KB is ample.
      deviceName: props
        ? () => {
            const buf = new Uint8Array(16384);
            if (props(buf, 0) !== 0) return '';
            const end = buf.indexOf(0);
            return Buffer.from(buf.subarray(0, end < 0 ? 256 : Math.min(end, 256))).toString('utf8');
          }
        : null,
      cublasCreate: cublas.func('int cublasCreate_v2(_Out_ void **handle)'),
      cublasDestroy: cublas.func('int cublasDestroy_v2(void *handle)'),
      dsyrk: cublas.func(
        'int cublasDsyrk_v2(void *h, int uplo, int trans, int n, int k, void *alpha, void *A, int lda, void *beta, void *C, int ldc)',
      ),
      solverCreate: cusolver.func('int cusolverDnCreate(_Out_ void **handle)'),
      solverDestroy: cusolver.func('int cusolverDnDestroy(void *handle)'),
      x: x
        ? {
            createParams: cusolver.func('int cusolverDnCreateParams(_Out_ void **params)'),
            destroyParams: cusolver.func('int cusolverDnDestroyParams(void *params)'),
            bufferSize: cusolver.func(
              'int cusolverDnXsyevd_bufferSize(void *h, void *params, int jobz, int uplo, int64_t n, int typeA, void *A, int64_t lda, int typeW, void *W, int computeType, _Out_ size_t *devBytes, _Out_ size_t *hostBytes)',
            ),
            syevd: x,
          }
        : null,
      legacy: legacy
        ? {
            bufferSize: cusolver.func(
              'int cusolverDnDsyevd_bufferSize(void *h, int jobz, int uplo, int n, void *A, int lda, void *W, _Out_ int *lwork)',
            ),
            syevd: legacy,
          }
        : null,
    };
  } catch (e) {
    if (e instanceof WeightscopeError) throw e;
    throw unavailable(
      `the CUDA libraries loaded (${Object.values(loaded)
        .map((l) => l.path)
        .join(', ')}) but lack a function: ${(e as Error).message}`,
    );
  }
}

function callAsync(fn: NativeFn, ...args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => fn.async(...args, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res as number))));
}

/** A device buffer that only grows (analyze's matrices come in a handful of shapes). */
type BufferName = 'A' | 'G' | 'W' | 'work' | 'info';
interface DeviceBuffer {
  ptr: Ptr;
  bytes: number;
}

export interface CudaEigenInfo {
  readonly libs: CudaLibs;
  /** The GPU's name as CUDA reports it ('' when the runtime has no cudaGetDeviceProperties). */
  readonly device: string;
  readonly solver: 'cusolverDnXsyevd' | 'cusolverDnDsyevd';
}

/** An open CUDA context for eigenvalues: cuBLAS and cuSOLVER handles and device buffers, reused matrix after matrix. */
export class CudaEigen {
  readonly info: CudaEigenInfo;
  readonly #b: Bound;
  readonly #blas: Ptr;
  readonly #solver: Ptr;
  readonly #params: Ptr;
  readonly #buf: Record<BufferName, DeviceBuffer> = {
    A: { ptr: null, bytes: 0 },
    G: { ptr: null, bytes: 0 },
    W: { ptr: null, bytes: 0 },
    work: { ptr: null, bytes: 0 },
    info: { ptr: null, bytes: 0 },
  };
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(b: Bound, blas: Ptr, solver: Ptr, params: Ptr) {
    this.#b = b;
    this.#blas = blas;
    this.#solver = solver;
    this.#params = params;
    this.info = { libs: b.libs, device: b.deviceName?.() ?? '', solver: b.x ? 'cusolverDnXsyevd' : 'cusolverDnDsyevd' };
  }

  /** Loads the libraries, checks for a device and creates the handles; a clear 'device-unavailable' error otherwise. */
  static open(env: NodeJS.ProcessEnv = process.env): CudaEigen {
    const b = bind(env);
    const count = [0];
    const rc = b.getDeviceCount(count) as number;
    if (rc !== 0)
      throw unavailable(`no CUDA device (cudaGetDeviceCount: ${errorName(b, rc)}; libraries ${b.libs.cudart}, ${b.libs.cusolver})`);
    if (count[0] < 1) throw unavailable('no CUDA device (cudaGetDeviceCount found 0)');
    const out: Ptr[] = [null];
    check(b, 'cublasCreate', b.cublasCreate(out) as number, 'cublas');
    const blas = out[0];
    check(b, 'cusolverDnCreate', b.solverCreate(out) as number, 'cusolver');
    const solver = out[0];
    let params: Ptr = null;
    if (b.x) {
      check(b, 'cusolverDnCreateParams', b.x.createParams(out) as number, 'cusolver');
      params = out[0];
    }
    return new CudaEigen(b, blas, solver, params);
  }

  /**
   * Eigenvalues (ascending) of WᵀW if cols ≤ rows else WWᵀ (W row-major rows×cols), i.e. the squared singular values
   * of W, as matrixEigenvalues returns them. Calls are queued: one matrix is on the GPU at a time.
   */
  eigenvalues(W: Float64Array, rows: number, cols: number, opts: { assumeFinite?: boolean } = {}): Promise<Float64Array> {
    checkMatrix(W, rows, cols);
    // NaN/Inf would come back as NaN eigenvalues or a failed syevd; a caller that has checked may skip the pass
    // (on the main thread it costs ~1 ns a value: seconds for a 7B model).
    for (let i = 0; !opts.assumeFinite && i < W.length; i++) {
      if (!Number.isFinite(W[i])) {
        return Promise.reject(
          new WeightscopeError('numerical', `matrix has a non-finite value (${W[i]}) at row ${Math.floor(i / cols)}, column ${i % cols}`),
        );
      }
    }
    const run = this.#queue.then(() => this.#solve(W, rows, cols));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #solve(W: Float64Array, rows: number, cols: number): Promise<Float64Array> {
    if (this.#closed) throw new WeightscopeError('invalid-input', 'the CUDA eigen context is closed');
    const b = this.#b;
    // The row-major buffer is the column-major Wᵀ (cols×rows, lda = cols): WᵀW = (Wᵀ)(Wᵀ)ᵀ is trans 'N' with
    // n = cols, k = rows; WWᵀ = (Wᵀ)ᵀ(Wᵀ) is trans 'T' with n = rows, k = cols. Only the lower triangle is formed
    // and read, as gram.ts does.
    const wide = cols > rows;
    const n = wide ? rows : cols;
    const k = wide ? cols : rows;
    const A = await this.#ensure('A', W.byteLength);
    const G = await this.#ensure('G', n * n * 8);
    const Wd = await this.#ensure('W', n * 8);
    const info = await this.#ensure('info', 4);
    await this.#cuda('cudaMemcpy (to the GPU)', b.memcpy, A, W, W.byteLength, H2D);
    const one = Float64Array.of(1),
      zero = Float64Array.of(0);
    check(b, 'cublasDsyrk', await callAsync(b.dsyrk, this.#blas, FILL_LOWER, wide ? OP_T : OP_N, n, k, one, A, cols, zero, G, n), 'cublas');
    if (b.x) {
      const devBytes = [0],
        hostBytes = [0];
      check(
        b,
        'cusolverDnXsyevd_bufferSize',
        b.x.bufferSize(
          this.#solver,
          this.#params,
          EIG_NOVECTOR,
          FILL_LOWER,
          n,
          CUDA_R_64F,
          G,
          n,
          CUDA_R_64F,
          Wd,
          CUDA_R_64F,
          devBytes,
          hostBytes,
        ) as number,
        'cusolver',
      );
      const work = await this.#ensure('work', Math.max(8, Number(devBytes[0])));
      const host = new Uint8Array(Math.max(8, Number(hostBytes[0])));
      check(
        b,
        'cusolverDnXsyevd',
        await callAsync(
          b.x.syevd,
          this.#solver,
          this.#params,
          EIG_NOVECTOR,
          FILL_LOWER,
          n,
          CUDA_R_64F,
          G,
          n,
          CUDA_R_64F,
          Wd,
          CUDA_R_64F,
          work,
          Number(devBytes[0]),
          host,
          Number(hostBytes[0]),
          info,
        ),
        'cusolver',
      );
    } else {
      const legacy = b.legacy!;
      const lwork = [0];
      check(
        b,
        'cusolverDnDsyevd_bufferSize',
        legacy.bufferSize(this.#solver, EIG_NOVECTOR, FILL_LOWER, n, G, n, Wd, lwork) as number,
        'cusolver',
      );
      const work = await this.#ensure('work', Math.max(8, lwork[0] * 8));
      check(
        b,
        'cusolverDnDsyevd',
        await callAsync(legacy.syevd, this.#solver, EIG_NOVECTOR, FILL_LOWER, n, G, n, Wd, work, lwork[0], info),
        'cusolver',
      );
    }
    const values = new Float64Array(n);
    const status = new Int32Array(1);
    await this.#cuda('cudaMemcpy (from the GPU)', b.memcpy, values, Wd, n * 8, D2H);
    await this.#cuda('cudaMemcpy (from the GPU)', b.memcpy, status, info, 4, D2H);
    if (status[0] !== 0) {
      throw new WeightscopeError(
        'numerical',
        status[0] < 0 ? `syevd: argument ${-status[0]} invalid` : `syevd failed to converge (info=${status[0]})`,
      );
    }
    return values;
  }

  async #cuda(what: string, fn: NativeFn, ...args: unknown[]): Promise<void> {
    const rc = await callAsync(fn, ...args);
    if (rc !== 0) throw new WeightscopeError('device-unavailable', `${what} failed: ${errorName(this.#b, rc)}`);
  }

  /** The named device buffer, at least `bytes` long (freed and allocated again when too small). */
  async #ensure(name: BufferName, bytes: number): Promise<Ptr> {
    const buf = this.#buf[name];
    if (buf.bytes >= bytes) return buf.ptr;
    const b = this.#b;
    if (buf.ptr !== null) b.free(buf.ptr);
    buf.ptr = null;
    buf.bytes = 0;
    const out: Ptr[] = [null];
    const rc = b.malloc(out, bytes) as number;
    if (rc !== 0) {
      const free = [0],
        total = [0];
      b.memGetInfo(free, total);
      const mib = (x: number) => `${(Number(x) / 2 ** 20).toFixed(1)} MiB`;
      throw new WeightscopeError(
        rc === CUDA_ERROR_MEMORY ? 'too-large' : 'device-unavailable',
        `cudaMalloc of ${mib(bytes)} failed: ${errorName(b, rc)} (${mib(free[0])} of ${mib(total[0])} free on the GPU)`,
      );
    }
    buf.ptr = out[0];
    buf.bytes = bytes;
    return buf.ptr;
  }

  /** Frees the device buffers and handles (after the queued matrices are done). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    const b = this.#b;
    for (const buf of Object.values(this.#buf)) if (buf.ptr !== null) b.free(buf.ptr);
    if (b.x && this.#params !== null) b.x.destroyParams(this.#params);
    b.solverDestroy(this.#solver);
    b.cublasDestroy(this.#blas);
  }
}

function errorName(b: Bound, rc: number): string {
  let name = '';
  try {
    name = String(b.getErrorName(rc) ?? '');
  } catch {
    name = '';
  }
  return name ? `error ${rc} ${name}` : `error ${rc}`;
}

/** Status names of cublasStatus_t and cusolverStatus_t (their numbering differs). */
const STATUS: Record<'cublas' | 'cusolver', Record<number, string>> = {
  cublas: {
    1: 'NOT_INITIALIZED',
    3: 'ALLOC_FAILED',
    7: 'INVALID_VALUE',
    8: 'ARCH_MISMATCH',
    11: 'MAPPING_ERROR',
    13: 'EXECUTION_FAILED',
    14: 'INTERNAL_ERROR',
    15: 'NOT_SUPPORTED',
  },
  cusolver: {
    1: 'NOT_INITIALIZED',
    2: 'ALLOC_FAILED',
    3: 'INVALID_VALUE',
    4: 'ARCH_MISMATCH',
    5: 'MAPPING_ERROR',
    6: 'EXECUTION_FAILED',
    7: 'INTERNAL_ERROR',
    9: 'NOT_SUPPORTED',
  },
};

/** A failed cuBLAS/cuSOLVER call: not initialised means no usable device or driver; an allocation failure is size. */
function check(b: Bound, what: string, rc: number, lib: 'cublas' | 'cusolver'): void {
  if (rc === 0) return;
  const name = STATUS[lib][rc] ?? String(rc);
  const code = `${lib.toUpperCase()}_STATUS_${name}`;
  if (name === 'NOT_INITIALIZED')
    throw unavailable(`${what} returned ${code} (is an NVIDIA driver installed? libraries ${b.libs.cublas}, ${b.libs.cusolver})`);
  throw new WeightscopeError(name === 'ALLOC_FAILED' ? 'too-large' : 'device-unavailable', `${what} returned ${code}`);
}
