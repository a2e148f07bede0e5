/**
 * Bezier patches over models (MCSurface, ICLR 2025): the surface analogue of curve.ts. Pure math over control-point
 * indices; no parameters here.
 *
 * - Four corners: a tensor-product patch of degree (n, m), w(u, v) = Σ_{i≤n} Σ_{j≤m} B_i^n(u) B_j^m(v) θ_{i,j},
 *   control point θ_{i,j} at index i·(m+1) + j. Corners: M1 = θ_{0,0} at (u, v) = (0, 0), M2 = θ_{n,0} at (1, 0),
 *   M3 = θ_{0,m} at (0, 1), M4 = θ_{n,m} at (1, 1) (u runs from M1 towards M2, v from M1 towards M3).
 * - Three corners: a triangular patch of degree n in barycentric Bernstein form, w = Σ_{i+j+k=n}
 *   n!/(i! j! k!) λ1^i λ2^j λ3^k θ_{i,j,k} with λ = (1 − u − v, u, v) on the triangle u, v ≥ 0, u + v ≤ 1;
 *   M1 = θ_{n,0,0} at (0, 0), M2 = θ_{0,n,0} at (1, 0), M3 = θ_{0,0,n} at (0, 1).
 * Both forms reproduce linear functions of their parameters (Σ_i B_i^n(u)·i/n = u), so control points placed at the
 * bilinear (triangle: linear) interpolation of the corners make the patch equal that interpolation everywhere.
 */
import { WeightscopeError } from '../../errors.js';
import type { Rng } from '../../util/random.js';

export type PatchShape =
  | { readonly kind: 'tensor'; readonly n: number; readonly m: number }
  | { readonly kind: 'triangle'; readonly n: number };

/** Largest degree accepted per direction (a degree-8 tensor patch already has 81 control points). */
export const MAX_DEGREE = 8;

export function tensorPatch(n: number, m: number = n): PatchShape {
  checkDegree(n);
  checkDegree(m);
  return { kind: 'tensor', n, m };
}

export function trianglePatch(n: number): PatchShape {
  checkDegree(n);
  return { kind: 'triangle', n };
}

function checkDegree(d: number): void {
  if (!Number.isInteger(d) || d < 1 || d > MAX_DEGREE)
    throw new WeightscopeError('invalid-input', `a patch degree must be an integer in 1..${MAX_DEGREE}, got ${d}`);
}

/** Where each control point sits in the parameter domain ("Greville" abscissae: i/n, j/m) and its indices. */
export interface ControlSite {
  /** Tensor: (i, j); triangle: (i, j, k) with i + j + k = n. */
  readonly index: readonly number[];
  readonly u: number;
  readonly v: number;
}

/** Control points in storage order. */
export function controlSites(p: PatchShape): ControlSite[] {
  const out: ControlSite[] = [];
  if (p.kind === 'tensor') {
    for (let i = 0; i <= p.n; i++) for (let j = 0; j <= p.m; j++) out.push({ index: [i, j], u: i / p.n, v: j / p.m });
  } else {
    for (let j = 0; j <= p.n; j++) for (let k = 0; k <= p.n - j; k++) out.push({ index: [p.n - j - k, j, k], u: j / p.n, v: k / p.n });
  }
  return out;
}

export function controlCount(p: PatchShape): number {
  return p.kind === 'tensor' ? (p.n + 1) * (p.m + 1) : ((p.n + 1) * (p.n + 2)) / 2;
}

export function cornerCount(p: PatchShape): number {
  return p.kind === 'tensor' ? 4 : 3;
}

/** The (u, v) of corner c (M1, M2, M3[, M4]). */
export function cornerUV(p: PatchShape, c: number): readonly [number, number] {
  const uv: readonly (readonly [number, number])[] = [
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ];
  if (!Number.isInteger(c) || c < 0 || c >= cornerCount(p)) throw new RangeError(`corner ${c} of a ${cornerCount(p)}-corner patch`);
  return uv[c];
}

/** Storage index of each corner's control point (M1, M2, M3[, M4]). */
export function cornerIndices(p: PatchShape): number[] {
  if (p.kind === 'tensor') return [0, p.n * (p.m + 1), p.m, p.n * (p.m + 1) + p.m];
  const sites = controlSites(p);
  const find = (i: number, j: number, k: number) => sites.findIndex((s) => s.index[0] === i && s.index[1] === j && s.index[2] === k);
  return [find(p.n, 0, 0), find(0, p.n, 0), find(0, 0, p.n)];
}

