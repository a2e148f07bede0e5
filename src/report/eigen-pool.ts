/** Chooses how analyze() computes eigenvalues: H3's worker pool for real models, this thread for tiny ones. */
import { availableParallelism } from 'node:os';
import { EigenPool } from '../linalg/pool.js';
import { resolveBackend } from '../linalg/eigen.js';
import type { LayerPlan } from '../layers/types.js';
import { inlineRunner, type EigenRunner } from './eigen-runner.js';
import type { AnalyzeOptions } from './options.js';

/**
 * Below this many multiply-adds (Gram products, Σ N·M²·rf) the whole job takes milliseconds and starting worker
 * threads (tens of ms each) would cost more than it saves.
 */
export const POOL_MIN_WORK = 5e7;

export function estimatedWork(layers: readonly Pick<LayerPlan, 'N' | 'M' | 'rf'>[]): number {
  return layers.reduce((s, l) => s + l.N * l.M * l.M * l.rf, 0);
}

export async function makeEigenRunner(opts: Pick<AnalyzeOptions, 'eigenBackend' | 'workers'>, layers: readonly LayerPlan[]): Promise<EigenRunner> {
  // Resolve first: an explicit 'lapack' without LAPACK fails here, before any worker starts.
  const backend = resolveBackend(opts.eigenBackend);
  const size = Math.min(opts.workers ?? availableParallelism(), layers.length);
  if (size <= 1 || estimatedWork(layers) < POOL_MIN_WORK) return inlineRunner(backend);
  const pool = new EigenPool({ size, backend });
  return {
    parallelism: size,
    eigenvalues: (mats) => Promise.all(mats.map((m) => pool.run(m.data, m.rows, m.cols))),
    close: () => pool.close(),
  };
}
