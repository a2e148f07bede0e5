/**
 * Exponentially truncated power law (E-TPL) with powerlaw 1.5 semantics, xmin chosen from WW's xmin_peak range:
 *   p(x) = x^(−β) e^(−λx) / I(β, λ),  x ≥ xmin,  I(β, λ) = Γ(1−β, λ xmin) / λ^(1−β) = ∫_xmin^∞ t^(−β) e^(−λt) dt.
 *
 * The MLE at fixed xmin is exact, not Nelder–Mead: (β, λ) are the natural parameters of an exponential family with
 * sufficient statistics (−ln x, −x), so the log-likelihood is concave and its maximiser unique on the feasible set
 * β ≥ 1, λ ≥ 0 (powerlaw's valid range, closed). For fixed β the optimal λ solves E[x] = mean(x) (one monotone
 * equation, safeguarded Newton in ln λ); the profile in β is concave and its derivative n(E[ln x] − mean ln x) is
 * driven to zero by a bracketing root finder. Solutions on β = 1 or λ·max(x) < 1e-6 get status 'bound'.
 *
 * In scaled form (G(s,z) = Γ(s,z) z^(−s) e^z, s = 1−β, z = λ xmin, t = x/xmin):
 *   ln I = ln G(s, z) + s ln xmin − z,   E[t] = G(s+1, z)/G(s, z),   E[t²] = G(s+2, z)/G(s, z),
 *   E[ln t] = ∂/∂s ln G(s, z).
 */
import type { EtplFit } from './types.js';
import { EVALS_THRESH } from './pl.js';
import { brentRoot } from '../numerics/brent.js';
import { firstMinimum } from '../numerics/first-min.js';
import { suffixAt, suffixSums } from '../numerics/sums.js';
import { upperGammaScaled } from './special.js';
import { rangeCandidates, xminPeak, xminRange, type XminRule } from './xmin.js';

export const BOUND_BETA_EPS = 1e-6;
export const BOUND_LAMBDA_XMAX = 1e-6;
const BETA_MAX = 200;

export interface EtplOptions {
  /** 'ww' (default): WW 0.7.5.5 E_TPL — range (log10 0.95p, 1.5p) over λ > 1e-5, xmax None (untruncated CDF).
   *  'kdd': KDD'23 — range (0.95p, 1.05p) over all eigenvalues, xmax = max λ (CDF truncated in D). */
  xminRule?: XminRule;
  thresh?: number;
}

export interface EtplResult extends EtplFit {
  /** Tail size at the chosen xmin. */
  n_tail: number;
  /** Number of xmin candidates that were fitted. */
  num_candidates: number;
}

/** Sufficient statistics of a tail x ≥ xmin. */
export interface TailStats {
  n: number;
  xmin: number;
  /** Σ ln x */
  sumLog: number;
  /** Σ x */
  sum: number;
  /** max x */
  max: number;
}

export function tailStats(tail: ArrayLike<number>, xmin: number): TailStats {
  let sumLog = 0;
  let sum = 0;
  let max = -Infinity;
  for (let i = 0; i < tail.length; i++) {
    const v = tail[i];
    sumLog += Math.log(v);
    sum += v;
    if (v > max) max = v;
  }
  return { n: tail.length, xmin, sumLog, sum, max };
}

/** ln I(β, λ) = ln ∫_xmin^∞ t^(−β) e^(−λt) dt (λ = 0 allowed for β > 1). */
export function etplLogNormaliser(beta: number, lambda: number, xmin: number): number {
  const s = 1 - beta;
  const z = lambda * xmin;
  return Math.log(upperGammaScaled(s, z)) + s * Math.log(xmin) - z;
}

/** Σ ln p(x_i) over the tail (powerlaw's `loglikelihood`). */
export function etplLogLik(st: TailStats, beta: number, lambda: number): number {
  return -beta * st.sumLog - lambda * st.sum - st.n * etplLogNormaliser(beta, lambda, st.xmin);
}

