/**
 * Rank correlations with the p-values scipy.stats computes by default (scipy 1.17, two-sided):
 * - spearmanr: Pearson correlation of average ranks; p from Student's t with n−2 degrees of freedom,
 *   t = ρ·sqrt((n−2)/((1+ρ)(1−ρ))).
 * - kendalltau (variant 'b', method 'auto'): exact null distribution when neither side has ties and
 *   (n ≤ 33 or min(discordant, total−discordant) ≤ 1), else the normal approximation with the tie-corrected
 *   variance. Constant input gives null (scipy gives NaN).
 * Pure functions.
 */
import { logGamma } from '../numerics/gamma.js';

export interface Correlation {
  /** ρ or τ; null when undefined (fewer than 2 points, constant input). */
  value: number | null;
  p: number | null;
}

/** Ranks 1..n with ties sharing their average rank (scipy.stats.rankdata 'average'). */
export function rankAverage(x: readonly number[]): number[] {
  const idx = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Array<number>(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  let mx = 0,
    my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx,
      dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

function checkPairs(x: readonly number[], y: readonly number[]): void {
  if (x.length !== y.length) throw new RangeError(`x and y differ in length (${x.length} vs ${y.length})`);
  for (const v of [...x, ...y]) if (!Number.isFinite(v)) throw new RangeError('correlation inputs must be finite');
}

const isConstant = (a: readonly number[]): boolean => a.every((v) => v === a[0]);

export function spearman(x: readonly number[], y: readonly number[]): Correlation {
  checkPairs(x, y);
  const n = x.length;
  if (n < 2 || isConstant(x) || isConstant(y)) return { value: null, p: null };
  const rho = pearson(rankAverage(x), rankAverage(y));
  const dof = n - 2;
  if (dof <= 0) return { value: rho, p: null }; // scipy gives NaN: two points carry no evidence
  const denom = (rho + 1) * (1 - rho);
  if (denom <= 0) return { value: rho, p: 0 };
  const t = rho * Math.sqrt(Math.max(0, dof / denom));
  return { value: rho, p: Math.min(1, 2 * studentTSf(Math.abs(t), dof)) };
}

/** Tie statistics as scipy's count_rank_tie: Σt(t−1)/2, Σt(t−1)(t−2), Σt(t−1)(2t+5) over tie groups. */
function tieStats(a: readonly number[]): [number, number, number] {
  const counts = new Map<number, number>();
  for (const v of a) counts.set(v, (counts.get(v) ?? 0) + 1);
  let t0 = 0,
    t1 = 0,
    t2 = 0;
  for (const c of counts.values()) {
    if (c < 2) continue;
    t0 += (c * (c - 1)) / 2;
    t1 += c * (c - 1) * (c - 2);
    t2 += c * (c - 1) * (2 * c + 5);
  }
  return [t0, t1, t2];
}

export function kendallTauB(x: readonly number[], y: readonly number[]): Correlation {
  checkPairs(x, y);
  const n = x.length;
  if (n < 2) return { value: null, p: null };
  // O(n²) pair counts: rankings here have tens of models, not millions of points.
  let dis = 0,
    ntie = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const sx = Math.sign(x[i] - x[j]),
        sy = Math.sign(y[i] - y[j]);
      if (sx === 0 && sy === 0) ntie++;
      else if (sx * sy < 0) dis++;
    }
  }
  const [xtie, x0, x1] = tieStats(x);
  const [ytie, y0, y1] = tieStats(y);
  const tot = (n * (n - 1)) / 2;
  if (xtie === tot || ytie === tot) return { value: null, p: null };
  const conMinusDis = tot - xtie - ytie + ntie - 2 * dis;
  const tau = Math.max(-1, Math.min(1, conMinusDis / Math.sqrt(tot - xtie) / Math.sqrt(tot - ytie)));
  let p: number;
  if (xtie === 0 && ytie === 0 && (n <= 33 || Math.min(dis, tot - dis) <= 1)) {
    p = kendallExactP(n, Math.min(dis, tot - dis));
  } else {
    const m = n * (n - 1);
    const v = (m * (2 * n + 5) - x1 - y1) / 18 + (2 * xtie * ytie) / m + (x0 * y0) / (9 * m * (n - 2));
    p = 2 * normalSf(Math.abs(conMinusDis) / Math.sqrt(v));
  }
  return { value: tau, p: Math.max(0, Math.min(1, p)) };
}

const factorial = (k: number): number => {
  let f = 1;
  for (let i = 2; i <= k; i++) f *= i;
  return f;
};

