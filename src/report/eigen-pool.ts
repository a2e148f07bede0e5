/** Chooses how analyze() computes eigenvalues: H3's worker pool for real models, this thread for tiny ones. */
import { availableParallelism } from 'node:os';
import { CudaEigen } from '../linalg/cuda.js';
import { EigenPool } from '../linalg/pool.js';
import { resolveBackend } from '../linalg/eigen.js';
import type { LayerPlan } from '../layers/types.js';
import { inlineRunner, type EigenRunner } from './eigen-runner.js';
import type { AnalyzeOptions } from './options.js';

/**
 * Below this many multiply-adds (Gram products, Σ N·M²·rf) the eigenvalues take well under a second in this
 * thread, and starting workers would cost more than it saves (≈50 ms each from dist/, ≈0.7 s under tsx, which
 * compiles the worker again). Measured: gpt2-tiny (1.5e8) 0.03 s inline with LAPACK vs 0.8 s with a pool under
 * tsx. The pure-TypeScript solver is roughly 10× slower per flop, hence its lower threshold.
 */
export const POOL_MIN_WORK = { lapack: 2e9, ts: 2e8 } as const;

export function estimatedWork(layers: readonly Pick<LayerPlan, 'N' | 'M' | 'rf'>[]): number {
  return layers.reduce((s, l) => s + l.N * l.M * l.M * l.rf, 0);
}

export async function makeEigenRunner(opts: Pick<AnalyzeOptions, 'eigenBackend' | 'workers'>, layers: readonly LayerPlan[]): Promise<EigenRunner> {
  if (opts.eigenBackend === 'cuda') {
    // One matrix on the GPU at a time; three layers in flight let reading and fitting overlap it. analyseLayer has
    // checked the weights for NaN/Inf already.
    const gpu = CudaEigen.open();
    return { parallelism: 2, eigenvalues: (mats) => Promise.all(mats.map((m) => gpu.eigenvalues(m.data, m.rows, m.cols, { assumeFinite: true }))), close: () => gpu.close() };
  }
  // Resolve first: an explicit 'lapack' without LAPACK fails here, before any worker starts.
  const backend = resolveBackend(opts.eigenBackend);
  const size = Math.min(opts.workers ?? availableParallelism(), layers.length);
  // An explicit `workers` is obeyed; otherwise small jobs stay in this thread.
  const small = opts.workers === undefined && estimatedWork(layers) < POOL_MIN_WORK[backend];
  if (size <= 1 || small) return inlineRunner(backend);
  const pool = new EigenPool({ size, backend });
  return {
    parallelism: size,
    eigenvalues: (mats) => Promise.all(mats.map((m) => pool.run(m.data, m.rows, m.cols))),
    close: () => pool.close(),
  };
}
