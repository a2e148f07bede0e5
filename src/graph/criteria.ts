/**
 * The training criteria a loss graph can use (Zhou, Zhu et al., "Are all losses created equal? A neural collapse
 * perspective"): cross-entropy, label smoothing, focal loss and MSE, each as a mean over rows of logits [..., C]
 * against integer labels [...]. One home per criterion: its spec string (`ce`, `ls:α`, `focal:γ`, `mse`), its
 * graph (built only from Builder's public methods, so the autodiff differentiates it like any other node, second
 * order included) and its float64 value on the host (the forward pass's loss, and the tests' closed forms).
 *
 *   ce        −log p_y
 *   ls:α      −((1−α)·log p_y + α·mean_k log p_k)       = torch.nn.CrossEntropyLoss(label_smoothing=α)
 *   focal:γ   −(1−p_y)^γ · log p_y                      (1−p_y computed as Σ_{k≠y} p_k: no cancellation near p_y = 1)
 *   mse       Σ_k (z_k − onehot(y)_k)²                  on the logits z (no softmax); summed over classes, averaged
 *                                                       over rows — the issue's scaling, C times torch's MSELoss
 */
import { z } from 'zod';
import { WeightscopeError } from '../errors.js';
import type { Builder } from './builder.js';
import { DT } from './ir.js';

export type Criterion =
  | { readonly kind: 'ce' }
  | { readonly kind: 'ls'; readonly alpha: number }
  | { readonly kind: 'focal'; readonly gamma: number }
  | { readonly kind: 'mse' };

export const CE: Criterion = { kind: 'ce' };

/** Focal exponents up to this integer use repeated products: exact, and smooth to second order at p_y = 1. */
const MAX_INT_POWER = 8;

const SPEC = /^(ce|mse|ls:([^:]*)|focal:([^:]*))$/;

/** The criterion a spec names, or a message saying why the spec is not one. */
function tryParse(spec: string): Criterion | string {
  const m = SPEC.exec(spec.trim());
  if (!m) return `criterion must be ce, ls:ALPHA, focal:GAMMA or mse, got ${JSON.stringify(spec)}`;
  if (m[1] === 'ce') return CE;
  if (m[1] === 'mse') return { kind: 'mse' };
  const raw = (m[2] ?? m[3]).trim();
  const v = Number(raw);
  const what = m[2] !== undefined ? 'label smoothing α' : 'focal γ';
  if (raw === '' || !Number.isFinite(v)) return `${what} must be a number, got ${JSON.stringify(raw)}`;
  if (m[2] !== undefined) {
    if (!(v >= 0 && v < 1)) return `label smoothing α must be in [0, 1), got ${v}`;
    return { kind: 'ls', alpha: v };
  }
  if (!(v >= 0 && v <= 100)) return `focal γ must be in [0, 100], got ${v}`;
  return { kind: 'focal', gamma: v };
}

/** `ce`, `ls:0.1`, `focal:2`, `mse` → the criterion; anything else is an invalid-input error. */
export function parseCriterion(spec: string): Criterion {
  const r = tryParse(spec);
  if (typeof r === 'string') throw new WeightscopeError('invalid-input', r);
  return r;
}

/** The spec string of a criterion (parseCriterion's inverse). */
export function criterionSpec(c: Criterion): string {
  switch (c.kind) {
    case 'ls':
      return `ls:${c.alpha}`;
    case 'focal':
      return `focal:${c.gamma}`;
    default:
      return c.kind;
  }
}

/** A sentence for reports and file metadata. */
export function describeCriterion(c: Criterion): string {
  switch (c.kind) {
    case 'ce':
      return 'mean softmax cross-entropy';
    case 'ls':
      return `mean softmax cross-entropy with label smoothing ${c.alpha}`;
    case 'focal':
      return `mean focal loss -(1-p_y)^${c.gamma} log p_y`;
    case 'mse':
      return 'mean over rows of the squared distance between the logits and the one-hot label (summed over classes)';
  }
}

