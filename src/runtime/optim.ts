/**
 * Optimisers with PyTorch's update rules (torch.optim.SGD and Adam/AdamW, 1.13 semantics), updating float32
 * parameters in place. Each element is computed in float64 and stored as float32, so results agree with PyTorch's
 * float32 arithmetic to rounding. `lr` is mutable so schedules can set it between steps.
 */
import { WeightscopeError } from '../errors.js';
import type { ParamMap } from './params.js';

export interface Optimizer {
  lr: number;
  /** One update of `params` (in place) from `grads` (same names; extra names in params are left alone). */
  step(params: ParamMap, grads: ReadonlyMap<string, Float32Array>): void;
  /** Number of steps taken. */
  readonly steps: number;
}

export interface SgdOptions {
  readonly lr: number;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly weightDecay?: number;
  readonly nesterov?: boolean;
}

function positive(v: number, what: string, allowZero = true): void {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new WeightscopeError('invalid-input', `${what} must be ${allowZero ? 'non-negative' : 'positive'}, got ${v}`);
  }
}

function gradOf(grads: ReadonlyMap<string, Float32Array>, name: string, size: number): Float32Array {
  const g = grads.get(name);
  if (!g) throw new WeightscopeError('invalid-input', `no gradient for parameter '${name}'`);
  if (g.length !== size) throw new WeightscopeError('shape-mismatch', `gradient of '${name}' has ${g.length} values, expected ${size}`);
  return g;
}

/**
 * SGD as torch.optim.SGD: g ← ∇ + wd·θ; with momentum, buf ← g on the first step, else μ·buf + (1−dampening)·g;
 * g ← g + μ·buf (Nesterov) or buf; θ ← θ − lr·g.
 */
export function sgd(opts: SgdOptions): Optimizer {
  const momentum = opts.momentum ?? 0;
  const dampening = opts.dampening ?? 0;
  const wd = opts.weightDecay ?? 0;
  const nesterov = opts.nesterov ?? false;
  positive(opts.lr, 'learning rate');
  positive(momentum, 'momentum');
  positive(wd, 'weight decay');
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new WeightscopeError('invalid-input', 'Nesterov momentum needs momentum > 0 and dampening 0');
  }
  const bufs = new Map<string, Float32Array>();
  const o = {
    lr: opts.lr,
    steps: 0,
    step(params: ParamMap, grads: ReadonlyMap<string, Float32Array>) {
      for (const [name, grad] of grads) {
        const p = params.get(name);
        if (!p) throw new WeightscopeError('invalid-input', `gradient for unknown parameter '${name}'`);
        gradOf(grads, name, p.length);
        let buf = bufs.get(name);
        const first = !buf;
        if (momentum !== 0 && !buf) {
          buf = new Float32Array(p.length);
          bufs.set(name, buf);
        }
        for (let i = 0; i < p.length; i++) {
          let g = grad[i] + wd * p[i];
          if (buf) {
            const b = first ? g : momentum * buf[i] + (1 - dampening) * g;
            buf[i] = b;
            g = nesterov ? g + momentum * buf[i] : buf[i];
          }
          p[i] = p[i] - o.lr * g;
        }
      }
      o.steps++;
    },
  };
  return o;
}

export interface AdamOptions {
  readonly lr?: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  readonly weightDecay?: number;
  /** AdamW: decay θ ← θ·(1 − lr·wd) instead of adding wd·θ to the gradient. */
  readonly decoupled?: boolean;
}

/**
 * Adam as torch.optim.Adam (or AdamW with `decoupled`): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
 * θ ← θ − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε).
 */
export function adam(opts: AdamOptions = {}): Optimizer {
  const [b1, b2] = opts.betas ?? [0.9, 0.999];
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? (opts.decoupled ? 1e-2 : 0);
  const decoupled = opts.decoupled ?? false;
  positive(opts.lr ?? 1e-3, 'learning rate');
  positive(eps, 'eps');
  positive(wd, 'weight decay');
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1))
    throw new WeightscopeError('invalid-input', `Adam betas must be in [0, 1), got ${b1}, ${b2}`);
  const m1 = new Map<string, Float32Array>();
  const m2 = new Map<string, Float32Array>();
  const o = {
    lr: opts.lr ?? 1e-3,
    steps: 0,
    step(params: ParamMap, grads: ReadonlyMap<string, Float32Array>) {
      const t = o.steps + 1;
      const bc1 = 1 - b1 ** t;
      const bc2 = Math.sqrt(1 - b2 ** t);
      const stepSize = o.lr / bc1;
      for (const [name, grad] of grads) {
        const p = params.get(name);
        if (!p) throw new WeightscopeError('invalid-input', `gradient for unknown parameter '${name}'`);
        gradOf(grads, name, p.length);
        let m = m1.get(name);
        let v = m2.get(name);
        if (!m || !v) {
          m = new Float32Array(p.length);
          v = new Float32Array(p.length);
          m1.set(name, m);
          m2.set(name, v);
        }
        for (let i = 0; i < p.length; i++) {
          if (decoupled) p[i] = p[i] * (1 - o.lr * wd);
          const g = decoupled ? grad[i] : grad[i] + wd * p[i];
          m[i] = b1 * m[i] + (1 - b1) * g;
          v[i] = b2 * v[i] + (1 - b2) * g * g;
          p[i] = p[i] - (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2 + eps);
        }
      }
      o.steps = t;
    },
  };
  return o;
}
