/**
 * The xmin search range of WW's `fix_fingers='xmin_peak'` (used by its E_TPL fit) and of the KDD'23 code, and the
 * candidate list powerlaw 1.5 derives from a range: the unique data values inside [min(range), max(range)] (both
 * ends inclusive) except the largest one.
 */
import { EVALS_THRESH } from './pl.js';

export type XminRule = 'ww' | 'kdd';

/** numpy.histogram(v, bins) counts with numpy's uniform-bin edge rules; returns counts and edges. */
export function numpyHistogram(v: Float64Array, bins: number): { counts: Int32Array; edges: Float64Array } {
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < v.length; i++) {
    if (v[i] < first) first = v[i];
    if (v[i] > last) last = v[i];
  }
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const edges = new Float64Array(bins + 1);
  const step = (last - first) / bins; // numpy.linspace: i*step + start, last edge = stop
  for (let i = 0; i < bins; i++) edges[i] = i * step + first;
  edges[bins] = last;
  const counts = new Int32Array(bins);
  const denom = last - first;
  for (let j = 0; j < v.length; j++) {
    const a = v[j];
    let idx = Math.trunc(((a - first) / denom) * bins);
    if (idx === bins) idx -= 1;
    if (a < edges[idx]) idx -= 1;
    if (a >= edges[idx + 1] && idx !== bins - 1) idx += 1;
    counts[idx]++;
  }
  return { counts, edges };
}

/**
 * WW's peak of the ESD on a log scale: the left edge (as 10^edge) of the first fullest bin of a 100-bin histogram of
 * log10(λ) over λ > 1e-5. Null when no eigenvalue is above the threshold.
 */
export function xminPeak(evals: Float64Array, thresh = EVALS_THRESH): number | null {
  const logs = new Float64Array(evals.length);
  let n = 0;
  for (let i = 0; i < evals.length; i++) if (evals[i] > thresh) logs[n++] = Math.log10(evals[i]);
  if (n === 0) return null;
  const { counts, edges } = numpyHistogram(logs.subarray(0, n), 100);
  let ih = 0;
  for (let i = 1; i < counts.length; i++) if (counts[i] > counts[ih]) ih = i;
  return Math.pow(10, edges[ih]);
}

/**
 * The search range for xmin. 'ww' (WW 0.7.5.5, as written there): (log10(0.95 p), 1.5 p) — the lower bound is a
 * log10 value, a quirk kept for parity. 'kdd' (WW 0.5.6 / KDD code): (0.95 p, 1.05 p).
 */
export function xminRange(peak: number, rule: XminRule): [number, number] {
  return rule === 'ww' ? [Math.log10(0.95 * peak), 1.5 * peak] : [0.95 * peak, 1.05 * peak];
}

/**
 * Indices (into sorted data x) of the candidate xmins for a range: the first index of each unique value inside
 * [min(range), max(range)], without the largest such value.
 */
export function rangeCandidates(x: Float64Array, range: [number, number]): number[] {
  const lo = Math.min(range[0], range[1]);
  const hi = Math.max(range[0], range[1]);
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v < lo || v > hi) continue;
    if (i > 0 && x[i - 1] === v) continue;
    out.push(i);
  }
  out.pop();
  return out;
}