/**
 * The criterion as an option field (CLI `--criterion`, API `criterion`, library): the spec string, checked here;
 * turn it into a Criterion with parseCriterion where it is used.
 */
export const CriterionSchema = z
  .string()
  .superRefine((s, ctx) => {
    const r = tryParse(s);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
  })
  .meta({ description: 'Training criterion: ce (default), ls:ALPHA (label smoothing), focal:GAMMA or mse (on the logits)' });

// ---------- graph ----------

/** Integer focal exponents (and γ = 0) by repeated products; any other γ by Pow. */
function power(b: Builder, q: string, gamma: number): string | null {
  if (gamma === 0) return null;
  if (Number.isInteger(gamma) && gamma <= MAX_INT_POWER) {
    let out = q;
    for (let i = 1; i < gamma; i++) out = b.mul(out, q);
    return out;
  }
  return b.op('Pow', [q, b.scalarLike(q, gamma)]);
}

/**
 * The criterion's mean over all rows of logits [..., C] against int labels [...], as a scalar value of the graph.
 * Only Builder's public methods: every node has a gradient rule, so gradient and Hv graphs follow.
 */
export function meanCriterion(b: Builder, logits: string, labels: string, c: Criterion = CE): string {
  const r = b.rank(logits, 'loss criterion');
  const last = [r - 1];
  const rows = Array.from({ length: r - 1 }, (_, i) => i);
  const oneHot = (): string => {
    const depth = b.slice1(b.shapeConst(logits), r - 1, r);
    return b.cast(b.op('OneHot', [b.cast(labels, DT.INT64), depth, b.constant(DT.FLOAT, [2], [0, 1])], { axis: -1 }), b.dtype(logits));
  };
  if (c.kind === 'mse') {
    const d = b.sub(logits, oneHot());
    return b.reduceMean(b.reduceSum(b.mul(d, d), last, false), rows, false);
  }
  const logp = b.op('LogSoftmax', [logits], { axis: -1 });
  const onehot = oneHot();
  let picked = b.reduceSum(b.mul(logp, onehot), last, false);
  if (c.kind === 'ls' && c.alpha !== 0) {
    const smooth = b.reduceMean(logp, last, false);
    picked = b.add(b.mul(picked, b.scalarLike(picked, 1 - c.alpha)), b.mul(smooth, b.scalarLike(smooth, c.alpha)));
  } else if (c.kind === 'focal') {
    const others = b.sub(b.scalarLike(onehot, 1), onehot);
    const w = power(b, b.reduceSum(b.mul(b.op('Exp', [logp]), others), last, false), c.gamma);
    if (w) picked = b.mul(w, picked);
  }
  return b.neg(b.reduceMean(picked, rows, false));
}

// ---------- host (float64) ----------

/**
 * The criterion's value for one row z = logits[off .. off+C) with label y, in float64 with a stable
 * log-sum-exp (the forward pass's loss, computed from the logits).
 */
export function criterionRow(c: Criterion, z: ArrayLike<number>, off: number, C: number, y: number): number {
  if (c.kind === 'mse') {
    let s = 0;
    for (let k = 0; k < C; k++) {
      const d = z[off + k] - (k === y ? 1 : 0);
      s += d * d;
    }
    return s;
  }
  let max = -Infinity;
  for (let k = 0; k < C; k++) max = Math.max(max, z[off + k]);
  let s = 0;
  for (let k = 0; k < C; k++) s += Math.exp(z[off + k] - max);
  const lse = Math.log(s) + max;
  const logpY = z[off + y] - lse;
  if (c.kind === 'ce') return -logpY;
  if (c.kind === 'ls') {
    let mean = 0;
    for (let k = 0; k < C; k++) mean += z[off + k] - lse;
    mean /= C;
    return -((1 - c.alpha) * logpY + c.alpha * mean);
  }
  let q = 0;
  for (let k = 0; k < C; k++) if (k !== y) q += Math.exp(z[off + k] - lse);
  return -(c.gamma === 0 ? 1 : q ** c.gamma) * logpY;
}
