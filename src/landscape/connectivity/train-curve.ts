/**
 * Curve training (Garipov et al. 2018, as used for repair by Zhao et al. 2020): minimise E_{t~U(0,1)} of
 * L(w(t)) + ½·c·‖w(t)‖² over the interior control points, endpoints fixed. Each mini-batch draws ONE t; by the chain
 * rule the gradient for control point k is c_k(t)·(∇_w L(w(t)) + c·w(t)). SGD with momentum (PyTorch's rule, no
 * weight decay: the L2 acts on the point, not on the control points), the learning rate set once per epoch by
 * Garipov's schedule, the (small) clean set tiled to `samplesPerEpoch` samples and reshuffled each epoch.
 */
import { WeightscopeError } from '../../errors.js';
import type { ProgressHook } from '../../util/progress.js';
import type { Dataset } from '../../runtime/dataset.js';
import type { Engine } from '../../runtime/engine.js';
import { sgd } from '../../runtime/optim.js';
import type { ParamMap } from '../../runtime/params.js';
import { train, type EpochInfo, type Objective } from '../../runtime/train.js';
import { curveCoefficients, garipovFactor } from './curve.js';
import type { Curve } from './points.js';

/** What curve training needs from an engine: the gradient of the data loss (no L2) at a point. */
export type GradientEngine = Pick<Engine, 'grad'>;

export type LrSchedule = 'garipov' | 'constant';

export interface CurveTrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  /** Samples per epoch: the clean set tiled (i mod n) to this many, then shuffled. Default: the set's size. */
  readonly samplesPerEpoch?: number;
  readonly lr: number;
  /** Default 0.9. */
  readonly momentum?: number;
  /** c in ½·c·‖w(t)‖². Default 1e-4. */
  readonly l2?: number;
  readonly seed: number;
  /** Default 'garipov'. */
  readonly schedule?: LrSchedule;
  readonly progress?: ProgressHook;
  readonly onEpoch?: (info: EpochInfo) => void | Promise<void>;
  readonly signal?: AbortSignal;
}

export interface CurveTrainResult {
  /** Per epoch: mean training objective (data loss + L2 at the sampled t) and the learning rate used. */
  readonly epochs: readonly EpochInfo[];
  readonly steps: number;
  readonly seconds: number;
}

/** Name under which control point k's copy of a parameter is optimised. */
const cpName = (k: number, name: string): string => `${k}\u0000${name}`;

export function lrAt(schedule: LrSchedule, lr: number, epoch0: number, epochs: number): number {
  // Garipov's α = epoch/epochs counts epochs from 1.
  return schedule === 'garipov' ? lr * garipovFactor(epoch0 + 1, epochs) : lr;
}

