/** Compensated (Neumaier) suffix sums: Σ_{k≥i} v_k for every i, as hi + lo pairs, so tail statistics are O(1) each. */

export interface SuffixSums {
  /** hi[i] + lo[i] = Σ_{k≥i} v_k to about one ulp of the largest partial sum; hi[n] = lo[n] = 0. */
  readonly hi: Float64Array;
  readonly lo: Float64Array;
}

/** Suffix sums of `v`, or of `f(v_k)` when `f` is given (e.g. Math.log). */
export function suffixSums(v: ArrayLike<number>, f?: (x: number) => number): SuffixSums {
  const n = v.length;
  const hi = new Float64Array(n + 1);
  const lo = new Float64Array(n + 1);
  let s = 0;
  let c = 0;
  for (let i = n - 1; i >= 0; i--) {
    const x = f ? f(v[i]) : v[i];
    const t = s + x;
    if (Math.abs(s) >= Math.abs(x)) c += s - t + x;
    else c += x - t + s;
    s = t;
    hi[i] = s;
    lo[i] = c;
  }
  return { hi, lo };
}

/** The compensated value hi[i] + lo[i] of a suffix sum. */
export function suffixAt(s: SuffixSums, i: number): number {
  return s.hi[i] + s.lo[i];
}
