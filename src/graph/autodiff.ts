/**
 * Reverse-mode differentiation over the IR: from a scalar value y, walk the nodes that lie on a path from the
 * `wrt` values to y in reverse order and apply each op's rule (rules/). Rules emit ordinary nodes with rules of
 * their own, so the result can be differentiated again (exact Hessian-vector products by double backprop).
 */
import { WeightscopeError } from '../errors.js';
import type { Builder } from './builder.js';
import { isFloatType, type GNode } from './ir.js';
import { getRule, isNonDifferentiable } from './rules/index.js';

export interface GradContext {
  b: Builder;
  node: GNode;
  /** Gradient of each output, undefined where no gradient flows into it. */
  dOut: (string | undefined)[];
  /** Which inputs need a gradient (active and on the path to y). */
  needs: boolean[];
}

export interface GradRule {
  op: string;
  /** Input indices that can carry gradient (default: all). Others (shapes, indices, masks) are constants. */
  diffInputs?: number[];
  grad(ctx: GradContext): (string | undefined)[];
}

function diffIndex(node: GNode, i: number): boolean {
  const rule = getRule(node.opType, node.domain);
  return !rule?.diffInputs || rule.diffInputs.includes(i);
}

/**
 * Gradients of scalar y with respect to each of `wrt`, appended to b's graph. undefined: y does not depend on it.
 * `seed` is dy (default: 1 of y's dtype).
 */
export function gradients(b: Builder, y: string, wrt: string[], seed?: string): (string | undefined)[] {
  const nodes = [...b.g.nodes];
  const active = new Set(wrt);
  for (const n of nodes) {
    if (n.domain === '' && isNonDifferentiable(n.opType)) continue;
    if (n.inputs.some((x, i) => x && active.has(x) && diffIndex(n, i))) {
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
      if (x && active.has(x) && diffIndex(n, i)) needed.add(x);
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
    const rule = getRule(n.opType, n.domain);
    if (!rule) {
      throw new WeightscopeError('unsupported-op', `no gradient rule for op ${n.domain ? n.domain + ':' : ''}${n.opType} (node '${n.name}') on the differentiable path`, { op: n.opType, node: n.name });
    }
    const needs = n.inputs.map((x, i) => !!x && active.has(x) && needed.has(x) && diffIndex(n, i));
    const res = rule.grad({ b, node: n, dOut, needs });
    n.inputs.forEach((x, i) => {
      const g = res[i];
      if (needs[i] && g) push(x, g);
    });
  }
  return wrt.map((w) => total(w));
}