/**
 * Two-sided exact p of Kendall's statistic with c = min(discordant, concordant) pairs, no ties:
 * 2·P(inversions ≤ c) over the n! permutations, from the Mahonian numbers (counts of permutations with k
 * inversions), built up one element at a time and truncated at c.
 */
export function kendallExactP(n: number, c: number): number {
  const tot = (n * (n - 1)) / 2;
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`n (${n}) must be a positive integer`);
  if (c < 0 || 2 * c > tot) throw new RangeError(`c (${c}) must satisfy 0 <= 2c <= n(n-1)/2`);
  if (n <= 2) return 1;
  if (c === 0) return n < 171 ? 2 / factorial(n) : 0;
  if (c === 1) return n < 172 ? 2 / factorial(n - 1) : 0;
  if (4 * c === n * (n - 1)) return 1;
  // counts[k] = permutations of j elements with k inversions, k ≤ c
  let counts = new Float64Array(c + 1);
  counts[0] = 1;
  for (let j = 2; j <= n; j++) {
    // adding the j-th element adds 0..j−1 inversions: next[k] = Σ_{i=0}^{min(k,j−1)} counts[k−i]
    const next = new Float64Array(c + 1);
    let window = 0;
    for (let k = 0; k <= c; k++) {
      window += counts[k];
      if (k - j >= 0) window -= counts[k - j];
      next[k] = window;
    }
    counts = next;
  }
  let below = 0;
  for (let k = 0; k <= c; k++) below += counts[k];
  return Math.min(1, (2 * below) / factorial(n));
}

// ---------- special functions ----------

/** Continued fraction for the incomplete beta (modified Lentz). */
function betacf(a: number, b: number, x: number): number {
  const TINY = 1e-300,
    EPS = 1e-16;
  const qab = a + b,
    qap = a + 1,
    qam = a - 1;
  let c = 1,
    d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b). */
export function betaInc(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lbt = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lbt) * betacf(a, b, x)) / a;
  return 1 - (Math.exp(lbt) * betacf(b, a, 1 - x)) / b;
}

/** Student's t survival function P(T > t), t ≥ 0. */
export function studentTSf(t: number, dof: number): number {
  if (!Number.isFinite(t)) return t > 0 ? 0 : 1;
  const x = dof / (dof + t * t);
  const tail = 0.5 * betaInc(dof / 2, 0.5, x);
  return t >= 0 ? tail : 1 - tail;
}

/** erfc(x) to ~1e-16 relative (W. J. Cody's rational Chebyshev approximations). */
export function erfc(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 0.5) {
    const z = x * x;
    const p = [3.1611237438705656, 1.13864154151050156e2, 3.77485237685302021e2, 3.20937758913846947e3, 1.85777706184603153e-1];
    const q = [2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3, 2.84423683343917062e3];
    let num = p[4] * z,
      den = z;
    for (let i = 0; i < 3; i++) {
      num = (num + p[i]) * z;
      den = (den + q[i]) * z;
    }
    return 1 - (x * (num + p[3])) / (den + q[3]);
  } else if (ax < 4) {
    const p = [
      5.64188496988670089e-1, 8.88314979438837594, 6.61191906371416295e1, 2.98635138197400131e2, 8.8195222124176909e2,
      1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3, 2.15311535474403846e-8,
    ];
    const q = [
      1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3, 3.29079923573345963e3,
      4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3,
    ];
    let num = p[8] * ax,
      den = ax;
    for (let i = 0; i < 7; i++) {
      num = (num + p[i]) * ax;
      den = (den + q[i]) * ax;
    }
    r = (num + p[7]) / (den + q[7]);
  } else {
    const p = [
      3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4,
      1.63153871373020978e-2,
    ];
    const q = [2.56852019228982242, 1.87295284992346725, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3];
    const z = 1 / (ax * ax);
    let num = p[5] * z,
      den = z;
    for (let i = 0; i < 4; i++) {
      num = (num + p[i]) * z;
      den = (den + q[i]) * z;
    }
    r = (z * (num + p[4])) / (den + q[4]);
    r = (1 / Math.sqrt(Math.PI) - r) / ax;
  }
  // exp(−x²) split to keep precision for large |x|
  const xsq = Math.trunc(ax * 16) / 16;
  const del = (ax - xsq) * (ax + xsq);
  r *= Math.exp(-xsq * xsq) * Math.exp(-del);
  return x < 0 ? 2 - r : r;
}

/** Standard normal survival function. */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}
