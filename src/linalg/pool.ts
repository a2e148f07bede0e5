/**
 * A fixed pool of worker threads computing matrixEigenvalues, so several layers' spectra are solved at once
 * (one per core). Matrices travel by transferring their ArrayBuffer: no copies, and the caller's array is
 * detached afterwards unless `copy: true` is asked for.
 */
import { availableParallelism } from 'node:os';
import { WorkerPool } from '../util/worker-pool.js';
import { checkMatrix } from './gram.js';
import type { EigenBackend } from './eigen.js';
import { getBlasThreads, setBlasThreads } from './lapack.js';
import type { EigenTask } from './eigen-worker.js';

export interface EigenPoolOptions {
  /** Worker count; default os.availableParallelism(). */
  size?: number;
  backend?: EigenBackend;
  /**
   * OpenBLAS threads (a process-wide setting, applied when the pool starts). Default: 1 when the pool has more
   * than one worker (each worker keeps one core busy), otherwise the library's own default.
   */
  blasThreads?: number;
}

export interface EigenRunOptions {
  /** Copy W instead of transferring (and detaching) its buffer. Default false. */
  copy?: boolean;
}

/**
 * Eigenvalues of many matrices at once, one per worker thread. OpenBLAS's thread count is process-wide (shared by
 * the workers): a pool of several workers sets it to 1 so each keeps one core busy, and close() restores it.
 */
export class EigenPool {
  readonly size: number;
  readonly #backend: EigenBackend;
  readonly #pool: WorkerPool<EigenTask, Float64Array>;
  /** OpenBLAS threads before the pool changed them, restored by close(). */
  readonly #blasThreadsBefore: number | null;

  constructor(opts: EigenPoolOptions = {}) {
    const size = opts.size ?? availableParallelism();
    const blasThreads = opts.blasThreads ?? (size > 1 ? 1 : undefined);
    this.#pool = new WorkerPool<EigenTask, Float64Array>({
      size,
      callerUrl: import.meta.url,
      worker: './eigen-worker',
      workerData: { blasThreads },
      label: 'eigen worker',
    });
    this.size = size;
    this.#backend = opts.backend ?? 'auto';
    this.#blasThreadsBefore = blasThreads !== undefined ? getBlasThreads() : null;
    if (blasThreads !== undefined) setBlasThreads(blasThreads);
  }

  /** Eigenvalues (ascending) of the smaller Gram matrix of W, computed in a worker. */
  run(W: Float64Array, rows: number, cols: number, opts: EigenRunOptions = {}): Promise<Float64Array> {
    try {
      checkMatrix(W, rows, cols);
    } catch (e) {
      return Promise.reject(e);
    }
    // Transfer only a buffer the array owns whole; a view into a larger (or shared) buffer is copied.
    const owns = !opts.copy && W.byteOffset === 0 && W.buffer.byteLength === W.byteLength && W.buffer instanceof ArrayBuffer;
    const buffer = (owns ? W : W.slice()).buffer as ArrayBuffer;
    return this.#pool.run({ buffer, rows, cols, backend: this.#backend }, [buffer]);
  }

  /** Stops the workers; queued and running jobs are rejected. */
  async close(): Promise<void> {
    if (this.#pool.closed) return;
    await this.#pool.close();
    if (this.#blasThreadsBefore !== null) setBlasThreads(this.#blasThreadsBefore);
  }
}