/** The profile's inner problem: z = λ·xmin maximising the likelihood for fixed s = 1−β (0 when on the bound). */
function solveZ(s: number, r: number, warmU: number | null): number {
  // m(z) = E[x]/xmin decreases from m(0+) (∞ when β ≤ 2) to 1; solve ln m(z) = ln r in u = ln z.
  if (s < -1) {
    const m0 = s / (s + 1);
    if (m0 <= r) return 0;
  }
  const lr = Math.log(r);
  const g = (u: number): { v: number; d: number } => {
    const z = Math.exp(u);
    const g0 = upperGammaScaled(s, z);
    const m = upperGammaScaled(s + 1, z) / g0;
    const m2 = upperGammaScaled(s + 2, z) / g0;
    return { v: Math.log(m) - lr, d: (-z * (m2 - m * m)) / m };
  };
  // Newton in u from the warm start, steps capped at 4, bisection once a sign change is bracketed
  let u = warmU ?? -Math.log(Math.max(r - 1, 1e-300));
  let lo = -Infinity; // g(lo) > 0
  let hi = Infinity; // g(hi) < 0
  const U_MIN = -690; // z ≈ 1e-300: below that λ is zero for every purpose
  const U_MAX = 700;
  for (let it = 0; it < 300; it++) {
    const gu = g(u);
    if (gu.v > 0) lo = u;
    else if (gu.v < 0) hi = u;
    else return Math.exp(u);
    if (gu.v < 0 && u <= U_MIN) return 0;
    if (gu.v > 0 && u >= U_MAX) return Math.exp(u);
    let next = u - gu.v / gu.d;
    if (!Number.isFinite(next)) next = gu.v > 0 ? u + 4 : u - 4;
    next = Math.min(Math.max(next, u - 4, U_MIN), u + 4, U_MAX);
    if (!(next > lo && next < hi)) {
      if (Number.isFinite(lo) && Number.isFinite(hi)) next = 0.5 * (lo + hi);
      else next = gu.v > 0 ? Math.min(u + 4, U_MAX) : Math.max(u - 4, U_MIN);
    }
    if (Math.abs(next - u) <= 1e-15 * Math.max(1, Math.abs(u)) || hi - lo <= 1e-15 * Math.max(1, Math.abs(u))) {
      u = next;
      break;
    }
    u = next;
  }
  return Math.exp(u);
}

/** E[ln(x/xmin)] = ∂/∂s ln G(s, z), by a central difference (smooth in s, no pole at s = 0 for z > 0). */
function meanLogT(s: number, z: number): number {
  if (z === 0) return -1 / s; // pure power law: E[ln t] = 1/(β−1)
  const h = 2e-6;
  return (Math.log(upperGammaScaled(s + h, z)) - Math.log(upperGammaScaled(s - h, z))) / (2 * h);
}

export interface EtplPoint {
  beta: number;
  lambda: number;
  loglik: number;
  status: 'ok' | 'bound' | 'failed';
  reason?: string;
}