/** (u, v) lies on the patch (with a hair of slack for rounded grid points). */
export function inDomain(p: PatchShape, u: number, v: number): boolean {
  const eps = 1e-12;
  if (!(u >= -eps && v >= -eps && u <= 1 + eps && v <= 1 + eps)) return false;
  return p.kind === 'tensor' || u + v <= 1 + eps;
}

function bernstein(n: number, x: number): Float64Array {
  const b = new Float64Array(n + 1);
  let binom = 1;
  for (let i = 0; i <= n; i++) {
    b[i] = binom * x ** i * (1 - x) ** (n - i);
    binom = (binom * (n - i)) / (i + 1);
  }
  return b;
}

function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}

/** Coefficients of every control point (storage order) at (u, v); they sum to 1. */
export function patchCoefficients(p: PatchShape, u: number, v: number): Float64Array {
  if (!inDomain(p, u, v)) {
    throw new WeightscopeError(
      'invalid-input',
      `(u, v) = (${u}, ${v}) is outside the ${p.kind === 'tensor' ? 'unit square' : 'triangle u, v ≥ 0, u + v ≤ 1'}`,
    );
  }
  if (p.kind === 'tensor') {
    const bu = bernstein(p.n, u);
    const bv = bernstein(p.m, v);
    const c = new Float64Array((p.n + 1) * (p.m + 1));
    for (let i = 0; i <= p.n; i++) for (let j = 0; j <= p.m; j++) c[i * (p.m + 1) + j] = bu[i] * bv[j];
    return c;
  }
  const l1 = Math.max(0, 1 - u - v);
  const nf = factorial(p.n);
  return Float64Array.from(controlSites(p), (s) => {
    const [i, j, k] = s.index;
    return (nf / (factorial(i) * factorial(j) * factorial(k))) * l1 ** i * u ** j * v ** k;
  });
}

/**
 * Weights of the corners (M1, M2, M3[, M4]) in the bilinear (triangle: linear) interpolation at (u, v): the
 * untrained patch, and the initial position of control point sites.
 */
export function interpolationWeights(p: PatchShape, u: number, v: number): number[] {
  if (p.kind === 'tensor') return [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v];
  return [1 - u - v, u, v];
}

/** One (u, v) uniform over the patch (triangle: a square draw folded onto the triangle, still uniform). */
export function sampleUV(p: PatchShape, rng: Rng): [number, number] {
  const u = rng.uniform();
  const v = rng.uniform();
  if (p.kind === 'triangle' && u + v > 1) return [1 - u, 1 - v];
  return [u, v];
}

/**
 * The evaluation grid: (u, v) = (a, b)/(g − 1) for a, b = 0..g−1 (triangle: a + b ≤ g − 1), u-major, rounded to
 * 12 digits so 0.1·3 prints as 0.3.
 */
export function patchGrid(p: PatchShape, g: number): [number, number][] {
  if (!Number.isInteger(g) || g < 2) throw new WeightscopeError('invalid-input', `a grid needs at least 2 points per side, got ${g}`);
  const r = (x: number) => Number(x.toFixed(12));
  const out: [number, number][] = [];
  for (let a = 0; a < g; a++) {
    for (let b = 0; b < g; b++) {
      if (p.kind === 'triangle' && a + b > g - 1) continue;
      out.push([r(a / (g - 1)), r(b / (g - 1))]);
    }
  }
  return out;
}

/** The patch's centre: (½, ½) on the square, the centroid (⅓, ⅓) on the triangle. */
export function patchCenter(p: PatchShape): [number, number] {
  return p.kind === 'tensor' ? [0.5, 0.5] : [1 / 3, 1 / 3];
}

/** Which corner (0-based) sits at (u, v), or −1. */
export function cornerAt(p: PatchShape, u: number, v: number): number {
  for (let c = 0; c < cornerCount(p); c++) {
    const [cu, cv] = cornerUV(p, c);
    if (Math.abs(u - cu) < 1e-12 && Math.abs(v - cv) < 1e-12) return c;
  }
  return -1;
}
