/**
 * Worker-thread side of EigenPool: receives a matrix (its buffer transferred, not copied), returns the eigenvalues
 * of its smaller Gram matrix (buffer transferred back).
 */
import { serveWorker } from '../util/worker-pool.js';
import { matrixEigenvalues, type EigenBackend } from './eigen.js';
import { setBlasThreads } from './lapack.js';

export interface EigenTask {
  buffer: ArrayBuffer;
  rows: number;
  cols: number;
  backend: EigenBackend;
}

const init = serveWorker<EigenTask, Float64Array>((task) => {
  const W = new Float64Array(task.buffer, 0, task.rows * task.cols);
  const values = matrixEigenvalues(W, task.rows, task.cols, { backend: task.backend });
  return { value: values, transfer: [values.buffer as ArrayBuffer] };
}) as { blasThreads?: number } | null;
if (init?.blasThreads) setBlasThreads(init.blasThreads);
