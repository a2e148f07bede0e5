/**
 * Hessian diagnostics of a model on data, PyHessian semantics (docs/algorithms.md §2): top-k
 * eigenvalues (power iteration with projection deflation, or Lanczos), Hutchinson trace with its standard error,
 * the exact trace for small models, SLQ density, and the input Hessian's top eigenvalue. One zod schema holds the
 * options for the library, the CLI and the service. Each estimator draws from its own seeded stream, so turning
 * one on or off never changes another's numbers.
 */
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';
import { parseOptions } from '../../util/options.js';
import type { ModelProto } from '../../io/onnx-model.js';
import type { ProgressHook } from '../../util/progress.js';
import type { Batch, Dataset } from '../../runtime/dataset.js';
import { sliceBatch } from '../../runtime/dataset.js';
import type { Engine } from '../../runtime/engine.js';
import { Rng } from '../../util/random.js';
import { slq, smoothDensity } from './density.js';
import { engineOperator, type CountingOperator } from './engine-operator.js';
import { inputHessianOperator } from './input.js';
import { lanczosTopK } from './lanczos.js';
import { type HvOperator, norm } from './operator.js';
import { powerIteration } from './power.js';
import { exactTrace, hutchinsonTrace } from './trace.js';

const posInt = z.number().int().positive();

export const HessianOptionsSchema = z
  .object({
    /** Samples per Hv batch (Hv over several batches is their size-weighted mean). */
    batchSize: posInt.default(256),
    /** Use only the first N samples of the data (default all). */
    samples: posInt.optional(),
    /** Number of top eigenvalues (0: none). */
    topK: z.number().int().nonnegative().max(1000).default(1),
    /** Power iteration: relative change of the Rayleigh quotient (PyHessian); Lanczos: relative Ritz residual. */
    tol: z.number().positive().default(1e-3),
    /** Power iteration: Hv products per eigenvalue; Lanczos: steps in total. */
    maxIter: posInt.default(100),
    lanczos: z.boolean().default(false),
    trace: z.boolean().default(false),
    traceTol: z.number().positive().default(1e-3),
    traceMaxIter: posInt.default(100),
    /** At least this many probes, so the standard error rests on enough samples (PyHessian itself: 2). */
    traceMinIter: posInt.default(10),
    /** Σᵢ eᵢᵀHeᵢ: one Hv per parameter, small models only. */
    traceExact: z.boolean().default(false),
    density: z.boolean().default(false),
    densitySteps: posInt.default(100),
    densityRuns: posInt.default(1),
    densityBins: z.number().int().min(2).default(10000),
    /** Top eigenvalue of the Hessian with respect to the input (one perturbation shared by all samples). */
    input: z.boolean().default(false),
    inputTol: z.number().positive().default(1e-3),
    inputMaxIter: posInt.default(100),
    seed: z
      .number()
      .int()
      .nonnegative()
      .max(2 ** 32 - 1)
      .default(0),
  })
  .strict();

export type HessianOptionsInput = z.input<typeof HessianOptionsSchema>;
export type HessianOptions = z.output<typeof HessianOptionsSchema>;

export function parseHessianOptions(input: unknown = {}): HessianOptions {
  return parseOptions(HessianOptionsSchema, input, 'Hessian');
}

export interface HessianTrace {
  /** Hutchinson: mean of the probe samples, its standard error, the number of probes and the samples. */
  mean?: number;
  stderr?: number;
  samples?: number;
  sample_values?: number[];
  /** Σᵢ eᵢᵀHeᵢ (traceExact). */
  exact?: number;
}

export interface HessianDensity {
  grid: number[];
  values: number[];
  /** Per SLQ run: Ritz values and their weights (squared first eigenvector components). */
  nodes: number[][];
  weights: number[][];
}

export interface HessianResult {
  num_params: number;
  samples: number;
  batches: number;
  /** Mean loss over the samples. */
  loss: number;
  seed: number;
  top_eigenvalues?: number[];
  eigen_method?: 'power' | 'lanczos';
  /** Hv products per eigenvalue (power iteration; its residual costs one more); with Lanczos, the run's total for each. */
  eigen_iterations?: number[];
  /** ‖Hv − λv‖ per eigenpair, v unit. */
  residuals?: number[];
  trace?: HessianTrace;
  density?: HessianDensity;
  input_hessian?: { top_eigenvalue: number; iterations: number; residual: number; dim: number };
  /** Hv products spent (parameter and input Hessians). */
  hv_products: number;
  seconds: number;
}

export interface HessianInput {
  readonly engine: Engine;
  /** The model the engine was built from (needed for the input Hessian only). */
  readonly model?: ModelProto;
  readonly dataset: Dataset;
  /** Parameter values (default the model's own). */
  readonly params?: ReadonlyMap<string, Float32Array>;
}

/** Seed of estimator `k`'s own stream. */
function stream(seed: number, k: number): Rng {
  return new Rng((seed + Math.imul(k, 0x9e3779b1)) >>> 0);
}

function gaussianUnit(dim: number, rng: Rng): Float64Array {
  const v = new Float64Array(dim);
  for (let i = 0; i < dim; i++) v[i] = rng.normal();
  const s = 1 / norm(v);
  for (let i = 0; i < dim; i++) v[i] *= s;
  return v;
}

/** Upper bound of Hv products the options can spend (for progress). */
function budget(o: HessianOptions, dim: number): number {
  let t = 0;
  if (o.topK > 0) t += o.lanczos ? o.maxIter + o.topK : o.topK * (o.maxIter + 1);
  if (o.trace) t += o.traceMaxIter;
  if (o.traceExact) t += dim;
  if (o.density) t += o.densitySteps * o.densityRuns;
  if (o.input) t += o.inputMaxIter + 1;
  return Math.max(t, 1);
}

