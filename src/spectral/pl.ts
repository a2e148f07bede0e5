/**
 * Power-law fit of an ESD tail, as WeightWatcher 0.7.5.5 does it by default (`pl_package='ww'`, class WWFit), plus
 * the old-WW / KDD'23 variant (powerlaw 1.5 with xmax = max λ) and WW's `xmax = −k` and `fix_fingers='clip_xmax'`.
 *
 * WWFit, on x = sorted eigenvalues > 1e-5 (N of them): for every candidate index i < N−1 (duplicates kept),
 *   α_i = 1 + n / (Σ_{k≥i} ln x_k − n ln x_i),  n = N − i,
 *   D_i = max_{k≥i} |1 − (x_k/x_i)^(1−α_i) − (k−i)/n|  if α_i > 1, else 1,
 * and the first index of the smallest D wins. Alphas come from suffix sums of ln x (O(1) each); D is O(n) per
 * candidate, but a candidate is abandoned as soon as its running maximum cannot beat the best D so far, which
 * keeps the exact first-argmin selection while skipping most of the O(N²) work.
 */

import { firstMinimum, loses, type Incumbent } from '../numerics/first-min.js';
import { suffixSums } from '../numerics/sums.js';

export const EVALS_THRESH = 1e-5;
export const OVER_TRAINED_THRESH = 2.0;
export const UNDER_TRAINED_THRESH = 6.0;

export type PlVariant = 'ww' | 'kdd';

export interface PlOptions {
  /** 'ww' (default): WW 0.7.5.5 WWFit. 'kdd': powerlaw 1.5 with xmax = max λ (unique candidates, truncated CDF). */
  variant?: PlVariant;
  /** WW's `xmax = −k`: drop the k largest eigenvalues before fitting (k ≥ 1). */
  dropTop?: number;
  /** WW's `fix_fingers='clip_xmax'` (ww variant only). */
  clipXmax?: boolean;
  /** clip_xmax: WW's max_fingers (reset to 10 whenever it is < len(evals)/2, as WW does). */
  maxFingers?: number;
  /** clip_xmax: WW's finger_thresh. */
  fingerThresh?: number;
  /** Threshold below which eigenvalues do not enter the fit (WW's EVALS_THRESH). */
  thresh?: number;
}

export interface PlFit {
  alpha: number;
  xmin: number;
  xmax: number | null;
  D: number;
  sigma: number;
  /** #{all eigenvalues ≥ xmin} (WW's column; −1 on failure). */
  num_pl_spikes: number;
  /** Number of fitted points ≥ xmin. */
  n_tail: number;
  status: 'ok' | 'failed';
  reason?: string;
  /** clip_xmax only: WW's num_fingers and raw_alpha (the unclipped fit's alpha). */
  num_fingers?: number;
  raw_alpha?: number;
}

/** Result of one WWFit/powerlaw scan over the candidates of sorted data x. */
interface Scan {
  alpha: number;
  xmin: number;
  D: number;
  sigma: number;
  nTail: number;
}

/** WW's warning column from an alpha: 'over-trained' below 2, 'under-trained' above 6, else ''. */
export function plWarning(alpha: number): string {
  if (alpha < OVER_TRAINED_THRESH) return 'over-trained';
  if (alpha > UNDER_TRAINED_THRESH) return 'under-trained';
  return '';
}

/**
 * WWFit on sorted ascending data x (all > 0). Throws nothing; returns null when there is no candidate.
 * The D of candidate i equals numpy's value; only the order of evaluation differs (pruned candidates are the
 * ones whose D is provably not the first minimum).
 */
