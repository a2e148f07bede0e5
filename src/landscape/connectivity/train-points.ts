/**
 * Training the free control points of a curve or a surface: minimise E_s[L(w(s)) + ½·c·‖w(s)‖²] where
 * w(s) = Σ_k c_k(s) θ_k and s (a curve's t, a surface's (u, v)) is drawn ONCE per mini-batch. By the chain rule the
 * gradient of control point k is c_k(s)·(∇_w L(w(s)) + c·w(s)). SGD with momentum over the free points only (no
 * weight decay on them: the L2 acts on the point), the learning rate set once per epoch by the schedule, the clean
 * set tiled to `samplesPerEpoch` samples and reshuffled each epoch.
 */
import { WeightscopeError } from '../../errors.js';
import type { Dataset } from '../../runtime/dataset.js';
import type { Optimizer } from '../../runtime/optim.js';
import { totalSize, type ParamMap, type ParamSpec } from '../../runtime/params.js';
import { train, type EpochInfo, type Objective } from '../../runtime/train.js';
import type { Rng } from '../../util/random.js';
import type { StepRunner } from './step-graph.js';
import { checkTrainOptions, lrAt, type CurveTrainOptions, type CurveTrainResult, type GradientEngine } from './train-options.js';

export interface ControlPoints {
  readonly specs: readonly ParamSpec[];
  /** Every control point, fixed and free (trained in place; the fused step leaves views into its packed array). */
  readonly points: readonly ParamMap[];
  /** Indices (into points) of the free control points. */
  readonly trainable: readonly number[];
}

/** Draws the point of one mini-batch: the coefficient of every control point there (from the run's generator). */
export type CoefficientSampler = (rng: Rng) => Float64Array;

/** Name under which control point k's copy of a parameter is optimised. */
const cpName = (k: number, name: string): string => `${k}\u0000${name}`;

/** What one step does: the objective computes (and reports the loss), the optimiser commits the update. */
interface StepParts {
  readonly objective: Objective;
  readonly optimizer: Optimizer;
}

