/** Registry of gradient rules, one family per file. */
import type { GradRule } from '../autodiff.js';
import { INTERNAL_DOMAIN } from '../ir.js';
import { convRules, internalConvRules } from './conv.js';
import { elementwiseRules } from './elementwise.js';
import { linalgRules } from './linalg.js';
import { NON_DIFFERENTIABLE } from './nondiff.js';
import { poolRules } from './pool.js';
import { reduceRules } from './reduce.js';
import { shapeRules } from './shape.js';
import { softmaxRules } from './softmax.js';

const RULES = new Map<string, GradRule>();
for (const r of [...elementwiseRules, ...linalgRules, ...softmaxRules, ...reduceRules, ...shapeRules, ...convRules, ...poolRules]) {
  RULES.set(r.op, r);
}

const INTERNAL = new Map<string, GradRule>(internalConvRules.map((r) => [r.op, r]));

export function getRule(op: string, domain = ''): GradRule | undefined {
  if (domain === INTERNAL_DOMAIN) return INTERNAL.get(op);
  return domain === '' ? RULES.get(op) : undefined;
}

export function isNonDifferentiable(op: string): boolean {
  return NON_DIFFERENTIABLE.has(op);
}

/** Ops that have a gradient rule (for docs and tests). */
export function ruleOps(): string[] {
  return [...RULES.keys()];
}