export function checkTrainOptions(o: CurveTrainOptions): void {
  const positiveInt = (v: number | undefined, what: string, allowZero = false) => {
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) throw new WeightscopeError('invalid-input', `${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
  };
  positiveInt(o.epochs, 'epochs', true);
  positiveInt(o.batchSize, 'batch size');
  positiveInt(o.samplesPerEpoch, 'samples per epoch');
  for (const [v, what] of [[o.lr, 'learning rate'], [o.momentum ?? 0, 'momentum'], [o.l2 ?? 0, 'L2 coefficient']] as const) {
    if (!Number.isFinite(v) || v < 0) throw new WeightscopeError('invalid-input', `${what} must be a non-negative number, got ${v}`);
  }
  if ((o.momentum ?? 0.9) >= 1) throw new WeightscopeError('invalid-input', `momentum must be below 1, got ${o.momentum}`);
}

/**
 * Trains the interior control points of `curve` in place on `ds`. The objective's value per step includes the L2
 * term. A curve with only its two endpoints has nothing to train and is returned unchanged.
 */
export async function trainCurve(engine: GradientEngine, curve: Curve, ds: Dataset, opts: CurveTrainOptions): Promise<CurveTrainResult> {
  checkTrainOptions(opts);
  const K = curve.points.length;
  const c = opts.l2 ?? 1e-4;
  const t0 = performance.now();
  if (K <= 2 || opts.epochs === 0) return { epochs: [], steps: 0, seconds: 0 };
  // The optimiser sees the interior control points under distinct names; the arrays are the curve's own.
  const trainable: ParamMap = new Map();
  for (let k = 1; k < K - 1; k++) for (const s of curve.specs) trainable.set(cpName(k, s.name), curve.points[k].get(s.name) as Float32Array);

  // Every buffer of a step is allocated once here and reused (the optimiser consumes the gradients before the next
  // step; the engine copies its inputs to the runtime): w(t), and one gradient per interior control point.
  const specs = curve.specs;
  const points = specs.map((s) => curve.points.map((p) => p.get(s.name) as Float32Array)); // [spec][k]
  const wBufs = specs.map((s) => new Float32Array(s.size));
  const w: ParamMap = new Map(specs.map((s, j) => [s.name, wBufs[j]]));
  const gBufs = specs.map((s) => Array.from({ length: K - 2 }, () => new Float32Array(s.size))); // [spec][k−1]
  const out: ParamMap = new Map();
  for (let j = 0; j < specs.length; j++) for (let k = 1; k < K - 1; k++) out.set(cpName(k, specs[j].name), gBufs[j][k - 1]);

  const objective: Objective = async (_params, batch, rng) => {
    const t = rng.uniform();
    const coefs = curveCoefficients(curve.kind, K, t);
    for (let j = 0; j < specs.length; j++) pointInto(coefs, points[j], wBufs[j]);
    const { loss, grads } = await engine.grad(w, batch);
    let sq = 0;
    for (let j = 0; j < specs.length; j++) {
      const g = grads.get(specs[j].name);
      if (!g) throw new WeightscopeError('invalid-input', `the gradient has no entry for '${specs[j].name}'`);
      sq = controlGradients(g, wBufs[j], c, coefs, gBufs[j], sq);
    }
    return { loss: loss + 0.5 * c * sq, grads: out };
  };

  const schedule = opts.schedule ?? 'garipov';
  const r = await train(null, trainable, ds, {
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    seed: opts.seed,
    optimizer: sgd({ lr: opts.lr, momentum: opts.momentum ?? 0.9 }),
    objective,
    ...(opts.samplesPerEpoch !== undefined ? { samplesPerEpoch: opts.samplesPerEpoch } : {}),
    lrSchedule: (e, E) => lrAt(schedule, opts.lr, e, E),
    ...(opts.progress ? { progress: opts.progress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onEpoch ? { onEpoch: (info: EpochInfo) => opts.onEpoch?.(info) } : {}),
  });
  return { epochs: r.epochs, steps: r.steps, seconds: (performance.now() - t0) / 1000 };
}

/**
 * w = Σ_k c_k θ_k per element, accumulated in float64 from 0 in k order and rounded once — the arithmetic of
 * points.ts pointAt (params.ts combine), so the numbers are the same bit for bit.
 */
function pointInto(coefs: Float64Array, thetas: readonly Float32Array[], w: Float32Array): void {
  const n = w.length;
  if (thetas.length === 3) {
    const [a, b, d] = thetas;
    const c0 = coefs[0];
    const c1 = coefs[1];
    const c2 = coefs[2];
    for (let i = 0; i < n; i++) w[i] = 0 + c0 * a[i] + c1 * b[i] + c2 * d[i];
    return;
  }
  const K = thetas.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += coefs[k] * thetas[k][i];
    w[i] = s;
  }
}

/**
 * Control point k's gradient c_k·(g + c·w) (the sum in float64, each product rounded once to float32) into
 * out[k − 1] for the interior k; returns sq0 + ‖w‖² (one running sum over all parameters, as before, so the L2
 * term rounds the same way).
 */
function controlGradients(g: Float32Array, w: Float32Array, c: number, coefs: Float64Array, out: readonly Float32Array[], sq0: number): number {
  const n = w.length;
  let sq = sq0;
  if (out.length === 1) {
    const o = out[0];
    const c1 = coefs[1];
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      o[i] = c1 * (g[i] + c * wi);
      sq += wi * wi;
    }
    return sq;
  }
  for (let i = 0; i < n; i++) {
    const wi = w[i];
    const full = g[i] + c * wi;
    sq += wi * wi;
    for (let k = 0; k < out.length; k++) out[k][i] = coefs[k + 1] * full;
  }
  return sq;
}