/** The training loop shared by both step implementations: validation, then train()'s epochs and schedule. */
async function runTraining(
  cp: ControlPoints,
  ds: Dataset,
  opts: CurveTrainOptions,
  parts: (l2: number) => StepParts,
): Promise<CurveTrainResult> {
  checkTrainOptions(opts);
  const K = cp.points.length;
  const free = [...cp.trainable];
  if (free.some((k) => !Number.isInteger(k) || k < 0 || k >= K) || new Set(free).size !== free.length) {
    throw new WeightscopeError('invalid-input', `free control points ${JSON.stringify(free)} must be distinct indices below ${K}`);
  }
  const t0 = performance.now();
  if (free.length === 0 || opts.epochs === 0) return { epochs: [], steps: 0, seconds: 0 };
  // train() sees the free control points under distinct names; the arrays are the points' own.
  const trainable: ParamMap = new Map();
  for (const k of free) for (const s of cp.specs) trainable.set(cpName(k, s.name), cp.points[k].get(s.name) as Float32Array);
  const { objective, optimizer } = parts(opts.l2 ?? 1e-4);
  const schedule = opts.schedule ?? 'garipov';
  const r = await train(null, trainable, ds, {
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    seed: opts.seed,
    optimizer,
    objective,
    ...(opts.samplesPerEpoch !== undefined ? { samplesPerEpoch: opts.samplesPerEpoch } : {}),
    lrSchedule: (e, E) => lrAt(schedule, opts.lr, e, E),
    ...(opts.progress ? { progress: opts.progress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onEpoch ? { onEpoch: (info: EpochInfo) => opts.onEpoch?.(info) } : {}),
  });
  return { epochs: r.epochs, steps: r.steps, seconds: (performance.now() - t0) / 1000 };
}

function checkCoefficients(coefs: Float64Array, K: number): void {
  if (coefs.length !== K)
    throw new WeightscopeError('invalid-input', `the sampler gave ${coefs.length} coefficients for ${K} control points`);
}

/**
 * Trains `cp.trainable` in place on `ds` with the engine's gradients, the point and the updates computed here in
 * float64 (bit for bit the numbers of points.ts and runtime/optim.ts's SGD). The objective's value per step includes
 * the L2 term. With nothing free (or no epochs) nothing happens.
 */
export async function trainControlPoints(
  engine: GradientEngine,
  cp: ControlPoints,
  sample: CoefficientSampler,
  ds: Dataset,
  opts: CurveTrainOptions,
): Promise<CurveTrainResult> {
  return runTraining(cp, ds, opts, (c) => {
    const K = cp.points.length;
    const free = [...cp.trainable];
    // Every buffer of a step is allocated once here and reused (the engine copies its inputs to the runtime): w(s),
    // and the shared gradient factor G = ∇L(w(s)) + c·w(s) in float64.
    const specs = cp.specs;
    const points = specs.map((s) => cp.points.map((p) => p.get(s.name) as Float32Array)); // [spec][k]
    const wBufs = specs.map((s) => new Float32Array(s.size));
    const w: ParamMap = new Map(specs.map((s, j) => [s.name, wBufs[j]]));
    const G = specs.map((s) => new Float64Array(s.size));
    const stepCoefs = new Float64Array(free.length);
    const objective: Objective = async (_params, batch, rng) => {
      const coefs = sample(rng);
      checkCoefficients(coefs, K);
      for (let j = 0; j < specs.length; j++) pointInto(coefs, points[j], wBufs[j], G[j]);
      const { loss, grads } = await engine.grad(w, batch);
      free.forEach((k, f) => (stepCoefs[f] = coefs[k]));
      let sq = 0;
      for (let j = 0; j < specs.length; j++) {
        const g = grads.get(specs[j].name);
        if (!g || g.length !== specs[j].size)
          throw new WeightscopeError('invalid-input', `the gradient has no (or a wrongly sized) entry for '${specs[j].name}'`);
        sq = gradientFactor(g, wBufs[j], c, G[j], sq);
      }
      return { loss: loss + 0.5 * c * sq, grads: NO_GRADS };
    };
    return {
      objective,
      optimizer: controlPointSgd(
        opts.lr,
        opts.momentum ?? 0.9,
        free.map((k) => points.map((byK) => byK[k])),
        G,
        stepCoefs,
      ),
    };
  });
}

/**
 * The same training with each whole step (point, gradient, SGD on every free point) in one onnxruntime graph
 * (step-graph.ts): float32 arithmetic, as PyTorch's, in vectorised kernels. For surfaces, whose steps update many
 * copies of every parameter. The control points are packed into one [K, P] array (free points first) and every
 * point's map is left holding views into it.
 */
export async function trainControlPointsFused(
  runner: StepRunner,
  cp: ControlPoints,
  sample: CoefficientSampler,
  ds: Dataset,
  opts: CurveTrainOptions,
): Promise<CurveTrainResult> {
  const { K, F, P } = runner.graph;
  const free = [...cp.trainable];
  if (cp.points.length !== K || free.length !== F || totalSize(cp.specs) !== P) {
    throw new WeightscopeError(
      'invalid-input',
      `the step graph is for ${K} control points (${F} free) of ${P} parameters, got ${cp.points.length} (${free.length} free) of ${totalSize(cp.specs)}`,
    );
  }
  return runTraining(cp, ds, opts, (c) => {
    const freeSet = new Set(free);
    const order = [...free, ...cp.points.map((_, k) => k).filter((k) => !freeSet.has(k))];
    const packed = new Float32Array(K * P);
    order.forEach((k, row) => {
      let off = row * P;
      for (const s of cp.specs) {
        packed.set(cp.points[k].get(s.name) as Float32Array, off);
        cp.points[k].set(s.name, packed.subarray(off, off + s.size));
        off += s.size;
      }
    });
    let moms: Float32Array = new Float32Array(F * P);
    const coef = new Float32Array(K);
    const hyper = new Float32Array(3);
    const momentum = opts.momentum ?? 0.9;
    let pending: { points: Float32Array; moms: Float32Array } | null = null;
    const optimizer = {
      lr: opts.lr,
      steps: 0,
      step() {
        if (!pending) throw new WeightscopeError('invalid-input', 'a step was committed before it was computed');
        packed.set(pending.points); // the free rows come first
        moms = pending.moms; // a fresh array owned here
        pending = null;
        optimizer.steps++;
      },
    };
    const objective: Objective = async (_params, batch, rng) => {
      const coefs = sample(rng);
      checkCoefficients(coefs, K);
      order.forEach((k, row) => (coef[row] = coefs[k]));
      hyper[0] = optimizer.lr;
      hyper[1] = c;
      hyper[2] = momentum;
      const r = await runner.run(batch, packed, moms, coef, hyper);
      pending = r;
      return { loss: r.loss + 0.5 * c * r.sq, grads: NO_GRADS };
    };
    return { objective, optimizer };
  });
}

/** The steps hand nothing to train()'s optimiser call: the update is theirs. */
const NO_GRADS: ParamMap = new Map();

/**
 * w = Σ_k c_k θ_k per element, accumulated in float64 from 0 in k order and rounded once — the arithmetic of
 * points.ts pointAt (params.ts combine), so the numbers are the same bit for bit. Zero coefficients add exact zeros
 * and are skipped; three points at a time share one pass (left to right, so the order of the sums is kept).
 */
function pointInto(coefs: Float64Array, thetas: readonly Float32Array[], w: Float32Array, acc: Float64Array): void {
  const n = w.length;
  const used = thetas.filter((_, k) => coefs[k] !== 0);
  const cs = coefs.filter((ck) => ck !== 0);
  acc.fill(0);
  let k = 0;
  for (; k + 3 <= used.length; k += 3) {
    const [a, b, d] = [used[k], used[k + 1], used[k + 2]];
    const c0 = cs[k];
    const c1 = cs[k + 1];
    const c2 = cs[k + 2];
    for (let i = 0; i < n; i++) acc[i] = acc[i] + c0 * a[i] + c1 * b[i] + c2 * d[i];
  }
  for (; k < used.length; k++) {
    const a = used[k];
    const c0 = cs[k];
    for (let i = 0; i < n; i++) acc[i] += c0 * a[i];
  }
  for (let i = 0; i < n; i++) w[i] = acc[i];
}

/** G = g + c·w in float64 (the gradient of every control point is c_k·G); returns sq0 + ‖w‖². */
function gradientFactor(g: Float32Array, w: Float32Array, c: number, G: Float64Array, sq0: number): number {
  let sq = sq0;
  for (let i = 0; i < w.length; i++) {
    const wi = w[i];
    G[i] = g[i] + c * wi;
    sq += wi * wi;
  }
  return sq;
}

/**
 * SGD with momentum (torch.optim.SGD's rule, no weight decay or dampening) on the free control points, whose
 * gradients are c_k·G rounded to float32 — the numbers runtime/optim.ts's sgd gives for those gradients, without
 * materialising one gradient per point: buf ← g on the first step, else μ·buf + g; θ ← θ − lr·buf (momentum 0: θ ← θ
 * − lr·g). thetas[f][j] is free point f's spec j; G[j] and coefs (per free point) are set by the objective before
 * each step.
 */
function controlPointSgd(
  lr: number,
  momentum: number,
  thetas: readonly (readonly Float32Array[])[],
  G: readonly Float64Array[],
  coefs: Float64Array,
): Optimizer {
  const bufs = momentum !== 0 ? thetas.map((specs) => specs.map((t) => new Float32Array(t.length))) : null;
  const o = {
    lr,
    steps: 0,
    step() {
      const first = o.steps === 0;
      const rate = o.lr;
      for (let f = 0; f < thetas.length; f++) {
        const ck = coefs[f];
        for (let j = 0; j < G.length; j++) {
          const th = thetas[f][j];
          const Gj = G[j];
          const n = th.length;
          if (!bufs) {
            for (let i = 0; i < n; i++) th[i] = th[i] - rate * Math.fround(ck * Gj[i]);
            continue;
          }
          const buf = bufs[f][j];
          // One pass: the buffer's new float32 value, then the point (the same numbers as two passes).
          if (first) {
            for (let i = 0; i < n; i++) {
              const b = Math.fround(ck * Gj[i]);
              buf[i] = b;
              th[i] = th[i] - rate * b;
            }
          } else {
            for (let i = 0; i < n; i++) {
              const b = Math.fround(momentum * buf[i] + Math.fround(ck * Gj[i]));
              buf[i] = b;
              th[i] = th[i] - rate * b;
            }
          }
        }
      }
      o.steps++;
    },
  };
  return o;
}