export function wwScan(x: Float64Array): Scan | null {
  const N = x.length;
  if (N < 2) return null;
  const L = new Float64Array(N);
  for (let i = 0; i < N; i++) L[i] = Math.log(x[i]);
  const { hi, lo } = suffixSums(L);
  const nc = N - 1;
  const alphas = new Float64Array(nc);
  for (let i = 0; i < nc; i++) {
    const n = N - i;
    alphas[i] = 1 + n / (hi[i] - n * L[i] + lo[i]);
  }
  // D_i, or a partial value that already loses against the incumbent (first-minimum pruning)
  const evalD = (i: number, best: Incumbent | null): number => {
    const a = alphas[i];
    const n = N - i;
    if (!(a > 1)) return 1;
    if (a === Infinity) return (n - 1) / n; // numpy: 1**-inf = 1, so only the empirical CDF remains
    const e = 1 - a;
    const Li = L[i];
    let m = 0;
    // coarse pass first: a cheap lower bound usually rules the candidate out
    const stride = n > 64 ? Math.floor(n / 32) : 0;
    if (stride > 0) {
      for (let k = i + stride; k < N; k += stride) {
        const d = Math.abs(1 - Math.exp(e * (L[k] - Li)) - (k - i) / n);
        if (d > m) {
          m = d;
          if (loses(m, i, best)) return m;
        }
      }
    }
    for (let k = i; k < N; k++) {
      const d = Math.abs(1 - Math.exp(e * (L[k] - Li)) - (k - i) / n);
      if (d > m) {
        m = d;
        if (loses(m, i, best)) return m;
      }
    }
    return m;
  };
  // seed with a sparse set of candidates so that pruning bites early, then all of them
  const best = firstMinimum(nc, 48, evalD)!;
  const bestI = best.index;
  const bestD = best.value;
  const n = N - bestI;
  return {
    alpha: alphas[bestI],
    xmin: x[bestI],
    D: bestD,
    sigma: (alphas[bestI] - 1) / Math.sqrt(n),
    nTail: n,
  };
}

/**
 * powerlaw 1.5 `Fit(x, xmax=max(x))` on sorted data x > 0: candidates = unique values except the largest; alpha by
 * the closed form over x ≥ xmin; D against the CDF truncated to [xmin, xmax], at the unique tail values, with the
 * left-limit empirical CDF #{tail < u}/n.
 */
export function kddScan(x: Float64Array): Scan | null {
  const N = x.length;
  if (N < 2) return null;
  const L = new Float64Array(N);
  for (let i = 0; i < N; i++) L[i] = Math.log(x[i]);
  const { hi, lo } = suffixSums(L);
  const Lmax = L[N - 1];
  // first index of each unique value
  const firsts: number[] = [];
  for (let i = 0; i < N; i++) if (i === 0 || x[i] !== x[i - 1]) firsts.push(i);
  if (firsts.length < 2) return null;
  let best: Scan | null = null;
  for (let c = 0; c < firsts.length - 1; c++) {
    const i = firsts[c];
    const n = N - i;
    const a = 1 + n / (hi[i] - n * L[i] + lo[i]);
    let D = 1;
    if (a > 1) {
      const e = 1 - a;
      const Li = L[i];
      const norm = 1 - Math.exp(e * (Lmax - Li));
      let dPlus = -Infinity;
      let dMinus = -Infinity;
      for (let u = c; u < firsts.length; u++) {
        const k = firsts[u];
        const T = (1 - Math.exp(e * (L[k] - Li))) / norm;
        const diff = T - (k - i) / n;
        if (diff > dPlus) dPlus = diff;
        if (-diff > dMinus) dMinus = -diff;
        if (best && Math.max(dPlus, dMinus) >= best.D) break; // later candidates win ties only if strictly lower
      }
      D = Math.max(dPlus, dMinus);
    }
    if (!best || D < best.D) best = { alpha: a, xmin: x[i], D, sigma: (a - 1) / Math.sqrt(n), nTail: n };
  }
  return best;
}

function failed(reason: string): PlFit {
  return { alpha: -1, xmin: -1, xmax: null, D: -1, sigma: -1, num_pl_spikes: -1, n_tail: 0, status: 'failed', reason };
}

function sortedCopy(evals: Float64Array): Float64Array {
  const s = Float64Array.from(evals);
  s.sort();
  return s;
}

function above(sorted: Float64Array, thresh: number): Float64Array {
  let i = 0;
  while (i < sorted.length && !(sorted[i] > thresh)) i++;
  return sorted.subarray(i);
}

function countAtLeast(sorted: Float64Array, v: number): number {
  let c = 0;
  for (let i = sorted.length - 1; i >= 0 && sorted[i] >= v; i--) c++;
  return c;
}

