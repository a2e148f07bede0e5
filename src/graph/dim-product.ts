/**
 * Products of tensor dims that may be symbolic (a number times symbol names), for reasoning about Reshape: which
 * extent a -1 takes (infer.ts) and where a batch axis lands (batch-axis.ts). Also Einsum's equation, read once.
 */
import { attrString, type Dim, type GNode } from './ir.js';

/** A number times symbols (kept sorted, so equal products compare equal). */
export interface Prod {
  readonly n: number;
  readonly s: readonly string[];
}

export const ONE: Prod = { n: 1, s: [] };

/** The product of dims; a null (unknown) dim becomes a fresh symbol equal to nothing else. */
let unknownDim = 0;
export function prodOf(ds: readonly Dim[]): Prod {
  let n = 1;
  const s: string[] = [];
  for (const d of ds) {
    if (typeof d === 'number') n *= d;
    else s.push(d ?? `?unknown${unknownDim++}`);
  }
  return { n, s: s.sort() };
}

export const times = (a: Prod, b: Prod): Prod => ({ n: a.n * b.n, s: [...a.s, ...b.s].sort() });
export const sameProd = (a: Prod, b: Prod): boolean => a.n === b.n && a.s.join('*') === b.s.join('*');

/** `a / b` when b's factors are all in a (numbers dividing, symbols cancelling), else null. */
export function divide(a: Prod, b: Prod): Prod | null {
  if (b.n === 0 || a.n % b.n !== 0) return null;
  const s = [...a.s];
  for (const x of b.s) {
    const i = s.indexOf(x);
    if (i < 0) return null;
    s.splice(i, 1);
  }
  return { n: a.n / b.n, s };
}

/** A product as one dim: a number, or a lone symbol; null when it is neither. */
export function asDim(p: Prod): Dim {
  if (p.s.length === 0) return p.n;
  return p.s.length === 1 && p.n === 1 ? p.s[0] : null;
}

/** An Einsum node's input terms and output letters (explicit, or the letters used once, sorted); null with an ellipsis. */
export function einsumTerms(node: GNode): { terms: string[]; rhs: string } | null {
  const eq = attrString(node, 'equation', '').replace(/\s/g, '');
  if (!eq || eq.includes('...')) return null;
  const [lhs, rhsGiven] = eq.split('->');
  const terms = lhs.split(',');
  const letters = terms.join('');
  const rhs =
    rhsGiven ??
    [...new Set(letters)]
      .filter((c) => letters.split(c).length === 2)
      .sort()
      .join('');
  return { terms, rhs };
}
