/**
 * L∞ evasion attacks from the engine's input gradients: PGD (Madry et al. 2018, as Zhao et al. 2020's
 * AttackPGD: optional uniform random start in the ε-ball, then `steps` signed-gradient steps of size α, each
 * projected back onto the ε-ball around the clean input and onto the input range) and FGSM (one step of size ε
 * from the clean input). Per element in float64, stored as float32. Batches are attacked independently, each with
 * its own seeded generator, so the examples do not depend on how many lanes ran them.
 */
import { WeightscopeError } from '../../errors.js';
import type { Dataset } from '../../runtime/dataset.js';
import { Rng } from '../../util/random.js';
import type { InputGradient } from './input-gradient.js';

export interface AttackConfig {
  readonly kind: 'pgd' | 'fgsm';
  /** L∞ radius. */
  readonly eps: number;
  /** PGD steps (FGSM: 1). */
  readonly steps: number;
  /** Step size (FGSM: ε). */
  readonly alpha: number;
  readonly randomStart: boolean;
  /** Valid input range, or null for unbounded inputs. */
  readonly clip: readonly [number, number] | null;
  readonly seed: number;
  /** Samples per gradient run. */
  readonly batchSize: number;
}

/** One batch: x0 (clean, [b·dim]) → adversarial examples, using grad(x) = ∂(mean loss)/∂x. */
export async function attackBatch(
  x0: Float32Array,
  cfg: AttackConfig,
  rng: Rng,
  grad: (x: Float32Array) => Promise<Float32Array>,
): Promise<Float32Array> {
  const { eps, clip } = cfg;
  const steps = cfg.kind === 'fgsm' ? 1 : cfg.steps;
  const alpha = cfg.kind === 'fgsm' ? eps : cfg.alpha;
  const lo = clip ? clip[0] : -Infinity;
  const hi = clip ? clip[1] : Infinity;
  const x = x0.slice();
  if (cfg.kind === 'pgd' && cfg.randomStart && eps > 0) {
    for (let i = 0; i < x.length; i++) x[i] = Math.min(hi, Math.max(lo, x0[i] + (2 * rng.uniform() - 1) * eps));
  }
  for (let s = 0; s < steps; s++) {
    const g = await grad(x);
    if (g.length !== x.length) throw new WeightscopeError('shape-mismatch', `gradient has ${g.length} values for ${x.length} inputs`);
    for (let i = 0; i < x.length; i++) {
      const gi = g[i];
      const step = gi > 0 ? alpha : gi < 0 ? -alpha : 0;
      const a = x0[i];
      x[i] = Math.min(hi, Math.max(lo, Math.min(a + eps, Math.max(a - eps, x[i] + step))));
    }
  }
  return x;
}

/**
 * Adversarial examples for every sample of `ds` ([n, ...] like ds.x) against the model at `params`: batches of
 * cfg.batchSize in order, spread over the runner's lanes; batch k draws its random start from seed + k. `onBatch`
 * is called after each batch (a job's progress, where cancellation stops it).
 */
export async function adversarialExamples(
  ig: InputGradient,
  params: ReadonlyMap<string, Float32Array>,
  ds: Dataset,
  cfg: AttackConfig,
  onBatch?: (done: number, total: number) => void,
): Promise<Float32Array> {
  if (ds.x.type !== 'float32') throw new WeightscopeError('invalid-input', `an attack needs float inputs, got ${ds.x.type}`);
  if (!ds.y) throw new WeightscopeError('invalid-input', 'an attack needs labels y');
  checkAttack(cfg);
  const sampleDims = ds.x.dims.slice(1);
  const dim = sampleDims.reduce((a, b) => a * b, 1);
  const xAll = ds.x.data as Float32Array;
  const y = ds.y;
  const out = new Float32Array(xAll.length);
  const starts: number[] = [];
  for (let s = 0; s < ds.n; s += cfg.batchSize) starts.push(s);
  let done = 0;
  const lane = async (l: number) => {
    for (let k = l; k < starts.length; k += ig.lanes) {
      const s = starts[k];
      const e = Math.min(ds.n, s + cfg.batchSize);
      const yb = y.slice(s, e);
      const adv = await attackBatch(
        xAll.slice(s * dim, e * dim),
        cfg,
        new Rng((cfg.seed + k) >>> 0),
        async (x) => (await ig.batch(l, params, x, yb, sampleDims)).grad,
      );
      out.set(adv, s * dim);
      onBatch?.(++done, starts.length);
    }
  };
  await Promise.all(Array.from({ length: ig.lanes }, (_, l) => lane(l)));
  return out;
}

export function checkAttack(cfg: AttackConfig): void {
  if (!(Number.isFinite(cfg.eps) && cfg.eps >= 0))
    throw new WeightscopeError('invalid-input', `ε must be a non-negative number, got ${cfg.eps}`);
  if (!(Number.isFinite(cfg.alpha) && (cfg.alpha > 0 || (cfg.alpha === 0 && cfg.eps === 0))))
    throw new WeightscopeError('invalid-input', `the step size α must be positive, got ${cfg.alpha}`);
  if (!(Number.isInteger(cfg.steps) && cfg.steps >= 1))
    throw new WeightscopeError('invalid-input', `steps must be a positive integer, got ${cfg.steps}`);
  if (!(Number.isInteger(cfg.batchSize) && cfg.batchSize >= 1))
    throw new WeightscopeError('invalid-input', `batch size must be a positive integer, got ${cfg.batchSize}`);
  if (cfg.clip && !(cfg.clip[0] < cfg.clip[1]))
    throw new WeightscopeError('invalid-input', `the input range [${cfg.clip.join(', ')}] is empty`);
}