/**
 * WW's clip_xmax (RMT_Util.fit_clipped_powerlaw with the ww fit): refit with the top idx = 2..max_fingers−1
 * eigenvalues removed; accept the first fit whose alpha is more than finger_thresh below the first fit's
 * (num_fingers = idx − 1), stop early when a clipped alpha is ≤ 2. WW then refits up to three more clipped sets as
 * a check that only logs, but a failure there (too few points) fails the layer, so the same points must exist.
 */
function clipScan(nz: Float64Array, maxFingers: number, fingerThresh: number): { fit: Scan; raw: Scan; fingers: number } | string {
  const first = wwScan(nz);
  if (!first) return 'fewer than 2 eigenvalues above the threshold';
  let best = first;
  let fingers = 0;
  let last = first;
  let idx = 2;
  for (; idx < maxFingers; idx++) {
    const fit = wwScan(nz.subarray(0, Math.max(0, nz.length - idx)));
    if (!fit) return `clip_xmax: fewer than 2 eigenvalues left after removing the top ${idx}`;
    last = fit;
    if (fit.alpha + fingerThresh < first.alpha) {
      best = fit;
      fingers = idx - 1;
      break;
    }
    if (fit.alpha <= 2.0) break;
  }
  if (idx === maxFingers) idx = maxFingers - 1; // Python's loop variable keeps the last value of range()
  for (let idy = idx + 1; idy < idx + 4; idy++) {
    const check = wwScan(nz.subarray(0, Math.max(0, nz.length - idy)));
    if (!check) return `clip_xmax: fewer than 2 eigenvalues left after removing the top ${idy}`;
    if (Math.abs(check.alpha - last.alpha) > fingerThresh) break;
  }
  return { fit: best, raw: first, fingers };
}

/**
 * Fit a power law to the tail of an ESD (eigenvalues in any order, zeros allowed). Never throws: bad input gives
 * status 'failed' with a reason and WW's failure values (−1).
 */
export function fitPowerLaw(evals: Float64Array, opts: PlOptions = {}): PlFit {
  const variant = opts.variant ?? 'ww';
  const thresh = opts.thresh ?? EVALS_THRESH;
  for (let i = 0; i < evals.length; i++) {
    if (!Number.isFinite(evals[i])) return failed(`non-finite eigenvalue at index ${i}`);
  }
  let all = sortedCopy(evals);
  if (opts.dropTop !== undefined) {
    const k = opts.dropTop;
    if (!Number.isInteger(k) || k < 1) return failed(`dropTop must be a positive integer, got ${k}`);
    if (k > all.length / 2) return failed(`dropTop ${k} removes more than half of ${all.length} eigenvalues`);
    all = all.subarray(0, all.length - k);
  }
  const nz = above(all, thresh);
  let scan: Scan | null;
  let extra: Pick<PlFit, 'num_fingers' | 'raw_alpha'> = {};
  if (opts.clipXmax) {
    if (variant !== 'ww') return failed("clip_xmax is implemented for the 'ww' variant only");
    let maxFingers = opts.maxFingers ?? 10;
    if (maxFingers < 0 || maxFingers < all.length / 2) maxFingers = 10;
    const r = clipScan(nz, maxFingers, opts.fingerThresh ?? 1.0);
    if (typeof r === 'string') return failed(r);
    scan = r.fit;
    extra = { num_fingers: r.fingers, raw_alpha: r.raw.alpha };
  } else {
    scan = variant === 'kdd' ? kddScan(nz) : wwScan(nz);
  }
  if (!scan) {
    return failed(
      variant === 'kdd' ? `fewer than 2 distinct eigenvalues above ${thresh}` : `fewer than 2 eigenvalues above ${thresh} (${nz.length})`,
    );
  }
  if (!Number.isFinite(scan.alpha)) return failed('the tail eigenvalues are all equal: alpha is infinite');
  // xmax: the largest fitted eigenvalue (for clip_xmax, of the clipped set)
  const xmax = opts.clipXmax ? nz[nz.length - 1 - (extra.num_fingers ? extra.num_fingers + 1 : 0)] : nz[nz.length - 1];
  return {
    alpha: scan.alpha,
    xmin: scan.xmin,
    xmax,
    D: scan.D,
    sigma: scan.sigma,
    num_pl_spikes: countAtLeast(all, scan.xmin),
    n_tail: scan.nTail,
    status: 'ok',
    ...extra,
  };
}
