/**
 * "First minimum wins" over candidates 0..n−1, as numpy's argmin and powerlaw's xmin choice define it, but with
 * pruning: a sparse, evenly spaced set of seeds is evaluated first so that a good incumbent exists early, then every
 * other candidate in order. Each evaluation receives the incumbent and may stop as soon as its partial value is
 * certain to lose (`loses`): larger, or equal with a larger index. The winner is exactly the first index of the
 * smallest value; only the work done on losers changes.
 */

export interface Incumbent {
  readonly index: number;
  readonly value: number;
}

/** Whether value v at candidate i can no longer become the first minimum against `best`. */
export function loses(v: number, i: number, best: Incumbent | null): boolean {
  return best !== null && (v > best.value || (v === best.value && i > best.index));
}

/**
 * `evaluate(i, best)` returns candidate i's value (or a partial value for which `loses` holds, or null when the
 * candidate is not admissible). `seeds`: about how many evenly spaced candidates go first.
 */
export function firstMinimum(n: number, seeds: number, evaluate: (i: number, best: Incumbent | null) => number | null): Incumbent | null {
  let best: Incumbent | null = null;
  const consider = (i: number): void => {
    const v = evaluate(i, best);
    if (v === null) return;
    if (best === null || v < best.value || (v === best.value && i < best.index)) best = { index: i, value: v };
  };
  const stride = Math.max(1, Math.floor(n / seeds));
  for (let i = 0; i < n; i += stride) consider(i);
  for (let i = 0; i < n; i++) if (i % stride !== 0) consider(i);
  return best;
}
