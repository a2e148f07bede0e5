/**
 * Special functions for the truncated power-law fit: the upper incomplete gamma function Γ(s, x) for real s
 * (negative s included, where Γ(s) itself is infinite) and x ≥ 0.
 *
 * Everything is built around the *scaled* function G(s, x) = Γ(s, x) · x^(−s) · e^x, which stays O(1) where
 * Γ(s, x) overflows or underflows, and which satisfies the two recurrences
 *   G(s+1, x) = (s·G(s, x) + 1) / x        (used upward, s > 0: no cancellation)
 *   G(s−1, x) = (1 − x·G(s, x)) / (1 − s)  (used downward for small x, where x·G < 1)
 * Regions: x ≥ 1.5 → Legendre continued fraction (modified Lentz); x < 1.5 → the Temme-style series around a
 * base order |s0| ≤ 1/2 that cancels the poles of Γ(s) at s = 0 analytically, then the recurrences.
 */
import { EULER_GAMMA, logGamma1p } from '../numerics/gamma.js';

const EPS = Number.EPSILON;
const CF_MIN_X = 1.5;

/** A 4-entry memo of logGamma1p: the fits evaluate G at the same few orders s, s+1, s+2 many times over. */
const memoKeys = new Float64Array(4).fill(NaN);
const memoVals = new Float64Array(4);
let memoNext = 0;
function logGamma1pMemo(t: number): number {
  for (let i = 0; i < 4; i++) if (memoKeys[i] === t) return memoVals[i];
  const v = logGamma1p(t);
  memoKeys[memoNext] = t;
  memoVals[memoNext] = v;
  memoNext = (memoNext + 1) & 3;
  return v;
}

/** Γ(s) for 0 < s ≤ 2.5 (all the upper-gamma code needs). */
export function gammaSmall(s: number): number {
  if (!(s > 0 && s <= 2.5)) throw new RangeError(`gammaSmall: s must be in (0, 2.5], got ${s}`);
  if (s < 0.5) return Math.exp(logGamma1pMemo(s)) / s; // Γ(s) = Γ(1+s)/s
  if (s <= 1.5) return Math.exp(logGamma1pMemo(s - 1));
  return (s - 1) * Math.exp(logGamma1pMemo(s - 2));
}

/** G(s, x) by the continued fraction, any real s, x ≥ 1.5 (converges in < 100 terms there). */
function scaledByContinuedFraction(s: number, x: number): number {
  // Γ(s,x) = x^s e^−x / (b0 − a1/(b1 − a2/(b2 − …))), b_k = x + 2k + 1 − s, a_k = k(k − s)
  const tiny = 1e-300;
  let f = x + 1 - s;
  if (f === 0) f = tiny;
  let C = f;
  let D = 0;
  for (let k = 1; k < 2000; k++) {
    const an = -k * (k - s);
    const bn = x + 2 * k + 1 - s;
    D = bn + an * D;
    if (D === 0) D = tiny;
    C = bn + an / C;
    if (C === 0) C = tiny;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return 1 / f;
}

/**
 * Γ(s0, x)·x^(−s0)·e^x for |s0| ≤ 0.5 (or 0.5 < s0 ≤ 1.5) and 0 < x < 1.5:
 * Γ(s0,x) = Γ(s0) − x^s0 Σ_{k≥0} (−x)^k/(k!(s0+k)); the k = 0 term and Γ(s0) are combined as
 * [(Γ(1+s0) − 1) − (x^s0 − 1)]/s0, which has a finite limit (−γ − ln x) at s0 = 0.
 */
function scaledBySeries(s0: number, x: number): number {
  const lx = Math.log(x);
  // Σ_{k≥1} (−x)^k / (k! (s0 + k))
  let sum = 0;
  let term = 1;
  for (let k = 1; k < 200; k++) {
    term *= -x / k;
    const t = term / (s0 + k);
    sum += t;
    if (Math.abs(t) < EPS * 0.25 * Math.abs(sum)) break;
  }
  let gamma: number;
  if (Math.abs(s0) <= 0.5) {
    const lg = logGamma1pMemo(s0); // ln Γ(1+s0), O(s0)
    const a = s0 === 0 ? -EULER_GAMMA : Math.expm1(lg) / s0; // (Γ(1+s0) − 1)/s0
    const b = s0 === 0 ? lx : Math.expm1(s0 * lx) / s0; // (x^s0 − 1)/s0
    gamma = a - b - Math.exp(s0 * lx) * sum;
  } else {
    gamma = gammaSmall(s0) - Math.exp(s0 * lx) * (1 / s0 + sum);
  }
  return gamma * Math.exp(x - s0 * lx);
}

/**
 * The scaled upper incomplete gamma G(s, x) = Γ(s, x)·x^(−s)·e^x for real s ≤ 3 (any negative s) and x ≥ 0.
 * At x = 0: G = −1/s for s < 0 (the limit), +∞ for s ≥ 0.
 */
export function upperGammaScaled(s: number, x: number): number {
  if (!Number.isFinite(s) || Number.isNaN(x) || x < 0) return NaN;
  if (s > 3) throw new RangeError(`upperGammaScaled: s must be ≤ 3, got ${s}`);
  if (x === 0) return s < 0 ? -1 / s : Infinity;
  if (x === Infinity) return 0;
  if (x >= CF_MIN_X) return scaledByContinuedFraction(s, x);
  if (s > 0.5) {
    if (s <= 1.5) return scaledBySeries(s, x);
    // upward from s − 1 (or s − 2) ∈ (0.5, 1.5]
    let t = s - Math.ceil(s - 1.5);
    let g = scaledBySeries(t, x);
    while (t < s - 0.5) {
      g = (t * g + 1) / x;
      t += 1;
    }
    return g;
  }
  // s ≤ 0.5: base order s0 ∈ (−0.5, 0.5], then downward
  const m = Math.max(0, Math.ceil(-s - 0.5));
  let t = s + m;
  let g = scaledBySeries(t, x);
  for (let i = 0; i < m; i++) {
    g = (1 - x * g) / (1 - t);
    t -= 1;
  }
  return g;
}

/** ln Γ(s, x) for real s ≤ 3 and x > 0. */
export function logUpperGamma(s: number, x: number): number {
  return Math.log(upperGammaScaled(s, x)) + s * Math.log(x) - x;
}

/** Γ(s, x) = ∫_x^∞ t^(s−1) e^(−t) dt for real s ≤ 3 and x > 0 (may overflow to ∞ for very negative s). */
export function upperGamma(s: number, x: number): number {
  return Math.exp(logUpperGamma(s, x));
}
