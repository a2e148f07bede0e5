/**
 * Trigger reverse-engineering from clean data only — Neural Cleanse (Wang et al., IEEE S&P 2019). For each class k,
 * the smallest mask m ∈ [0, 1]^pixels (shared over channels) and pattern p ∈ [lo, hi]^(channels·pixels) such that
 * (1 − m)·x + m·p sends clean images of other classes to k: minimise CE(f(x'), k) + λ·‖m‖₁ with Adam (lr 0.1,
 * β = (0.5, 0.9)) on sigmoid-parametrised m and p; λ starts at 0, is set to 1e-3 once the batch success rate first
 * reaches 90 %, then every 10 steps grows ×1.5 while the last 10 steps' mean success is ≥ 90 % and shrinks ÷1.5^1.5
 * otherwise (the paper's schedule). The result for k is the smallest-L1 mask seen with batch success ≥ 90 %.
 *
 * A backdoor's target needs a far smaller mask than any real class (on vit-fmnist-backdoor the 3×3 trigger's target
 * needs L1 ≈ 3.6 against 13–51 for the other classes). The L1 norms of real classes spread multiplicatively, so the
 * anomaly index is the paper's MAD rule on log L1: (median − log L1_k) / (1.4826·MAD), flagged above 2 (one-sided).
 * The math on masks and patterns is pure; the gradients come from a TriggerProbe (the model's input gradient).
 */
import { WeightscopeError } from '../../errors.js';
import type { Dataset } from '../../runtime/dataset.js';
import { Rng } from '../../util/random.js';

/** What reverse-engineering needs from a model: the input gradient of the mean CE and the predicted classes. */
export interface TriggerProbe {
  /** Parallel lanes: reversals on different lanes run at the same time. */
  readonly lanes: number;
  /** Number of classes (the logits' width). */
  readonly classes: number;
  /** Whether the model has BatchNormalization (reversal refuses it: reversalSkipped in unlearn.ts). */
  readonly batchNorm: boolean;
  /** ∂(mean CE of the batch toward y)/∂x, run on `lane`. */
  inputGrad(lane: number, params: ReadonlyMap<string, Float32Array>, x: Float32Array, y: BigInt64Array): Promise<Float32Array>;
  /** The arg-max class of each row. */
  predict(params: ReadonlyMap<string, Float32Array>, x: Float32Array, rows: number): Promise<Int32Array>;
}

export interface ReverseOptions {
  readonly steps: number;
  readonly batchSize: number;
  readonly seed: number;
}

/** A reversed trigger: the mask over pixels, the pattern over channels × pixels. */
export interface ReversedTrigger {
  readonly target: number;
  /** ‖m‖₁ of the smallest successful mask (Infinity: no mask reached 90 % success). */
  readonly l1: number;
  /** Batch success rate of that mask. */
  readonly success: number;
  readonly mask: Float32Array;
  readonly pattern: Float32Array;
}

/** The layout of one sample: [C, H, W] → C channels of H·W pixels; any other shape → 1 channel. */
export interface TriggerLayout {
  readonly channels: number;
  readonly pixels: number;
  /** The data's value range (the pattern stays inside it). */
  readonly lo: number;
  readonly hi: number;
}

const SUCCESS = 0.9;
const LAMBDA0 = 1e-3;
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

export function layoutOf(ds: Dataset): TriggerLayout {
  if (ds.x.type !== 'float32')
    throw new WeightscopeError('invalid-input', 'trigger reverse-engineering needs real-valued inputs (images, features)');
  const dims = ds.x.dims.slice(1);
  const size = dims.reduce((a, b) => a * b, 1);
  const channels = dims.length === 3 ? dims[0] : 1;
  const x = ds.x.data as Float32Array;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  if (!(hi > lo)) throw new WeightscopeError('invalid-input', 'the clean data are constant; no trigger can be reverse-engineered');
  return { channels, pixels: size / channels, lo, hi };
}

/** Row i of `x` stamped with the trigger: (1 − m)·x + m·p, written to `out` at row i. */
export function stampRow(
  x: Float32Array,
  out: Float32Array,
  i: number,
  t: Pick<ReversedTrigger, 'mask' | 'pattern'>,
  L: TriggerLayout,
): void {
  const { channels: C, pixels: P } = L;
  for (let c = 0; c < C; c++)
    for (let j = 0; j < P; j++) {
      const k = i * C * P + c * P + j;
      out[k] = (1 - t.mask[j]) * x[k] + t.mask[j] * t.pattern[c * P + j];
    }
}