/**
 * Top-k of an operator by the chosen method. Power iteration (PyHessian) converges to the largest-MAGNITUDE
 * eigenvalues, signed; Lanczos returns the largest ALGEBRAIC ones (as scipy's eigsh 'LA'). They coincide when the
 * dominant curvature is positive (mlp48, the fmnist CNN) and differ when it is negative (gpt2-tiny on lm_batch:
 * power iteration gives −174.8, −75.5, −37.4; Lanczos 27.18, 17.98, 17.69).
 */
export async function topEigen(
  op: HvOperator,
  o: Pick<HessianOptions, 'topK' | 'tol' | 'maxIter' | 'lanczos'>,
  rng: Rng,
): Promise<{ values: number[]; iterations: number[]; residuals: number[] }> {
  if (o.topK > op.dim) throw new WeightscopeError('invalid-input', `top-k ${o.topK} exceeds the ${op.dim} dimensions`);
  if (o.lanczos) {
    const r = await lanczosTopK(op, gaussianUnit(op.dim, rng), o.topK, o.maxIter, o.tol);
    return { values: r.values, iterations: r.values.map(() => r.iterations), residuals: r.residuals };
  }
  const r = await powerIteration(op, { k: o.topK, maxIter: o.maxIter, tol: o.tol, rng });
  return { values: r.values, iterations: r.iterations, residuals: r.residuals };
}

/** The first `samples` samples (or all) in batches of `batchSize`. */
export function hessianBatches(ds: Dataset, o: Pick<HessianOptions, 'batchSize' | 'samples'>): Batch[] {
  if (o.samples !== undefined && o.samples > ds.n) {
    throw new WeightscopeError('invalid-input', `asked for ${o.samples} samples, the data has ${ds.n}`);
  }
  const n = o.samples ?? ds.n;
  const out: Batch[] = [];
  for (let s = 0; s < n; s += o.batchSize) out.push(sliceBatch(ds, s, Math.min(n, s + o.batchSize)));
  return out;
}

/** Runs the requested diagnostics. `options` is validated here (CLI, service and library share the schema). */
export async function runHessian(
  input: HessianInput,
  options: HessianOptionsInput = {},
  onProgress?: ProgressHook,
): Promise<HessianResult> {
  const o = parseHessianOptions(options);
  const t0 = performance.now();
  const { engine, dataset } = input;
  const params = input.params ?? engine.initialParams();
  const batches = hessianBatches(dataset, o);
  const samples = batches.reduce((s, b) => s + b.size, 0);
  let stage = '';
  let spent = 0;
  const op: CountingOperator = engineOperator(engine, params, batches, {
    onApply: () => onProgress?.(++spent, total, stage),
  });
  const total = budget(o, op.dim);
  const result: HessianResult = {
    num_params: op.dim,
    samples,
    batches: batches.length,
    loss: NaN,
    seed: o.seed,
    hv_products: 0,
    seconds: 0,
  };

  if (o.topK > 0) {
    stage = o.lanczos ? 'top eigenvalues (Lanczos)' : 'top eigenvalues (power iteration)';
    const r = await topEigen(op, o, stream(o.seed, 1));
    result.top_eigenvalues = r.values;
    result.eigen_method = o.lanczos ? 'lanczos' : 'power';
    result.eigen_iterations = r.iterations;
    result.residuals = r.residuals;
  }
  if (o.trace || o.traceExact) {
    const tr: HessianTrace = {};
    if (o.trace) {
      stage = 'trace (Hutchinson)';
      const h = await hutchinsonTrace(op, { maxIter: o.traceMaxIter, tol: o.traceTol, minIter: o.traceMinIter, rng: stream(o.seed, 2) });
      Object.assign(tr, { mean: h.mean, stderr: h.stderr, samples: h.samples.length, sample_values: h.samples });
    }
    if (o.traceExact) {
      stage = 'trace (exact)';
      tr.exact = await exactTrace(op);
    }
    result.trace = tr;
  }
  if (o.density) {
    stage = 'density (SLQ)';
    const runs = await slq(op, { steps: o.densitySteps, runs: o.densityRuns, rng: stream(o.seed, 3) });
    const d = smoothDensity(runs, { bins: o.densityBins });
    result.density = { grid: d.grid, values: d.values, nodes: runs.map((r) => r.nodes), weights: runs.map((r) => r.weights) };
  }
  let inputHv = 0;
  if (o.input) {
    if (!input.model) throw new WeightscopeError('invalid-input', 'the input Hessian needs the model graph');
    stage = 'input Hessian';
    const iop = await inputHessianOperator(input.model, engine, params, batches, { onApply: () => onProgress?.(++spent, total, stage) });
    const r = await powerIteration(iop, { k: 1, maxIter: o.inputMaxIter, tol: o.inputTol, rng: stream(o.seed, 4) });
    result.input_hessian = { top_eigenvalue: r.values[0], iterations: r.iterations[0], residual: r.residuals[0], dim: iop.dim };
    inputHv = iop.hvCount;
  }
  // The forward graph's loss, whichever estimators ran (the Hv graph's own loss can differ in the last float32 bit).
  result.loss = await meanLoss(engine, params, batches);
  result.hv_products = op.hvCount + inputHv;
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

async function meanLoss(engine: Engine, params: ReadonlyMap<string, Float32Array>, batches: readonly Batch[]): Promise<number> {
  let s = 0;
  let n = 0;
  for (const b of batches) {
    s += b.size * (await engine.loss(params, b));
    n += b.size;
  }
  return s / n;
}
