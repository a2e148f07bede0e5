/**
 * Log-gamma, the one home: ln Γ(x) for any x > 0 (Lanczos) for the rank-correlation p-values, and ln Γ(1 + t) for
 * |t| ≤ 1/2 to a few ulps (series in ζ(k) − 1) for the incomplete-gamma code of the truncated power-law fit, which
 * needs Γ near its pole at 0 without cancellation.
 */

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; ~1e-15 relative); reflection below 1/2. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

export const EULER_GAMMA = 0.5772156649015329;

/** ζ(k) − 1 for k = 2..K, by direct summation plus an Euler–Maclaurin tail (computed once at load). */
const ZETA_M1: Float64Array = (() => {
  const K = 48;
  const out = new Float64Array(K + 1);
  const Nn = 64;
  for (let k = 2; k <= K; k++) {
    // Tail Σ_{n≥Nn} n^−k ≈ N^(1−k)/(k−1) + N^−k/2 + k N^(−k−1)/12 − k(k+1)(k+2) N^(−k−3)/720
    //                      + k(k+1)(k+2)(k+3)(k+4) N^(−k−5)/30240
    let tail =
      Nn ** (1 - k) / (k - 1) +
      0.5 * Nn ** -k +
      (k * Nn ** (-k - 1)) / 12 -
      (k * (k + 1) * (k + 2) * Nn ** (-k - 3)) / 720 +
      (k * (k + 1) * (k + 2) * (k + 3) * (k + 4) * Nn ** (-k - 5)) / 30240;
    for (let n = Nn - 1; n >= 2; n--) tail += n ** -k;
    out[k] = tail;
  }
  return out;
})();

/** ln Γ(1 + t) for |t| ≤ 1/2, accurate to a few ulps (series with ζ(k) − 1 coefficients). */
export function logGamma1p(t: number): number {
  if (!(Math.abs(t) <= 0.5 + 1e-12)) throw new RangeError(`logGamma1p: |t| must be ≤ 0.5, got ${t}`);
  // ln Γ(1+t) = −ln(1+t) + t(1−γ) + Σ_{k≥2} (−t)^k (ζ(k)−1)/k
  let sum = 0;
  let p = t * t; // (−t)^k for k = 2
  for (let k = 2; k < ZETA_M1.length; k++) {
    const term = (p * ZETA_M1[k]) / k;
    sum += term;
    if (Math.abs(term) < 1e-18 * Math.abs(sum) + 1e-300) break;
    p *= -t;
  }
  return -Math.log1p(t) + t * (1 - EULER_GAMMA) + sum;
}