/** Exact MLE of (β, λ) for the tail with fixed xmin. */
export function fitEtplAtXmin(st: TailStats, warm?: { beta: number; lambda: number }): EtplPoint {
  const { n, xmin } = st;
  if (n < 2) return { beta: NaN, lambda: NaN, loglik: NaN, status: 'failed', reason: `only ${n} point(s) in the tail` };
  const r = st.sum / n / xmin; // mean(x)/xmin
  const lbar = st.sumLog / n - Math.log(xmin); // mean ln(x/xmin)
  if (!(r > 1) || !(lbar > 0) || !Number.isFinite(r) || !Number.isFinite(lbar)) {
    return { beta: NaN, lambda: NaN, loglik: NaN, status: 'failed', reason: 'the tail has a single distinct value' };
  }
  let warmU: number | null = warm && warm.lambda > 0 ? Math.log(warm.lambda * xmin) : null;
  const zAt = (beta: number): number => {
    const z = solveZ(1 - beta, r, warmU);
    warmU = z > 0 ? Math.log(z) : null;
    return z;
  };
  // dP/dβ = n (E[ln t] − lbar): decreasing in β
  const dP = (beta: number): number => meanLogT(1 - beta, zAt(beta)) - lbar;
  const finish = (beta: number): EtplPoint => {
    const z = zAt(beta);
    const lambda = z / xmin;
    const loglik = etplLogLik(st, beta, lambda);
    if (!Number.isFinite(loglik)) return { beta, lambda, loglik, status: 'failed', reason: 'non-finite log-likelihood' };
    const bound = beta <= 1 + BOUND_BETA_EPS || lambda * st.max < BOUND_LAMBDA_XMAX;
    return { beta, lambda, loglik, status: bound ? 'bound' : 'ok' };
  };
  // bracket [a, b] with dP(a) > 0 ≥ dP(b); a warm start (the neighbouring xmin's β) keeps it narrow
  let a: number;
  let fa: number;
  let b: number;
  let fb: number;
  if (warm && warm.beta <= 1 && !(dP(1) > 0)) return finish(1); // neighbour on the bound: most likely so are we
  const b0 = warm && warm.beta > 1 && warm.beta < BETA_MAX ? warm.beta : Math.min(1 + 1 / lbar, BETA_MAX);
  const f0 = dP(b0);
  if (f0 > 0) {
    a = b0;
    fa = f0;
    let step = warm ? 0.02 : 0.5;
    for (;;) {
      if (a >= BETA_MAX) return { beta: NaN, lambda: NaN, loglik: NaN, status: 'failed', reason: 'beta diverges' };
      b = Math.min(a + step, BETA_MAX);
      fb = dP(b);
      if (!(fb > 0)) break;
      a = b;
      fa = fb;
      step *= 4;
    }
  } else {
    b = b0;
    fb = f0;
    let step = warm ? 0.02 : 0.5 * (b0 - 1);
    for (;;) {
      a = Math.max(b - step, 1);
      fa = dP(a);
      if (fa > 0) break;
      if (a === 1) return finish(1);
      b = a;
      fb = fa;
      step *= 4;
    }
  }
  // Brent's root finder on dP over [a, b] (fa > 0 ≥ fb)
  return finish(brentRoot(dP, a, fa, b, fb, { absTol: 1e-12, relTol: 2 * 2.2e-16 }));
}

/**
 * powerlaw's KS distance of the fitted E-TPL on the tail (sorted, x ≥ xmin): evaluated at the unique tail values,
 * empirical CDF = #{tail < u}/n, theoretical CDF 1 − Γ(s, λu)/Γ(s, λ xmin), divided by its value at xmax when
 * xmax is given. `stopAt`: return early (with a lower bound of D) once D is known to exceed stopAt, or to equal it
 * when `inclusive` (a tie that would lose anyway).
 */
export function etplKS(
  tail: ArrayLike<number>,
  beta: number,
  lambda: number,
  xmax: number | null,
  stopAt = Infinity,
  inclusive = true,
): number {
  const n = tail.length;
  const xmin = tail[0];
  const s = 1 - beta;
  const z0 = lambda * xmin;
  const lg0 = Math.log(upperGammaScaled(s, z0));
  const lx0 = Math.log(xmin);
  const ccdf = (u: number): number =>
    Math.exp(Math.log(upperGammaScaled(s, lambda * u)) - lg0 + s * (Math.log(u) - lx0) - lambda * (u - xmin));
  const norm = xmax === null ? 1 : 1 - ccdf(xmax);
  let dPlus = -Infinity;
  let dMinus = -Infinity;
  const at = (k: number): boolean => {
    const T = (1 - ccdf(tail[k])) / norm;
    const diff = T - k / n;
    if (diff > dPlus) dPlus = diff;
    if (-diff > dMinus) dMinus = -diff;
    const m = Math.max(dPlus, dMinus);
    return m > stopAt || (inclusive && m === stopAt);
  };
  const stride = n > 64 ? Math.floor(n / 16) : 0;
  if (stride > 0) {
    for (let k = stride; k < n; k += stride) {
      if (tail[k] === tail[k - 1]) continue;
      if (at(k)) return Math.max(dPlus, dMinus);
    }
  }
  for (let k = 0; k < n; k++) {
    if (k > 0 && tail[k] === tail[k - 1]) continue;
    if (at(k)) return Math.max(dPlus, dMinus);
  }
  return Math.max(dPlus, dMinus);
}

function failedResult(reason: string, numCandidates = 0): EtplResult {
  return {
    beta: null,
    lambda: null,
    xmin: null,
    D: null,
    loglik: null,
    status: 'failed',
    reason,
    n_tail: 0,
    num_candidates: numCandidates,
  };
}

