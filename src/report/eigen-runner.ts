/**
 * Where a layer's eigenvalues are computed: in this thread for a single layer, in H3's worker pool otherwise.
 * analyze() only sees this interface.
 */
import { matrixEigenvalues, type EigenBackend } from '../linalg/eigen.js';
import type { Matrix } from '../layers/matrices.js';

export interface EigenRunner {
  /** Squared singular values (ascending) of each matrix. */
  eigenvalues(mats: readonly Matrix[]): Promise<Float64Array[]>;
  /** How many matrices it works on at once (analyze keeps this many tensors, plus one, in flight). */
  readonly parallelism: number;
  close(): Promise<void>;
}

export function inlineRunner(backend: EigenBackend): EigenRunner {
  return {
    parallelism: 1,
    async eigenvalues(mats) {
      return mats.map((m) => matrixEigenvalues(m.data, m.rows, m.cols, { backend }));
    },
    async close() {},
  };
}
