/**
 * Curves between models in weight space (Garipov et al. 2018): w(t) = Σ_k c_k(t) θ_k over K control points,
 * K counting both endpoints (their `num_bends`). Pure math over flat parameter vectors.
 */
export type CurveKind = 'bezier' | 'polychain';

/** Bernstein (Bezier) or hat-function (PolyChain) coefficients c_0..c_{K−1} at t ∈ [0, 1]. */
export function curveCoefficients(kind: CurveKind, K: number, t: number): Float64Array {
  if (!Number.isInteger(K) || K < 2) throw new RangeError(`a curve needs K ≥ 2 control points, got ${K}`);
  const c = new Float64Array(K);
  if (kind === 'bezier') {
    const n = K - 1;
    let binom = 1;
    for (let k = 0; k <= n; k++) {
      c[k] = binom * t ** k * (1 - t) ** (n - k);
      binom = (binom * (n - k)) / (k + 1);
    }
  } else {
    for (let k = 0; k < K; k++) c[k] = Math.max(0, 1 - Math.abs(t * (K - 1) - k));
  }
  return c;
}

/** out = Σ_k c_k θ_k (all vectors the same length). */
export function combine(points: readonly Float32Array[], coefs: ArrayLike<number>, out?: Float32Array): Float32Array {
  const n = points[0].length;
  const w = out ?? new Float32Array(n);
  w.fill(0);
  for (let k = 0; k < points.length; k++) {
    const ck = coefs[k];
    if (ck === 0) continue;
    const p = points[k];
    for (let i = 0; i < n; i++) w[i] += ck * p[i];
  }
  return w;
}

/** Interior control points on the straight line between the endpoints (Garipov's `init_linear`). */
export function linearInit(start: Float32Array, end: Float32Array, K: number): Float32Array[] {
  const pts: Float32Array[] = [];
  for (let k = 0; k < K; k++) {
    const a = k / (K - 1);
    const p = new Float32Array(start.length);
    for (let i = 0; i < p.length; i++) p[i] = (1 - a) * start[i] + a * end[i];
    pts.push(k === 0 ? start : k === K - 1 ? end : p);
  }
  return pts;
}

/** Garipov's learning-rate factor for epoch e (1-based) of E: 1 until half-way, linear to 0.01 at 90%, then 0.01. */
export function garipovFactor(epoch: number, epochs: number): number {
  const a = epoch / epochs;
  if (a <= 0.5) return 1;
  if (a <= 0.9) return 1 - ((a - 0.5) / 0.4) * 0.99;
  return 0.01;
}

/**
 * Yang et al. (2021) mode-connectivity metric on errors E_j along t (percent): m = mean of the endpoints,
 * u = the point deviating most from m, mc = m − E_u. Negative = a barrier (poorly connected).
 */
export function modeConnectivity(errors: readonly number[]): number {
  const m = (errors[0] + errors[errors.length - 1]) / 2;
  let u = 0;
  for (let j = 1; j < errors.length; j++) if (Math.abs(errors[j] - m) > Math.abs(errors[u] - m)) u = j;
  return m - errors[u];
}