/** Reverse-engineers the trigger toward class k on `lane` (rows of class k are never drawn). */
export async function reverseTrigger(
  probe: TriggerProbe,
  params: ReadonlyMap<string, Float32Array>,
  data: Dataset,
  L: TriggerLayout,
  k: number,
  lane: number,
  o: ReverseOptions,
): Promise<ReversedTrigger> {
  const { channels: C, pixels: P } = L;
  const D = C * P;
  const labels = data.y;
  if (!labels) throw new WeightscopeError('invalid-input', 'trigger reverse-engineering needs labelled clean data');
  const pool = [];
  for (let i = 0; i < data.n; i++) if (Number(labels[i]) !== k) pool.push(i);
  if (pool.length === 0) return { target: k, l1: Infinity, success: 0, mask: new Float32Array(P), pattern: new Float32Array(D) };
  const X = data.x.data as Float32Array;
  const rng = new Rng(o.seed * 1009 + k);
  // Raw parameters: m = sigmoid(mr) (starts near 0.12), p = lo + (hi − lo)·sigmoid(pr) (starts mid-range).
  const theta = [new Float64Array(P).fill(-2), new Float64Array(D)];
  const m1 = theta.map((v) => new Float64Array(v.length));
  const m2 = theta.map((v) => new Float64Array(v.length));
  const y = new BigInt64Array(o.batchSize).fill(BigInt(k));
  const xb = new Float32Array(o.batchSize * D);
  const xs = new Float32Array(o.batchSize * D);
  const mask = new Float32Array(P);
  const pattern = new Float32Array(D);
  let best: ReversedTrigger = { target: k, l1: Infinity, success: 0, mask: new Float32Array(P), pattern: new Float32Array(D) };
  let lambda = 0;
  const recent: number[] = [];
  for (let s = 1; s <= o.steps; s++) {
    for (let i = 0; i < o.batchSize; i++) {
      const r = pool[rng.int(pool.length)];
      xb.set(X.subarray(r * D, r * D + D), i * D);
    }
    let l1 = 0;
    for (let j = 0; j < P; j++) l1 += mask[j] = sigmoid(theta[0][j]);
    for (let j = 0; j < D; j++) pattern[j] = L.lo + (L.hi - L.lo) * sigmoid(theta[1][j]);
    for (let i = 0; i < o.batchSize; i++) stampRow(xb, xs, i, { mask, pattern }, L);
    const [g, pred] = await Promise.all([probe.inputGrad(lane, params, xs, y), probe.predict(params, xs, o.batchSize)]);
    let hit = 0;
    for (let i = 0; i < o.batchSize; i++) if (pred[i] === k) hit++;
    const success = hit / o.batchSize;
    if (success >= SUCCESS && l1 < best.l1) best = { target: k, l1, success, mask: mask.slice(), pattern: pattern.slice() };
    adamStep(theta, rawGradients(g, xb, o.batchSize, mask, pattern, L, lambda), m1, m2, s);
    recent.push(success);
    if (lambda === 0 && success >= SUCCESS) lambda = LAMBDA0;
    else if (lambda > 0 && s % 10 === 0) {
      const mean = recent.slice(-10).reduce((a, v) => a + v, 0) / Math.min(10, recent.length);
      lambda = mean >= SUCCESS ? lambda * 1.5 : lambda / 1.5 ** 1.5;
    }
  }
  return best;
}

/**
 * Gradients of (loss + λ·‖m‖₁) with respect to the raw parameters (m = σ(mr), p = lo + (hi − lo)·σ(pr)), given
 * g = ∂loss/∂x' on the stamped rows of the clean batch `xb` (chain rule through x' = (1 − m)·x + m·p).
 */
export function rawGradients(
  g: Float32Array,
  xb: Float32Array,
  rows: number,
  mask: Float32Array,
  pattern: Float32Array,
  L: TriggerLayout,
  lambda: number,
): [Float64Array, Float64Array] {
  const { channels: C, pixels: P } = L;
  const D = C * P;
  const gm = new Float64Array(P);
  const gp = new Float64Array(D);
  for (let i = 0; i < rows; i++)
    for (let c = 0; c < C; c++)
      for (let j = 0; j < P; j++) {
        const q = i * D + c * P + j;
        gm[j] += g[q] * (pattern[c * P + j] - xb[q]);
        gp[c * P + j] += g[q] * mask[j];
      }
  for (let j = 0; j < P; j++) gm[j] = (gm[j] + lambda) * mask[j] * (1 - mask[j]);
  for (let j = 0; j < D; j++) {
    const u = (pattern[j] - L.lo) / (L.hi - L.lo);
    gp[j] *= (L.hi - L.lo) * u * (1 - u);
  }
  return [gm, gp];
}

/** One Adam step (lr 0.1, β₁ 0.5, β₂ 0.9: Neural Cleanse's settings) on every parameter block. */
function adamStep(theta: Float64Array[], grads: Float64Array[], m1: Float64Array[], m2: Float64Array[], step: number): void {
  const lr = 0.1;
  const b1 = 0.5;
  const b2 = 0.9;
  const c1 = 1 - b1 ** step;
  const c2 = 1 - b2 ** step;
  theta.forEach((th, q) => {
    const g = grads[q];
    for (let j = 0; j < th.length; j++) {
      m1[q][j] = b1 * m1[q][j] + (1 - b1) * g[j];
      m2[q][j] = b2 * m2[q][j] + (1 - b2) * g[j] * g[j];
      th[j] -= (lr * m1[q][j]) / c1 / (Math.sqrt(m2[q][j] / c2) + 1e-8);
    }
  });
}

/** Robust statistics of log L1 over the classes: the median and 1.4826·MAD (classes without a trigger count as +∞). */
export interface LogL1Stats {
  readonly median: number;
  readonly mad: number;
}

const medianOf = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : s[h - 1] === s[h] ? s[h] : (s[h - 1] + s[h]) / 2;
};

export function logL1Stats(l1: readonly number[]): LogL1Stats {
  if (l1.length < 3) throw new WeightscopeError('invalid-input', `the anomaly index needs at least 3 classes, got ${l1.length}`);
  const logs = l1.map((v) => Math.log(v));
  const median = medianOf(logs);
  return { median, mad: 1.4826 * medianOf(logs.map((v) => Math.abs(v - median))) };
}

/** Anomaly index of each class: how many robust deviations its log L1 lies below the median (0 when MAD is 0 or ∞). */
export function anomalyIndices(l1: readonly number[]): number[] {
  const { median, mad } = logL1Stats(l1);
  return l1.map((v) => {
    const a = (median - Math.log(v)) / mad;
    return Number.isFinite(a) && mad > 0 ? a : 0;
  });
}

/** The anomaly index above which a class is flagged as a backdoor target (Neural Cleanse's threshold). */
export const FLAG_INDEX = 2;
