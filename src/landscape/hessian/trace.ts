import type { Rng } from '../../util/random.js';
import { type HvOperator, dot } from './operator.js';

export interface TraceEstimate {
  mean: number;
  /** Standard error of the mean over probes (sample std / √n). */
  stderr: number;
  samples: number[];
}

/**
 * Hutchinson's estimator with Rademacher probes and PyHessian's stopping rule (relative change of the running mean
 * below tol, never at the first probe), at most maxIter probes; minIter lets a caller insist on enough probes for
 * an honest standard error.
 */
export async function hutchinsonTrace(
  op: HvOperator,
  opts: { maxIter: number; tol: number; rng: Rng; minIter?: number; onSample?: (i: number, s: number) => void },
): Promise<TraceEstimate> {
  const samples: number[] = [];
  let prevMean = 0;
  for (let i = 0; i < opts.maxIter; i++) {
    const z = new Float64Array(op.dim);
    for (let p = 0; p < z.length; p++) z[p] = opts.rng.rademacher();
    const s = dot(z, await op.apply(z));
    samples.push(s);
    opts.onSample?.(i, s);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const done = Math.abs(mean - prevMean) / (Math.abs(prevMean) + 1e-6) < opts.tol;
    prevMean = mean;
    if (done && samples.length >= (opts.minIter ?? 1)) break;
  }
  return summarize(samples);
}

export function summarize(samples: number[]): TraceEstimate {
  const n = samples.length;
  const mean = samples.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : NaN;
  return { mean, stderr: Math.sqrt(variance / n), samples };
}

/** Σᵢ eᵢᵀHeᵢ: exact, one Hv per parameter — for small models only. */
export async function exactTrace(op: HvOperator, onProgress?: (i: number) => void): Promise<number> {
  let t = 0;
  const e = new Float64Array(op.dim);
  for (let i = 0; i < op.dim; i++) {
    e[i] = 1;
    t += (await op.apply(e))[i];
    e[i] = 0;
    onProgress?.(i);
  }
  return t;
}