/** Data, candidate indices and xmax for an xmin rule (shared by the E-TPL and EXP fits). */
export function xminCandidates(
  evals: Float64Array,
  rule: XminRule,
  thresh = EVALS_THRESH,
): { data: Float64Array; candidates: number[]; xmax: number | null } | string {
  for (let i = 0; i < evals.length; i++) if (!Number.isFinite(evals[i])) return `non-finite eigenvalue at index ${i}`;
  const sorted = Float64Array.from(evals).sort();
  const peak = xminPeak(sorted, thresh);
  if (peak === null) return `no eigenvalue above ${thresh}`;
  let data: Float64Array;
  if (rule === 'ww') {
    let i = 0;
    while (i < sorted.length && !(sorted[i] > thresh)) i++;
    data = sorted.subarray(i);
  } else {
    // powerlaw drops values ≤ 0 only when an exact 0 is present
    let i = 0;
    if (sorted.includes(0)) while (i < sorted.length && sorted[i] <= 0) i++;
    data = sorted.subarray(i);
  }
  const candidates = rangeCandidates(data, xminRange(peak, rule));
  if (candidates.length === 0) return 'fewer than 2 distinct eigenvalues in the xmin_peak range';
  return { data, candidates, xmax: rule === 'kdd' ? data[data.length - 1] : null };
}

/** Suffix sums of x and ln x of sorted data (compensated), so that every candidate's tail statistics are O(1). */
export function suffixStats(data: Float64Array): { sum: Float64Array; sumLog: Float64Array } {
  const n = data.length;
  const x = suffixSums(data);
  const l = suffixSums(data, Math.log);
  const sum = new Float64Array(n + 1);
  const sumLog = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    sum[i] = suffixAt(x, i);
    sumLog[i] = suffixAt(l, i);
  }
  return { sum, sumLog };
}

/** The xmin candidates for a fit's options (rule 'ww', threshold EVALS_THRESH by default) with the data's suffix sums. */
export function tailCandidates(
  evals: Float64Array,
  opts: { xminRule?: XminRule; thresh?: number },
): { data: Float64Array; candidates: number[]; xmax: number | null; suf: ReturnType<typeof suffixStats> } | string {
  const prep = xminCandidates(evals, opts.xminRule ?? 'ww', opts.thresh ?? EVALS_THRESH);
  return typeof prep === 'string' ? prep : { ...prep, suf: suffixStats(prep.data) };
}

/** E-TPL fit with xmin chosen by minimum KS distance over the xmin_peak candidates (first minimum on ties). */
export function fitEtpl(evals: Float64Array, opts: EtplOptions = {}): EtplResult {
  const prep = tailCandidates(evals, opts);
  if (typeof prep === 'string') return failedResult(prep);
  const { data, candidates, xmax, suf } = prep;
  const N = data.length;
  // 1) fit every candidate, in order, each warm-started at its neighbour's solution
  const fits: (EtplPoint | null)[] = [];
  let lastReason = '';
  let prev: { beta: number; lambda: number } | null = null;
  for (const i of candidates) {
    const st: TailStats = { n: N - i, xmin: data[i], sum: suf.sum[i], sumLog: suf.sumLog[i], max: data[N - 1] };
    const p = fitEtplAtXmin(st, prev ?? undefined);
    if (p.status === 'failed') {
      lastReason = p.reason ?? 'fit failed';
      fits.push(null);
      continue;
    }
    prev = { beta: p.beta, lambda: p.lambda };
    fits.push(p);
  }
  // 2) KS distances, a sparse seed first so that pruning bites early; first minimum wins, as in powerlaw
  const best = firstMinimum(candidates.length, 32, (c, inc) => {
    const p = fits[c];
    if (!p) return null;
    return etplKS(data.subarray(candidates[c]), p.beta, p.lambda, xmax, inc ? inc.value : Infinity, !inc || c > inc.index);
  });
  const chosen = best ? { c: best.index, p: fits[best.index] as EtplPoint, D: best.value } : null;
  if (!chosen) return failedResult(`no candidate xmin could be fitted: ${lastReason}`, candidates.length);
  const i = candidates[chosen.c];
  return {
    beta: chosen.p.beta,
    lambda: chosen.p.lambda,
    xmin: data[i],
    D: chosen.D,
    loglik: chosen.p.loglik,
    status: chosen.p.status,
    n_tail: N - i,
    num_candidates: candidates.length,
  };
}
