/**
 * Worker-thread side of EigenPool: receives a matrix (its buffer transferred, not copied), returns the eigenvalues
 * of its smaller Gram matrix (buffer transferred back). Errors go back as data so the pool can rethrow them typed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isWeightscopeError } from '../errors.js';
import { matrixEigenvalues, type EigenBackend } from './eigen.js';
import { setBlasThreads } from './lapack.js';

export interface EigenTask {
  id: number;
  buffer: ArrayBuffer;
  byteOffset: number;
  rows: number;
  cols: number;
  backend: EigenBackend;
}

export type EigenReply =
  | { ready: true }
  | { id: number; values: Float64Array }
  | { id: number; error: { message: string; code?: string; details?: Record<string, unknown> } };

const init = workerData as { blasThreads?: number } | null;
if (init?.blasThreads) setBlasThreads(init.blasThreads);

parentPort?.on('message', (task: EigenTask) => {
  let reply: EigenReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const W = new Float64Array(task.buffer, task.byteOffset, task.rows * task.cols);
    const values = matrixEigenvalues(W, task.rows, task.cols, { backend: task.backend });
    reply = { id: task.id, values };
    transfer.push(values.buffer as ArrayBuffer);
  } catch (e) {
    reply = isWeightscopeError(e)
      ? { id: task.id, error: { message: e.message, code: e.code, details: e.details } }
      : { id: task.id, error: { message: e instanceof Error ? (e.stack ?? e.message) : String(e) } };
  }
  parentPort?.postMessage(reply, transfer);
});
parentPort?.postMessage({ ready: true } satisfies EigenReply);
