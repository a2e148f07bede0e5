import { tridiagonalEigen } from '../../linalg/tridiagonal.js';
import type { Rng } from '../../util/random.js';
import { type HvOperator, norm } from './operator.js';
import { lanczos } from './lanczos.js';

export interface SlqRun {
  nodes: number[];
  weights: number[];
  /** The normalised Rademacher start vector's quadratic form v0ᵀHv0 (= α₀), for the Hutchinson identity. */
  startQuadratic: number;
}

/**
 * Stochastic Lanczos quadrature (PyHessian `density`): per run a normalised Rademacher start, `steps` Lanczos steps
 * with full re-orthogonalisation (a Gaussian restart on breakdown), nodes = Ritz values, weights = squared first
 * components of T's eigenvectors.
 */
export async function slq(op: HvOperator, opts: { steps: number; runs: number; rng: Rng }): Promise<SlqRun[]> {
  const out: SlqRun[] = [];
  for (let r = 0; r < opts.runs; r++) {
    const v0 = new Float64Array(op.dim);
    for (let i = 0; i < v0.length; i++) v0[i] = opts.rng.rademacher();
    const s = 1 / norm(v0);
    for (let i = 0; i < v0.length; i++) v0[i] *= s;
    const restart = (): Float64Array => {
      const g = new Float64Array(op.dim);
      for (let i = 0; i < g.length; i++) g[i] = opts.rng.normal();
      return g;
    };
    const run = await lanczos(op, v0, Math.min(opts.steps, op.dim), { restart, keepBasis: false });
    const T = tridiagonalEigen(run.alpha, run.beta);
    const m = run.alpha.length;
    const nodes: number[] = [];
    const weights: number[] = [];
    for (let j = 0; j < m; j++) {
      nodes.push(T.values[j]);
      weights.push(T.vectors[j * m] ** 2);
    }
    out.push({ nodes, weights, startQuadratic: run.alpha[0] });
  }
  return out;
}

export interface SmoothedDensity {
  grid: number[];
  values: number[];
}

/**
 * PyHessian's `density_generate`: Gaussian kernels of variance 1e-5·max(1, range) at the nodes, averaged over runs,
 * on a grid spanning the mean min/max node ± 0.01, then normalised so the Riemann sum is 1.
 */
export function smoothDensity(runs: readonly SlqRun[], opts: { bins?: number; variance?: number; margin?: number } = {}): SmoothedDensity {
  const bins = opts.bins ?? 10000;
  const margin = opts.margin ?? 0.01;
  const hi = mean(runs.map((r) => Math.max(...r.nodes))) + margin;
  const lo = mean(runs.map((r) => Math.min(...r.nodes))) - margin;
  const variance = (opts.variance ?? 1e-5) * Math.max(1, hi - lo);
  const grid = new Array<number>(bins);
  const values = new Array<number>(bins).fill(0);
  const step = (hi - lo) / (bins - 1);
  for (let i = 0; i < bins; i++) grid[i] = lo + i * step;
  const c = 1 / Math.sqrt(2 * Math.PI * variance);
  for (const r of runs) {
    for (let l = 0; l < r.nodes.length; l++) {
      const t = r.nodes[l];
      const w = r.weights[l] / runs.length;
      // Kernels are negligible beyond 12 standard deviations: only touch the bins in that window.
      const half = 12 * Math.sqrt(variance);
      const a = Math.max(0, Math.floor((t - half - lo) / step));
      const b = Math.min(bins - 1, Math.ceil((t + half - lo) / step));
      for (let i = a; i <= b; i++) values[i] += w * c * Math.exp(-((grid[i] - t) ** 2) / (2 * variance));
    }
  }
  const total = values.reduce((s, v) => s + v, 0) * step;
  if (total > 0) for (let i = 0; i < bins; i++) values[i] /= total;
  return { grid, values };
}

function mean(a: number[]): number {
  return a.reduce((s, v) => s + v, 0) / a.length;
}
