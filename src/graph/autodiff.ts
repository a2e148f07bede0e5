/**
 * Reverse-mode differentiation over the IR: from a scalar value y, walk the nodes that lie on a path from the
 * `wrt` values to y in reverse order and apply each op's gradient rule (the op table, ops/). Rules emit ordinary
 * nodes with rules of their own, so the result can be differentiated again (exact Hessian-vector products by double
 * backprop). Loud: an op without a rule on the path is an unsupported-op error, and a rule that gives no gradient, or
 * one of the wrong shape or dtype, for an input that needs one is a bug reported with the op, node and input.
 */
import { WeightscopeError } from '../errors.js';
import type { Emitter } from './emitter.js';
import { isFloatType, type GNode } from './ir.js';
import { opKey } from './op-names.js';
import { opDef } from './ops/index.js';
import type { GradCtx, GradSpec } from './ops/types.js';

export type { GradCtx, GradCtx as GradContext, GradRule, Thunk } from './ops/types.js';

/** A gradient rule broke its contract (a bug in the rule, not in the model). */
export class GradientRuleError extends Error {
  override readonly name = 'GradientRuleError';
}

const gradSpec = (n: GNode): GradSpec | undefined => opDef(n.opType, n.domain)?.grad;

/** Whether gradient can flow from input i of n into its outputs (unknown ops: every input, so they are reported). */
function carries(n: GNode, i: number): boolean {
  const s = gradSpec(n);
  if (!s) return true;
  if (s.kind === 'none') return false;
  return s.kind !== 'rule' || !s.inputs || s.inputs.includes(i);
}

const opName = (n: GNode): string => opKey(n.opType, n.domain);
const dims = (s: readonly unknown[] | null): string => (s ? `[${s.join(',')}]` : '?');

/** A needed input's gradient must match its shape (where both are known) and dtype. */
function checkGradient(b: Emitter, n: GNode, i: number, gx: string): void {
  const x = n.inputs[i];
  const xs = b.shapeOf(x),
    gs = b.shapeOf(gx);
  const where = `the gradient rule of ${opName(n)} (node '${n.name}') gives input ${i} ('${x}')`;
  if (xs && gs && (xs.length !== gs.length || xs.some((d, k) => typeof d === 'number' && typeof gs[k] === 'number' && d !== gs[k]))) {
    throw new GradientRuleError(`${where} a gradient of shape ${dims(gs)}, not ${dims(xs)}`);
  }
  const dx = b.dtype(x),
    dg = b.dtype(gx);
  if (dx && dg && dx !== dg) throw new GradientRuleError(`${where} a gradient of ONNX type ${dg}, not ${dx}`);
}

/**
 * Gradients of scalar y with respect to each of `wrt`, appended to b's graph. undefined: y does not depend on it.
 * `seed` is dy (default: 1 of y's dtype).
 */
export function gradients(b: Emitter, y: string, wrt: string[], seed?: string): (string | undefined)[] {
  const nodes = [...b.g.nodes];
  const active = new Set(wrt);
  for (const n of nodes) {
    if (n.inputs.some((x, i) => x && active.has(x) && carries(n, i))) {
      for (const o of n.outputs) if (o && isFloatType(b.dtype(o) || 1)) active.add(o);
    }
  }
  if (!active.has(y)) return wrt.map(() => undefined);
  const needed = new Set([y]);
  const relevant: GNode[] = [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!n.outputs.some((o) => active.has(o) && needed.has(o))) continue;
    relevant.push(n);
    n.inputs.forEach((x, i) => {
      if (x && active.has(x) && carries(n, i)) needed.add(x);
    });
  }
  const contrib = new Map<string, string[]>();
  const push = (v: string, g: string): void => {
    const l = contrib.get(v);
    if (l) l.push(g);
    else contrib.set(v, [g]);
  };
  const total = (v: string): string | undefined => {
    const l = contrib.get(v);
    if (!l || l.length === 0) return undefined;
    let acc = l[0];
    for (let i = 1; i < l.length; i++) acc = b.add(acc, l[i]);
    contrib.set(v, [acc]);
    return acc;
  };
  push(y, seed ?? b.scalarLike(y, 1));
  for (const n of relevant) {
    const dOut = n.outputs.map((o) => (o && active.has(o) ? total(o) : undefined));
    if (dOut.every((d) => d === undefined)) continue;
    const spec = gradSpec(n);
    if (spec?.kind !== 'rule') {
      const why = spec?.kind === 'decompose' ? ' (a composite op: decomposeAndInfer rewrites it first)' : '';
      throw new WeightscopeError(
        'unsupported-op',
        `no gradient rule for op ${opName(n)} (node '${n.name}') on the differentiable path${why}`,
        { op: n.opType, node: n.name },
      );
    }
    let zeros: string | undefined;
    const ctx: GradCtx = {
      b,
      node: n,
      dOut,
      get g() {
        return dOut[0] ?? (zeros ??= b.zerosLike(n.outputs[0]));
      },
    };
    const thunks = spec.rule(ctx);
    n.inputs.forEach((x, i) => {
      if (!x || !active.has(x) || !needed.has(x) || !carries(n, i)) return;
      const thunk = thunks[i];
      if (!thunk)
        throw new GradientRuleError(`the gradient rule of ${opName(n)} (node '${n.name}') gives no gradient for input ${i} ('${x}')`);
      const gx = thunk();
      checkGradient(b, n, i, gx);
      push(x, gx);
    });
  }
  return wrt.map((w) => total(w));
}
