/**
 * A curve over named parameter sets: K control points θ_0..θ_{K−1} (θ_0, θ_{K−1} = the endpoints, fixed), and the
 * point w(t) = Σ_k c_k(t) θ_k with the coefficients of curve.ts. Every point is accumulated in float64 per element and
 * rounded once to float32, so w(t) of a 2-point curve is (1−t)·A + t·B as PyTorch computes it to rounding.
 */
import { WeightscopeError } from '../../errors.js';
import { combine, type ParamMap, type ParamSpec } from '../../runtime/params.js';
import { curveCoefficients, type CurveKind } from './curve.js';

export interface Curve {
  readonly kind: CurveKind;
  /** The parameters every control point holds (graph order). */
  readonly specs: readonly ParamSpec[];
  /** K control points; interior ones are trained in place. */
  readonly points: readonly ParamMap[];
}

/** Both endpoints hold exactly the spec'd parameters with the right sizes (same graph, same shapes). */
export function checkEndpoints(
  specs: readonly ParamSpec[],
  a: ReadonlyMap<string, Float32Array>,
  b: ReadonlyMap<string, Float32Array>,
): void {
  for (const s of specs) {
    for (const [which, m] of [
      ['first', a],
      ['second', b],
    ] as const) {
      const v = m.get(s.name);
      if (!v) throw new WeightscopeError('shape-mismatch', `the ${which} endpoint has no parameter '${s.name}'`);
      if (v.length !== s.size) {
        throw new WeightscopeError(
          'shape-mismatch',
          `the ${which} endpoint's '${s.name}' has ${v.length} values, expected ${s.size} ([${s.dims.join(', ')}])`,
        );
      }
    }
  }
}

/**
 * A curve with K control points between `start` and `end`, the interior ones on the straight line (Garipov's
 * init_linear): θ_k = (1 − k/(K−1))·start + (k/(K−1))·end. The endpoints are copied (the caller's maps stay intact).
 */
export function linearCurve(
  kind: CurveKind,
  K: number,
  specs: readonly ParamSpec[],
  start: ReadonlyMap<string, Float32Array>,
  end: ReadonlyMap<string, Float32Array>,
): Curve {
  if (!Number.isInteger(K) || K < 2)
    throw new WeightscopeError('invalid-input', `a curve needs at least 2 control points (bends), got ${K}`);
  checkEndpoints(specs, start, end);
  const pick = (m: ReadonlyMap<string, Float32Array>): ParamMap =>
    new Map(specs.map((s) => [s.name, (m.get(s.name) as Float32Array).slice()]));
  const a = pick(start);
  const b = pick(end);
  const points: ParamMap[] = [a];
  for (let k = 1; k < K - 1; k++) {
    const r = k / (K - 1);
    points.push(combine([1 - r, r], [a, b]));
  }
  points.push(b);
  return { kind, specs, points };
}

/** w(t) = Σ_k c_k(t) θ_k. */
export function pointAt(curve: Curve, t: number): ParamMap {
  if (!(t >= 0 && t <= 1)) throw new WeightscopeError('invalid-input', `curve parameter t must be in [0, 1], got ${t}`);
  const c = curveCoefficients(curve.kind, curve.points.length, t);
  return combine([...c], curve.points);
}

/** The share of w(t) that the interior (trained) control points make up: 1 − the endpoints' coefficients. */
export function trainedWeight(curve: Curve, t: number): number {
  const c = curveCoefficients(curve.kind, curve.points.length, t);
  return 1 - c[0] - c[c.length - 1];
}

/** Euclidean distance between two parameter sets (for path lengths). */
export function distance(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): number {
  let s = 0;
  for (const [name, u] of a) {
    const v = b.get(name) as Float32Array;
    for (let i = 0; i < u.length; i++) s += (u[i] - v[i]) ** 2;
  }
  return Math.sqrt(s);
}

/** Parses "0,0.25,0.5" or a count "11" (= 0, 0.1, …, 1) into sorted evaluation points in [0, 1]. */
export function parseTs(spec: string | readonly number[]): number[] {
  let ts: number[];
  if (typeof spec === 'string') {
    const s = spec.trim();
    // A bare integer ≥ 2 is a count of evenly spaced points; "0" and "1" are single points.
    if (/^\d+$/.test(s) && Number(s) >= 2) ts = gridTs(Number(s));
    else ts = s.split(',').map((p) => Number(p.trim()));
  } else {
    ts = [...spec];
  }
  if (ts.length === 0 || ts.some((t) => !Number.isFinite(t) || t < 0 || t > 1)) {
    throw new WeightscopeError('invalid-input', `evaluation points must be numbers in [0, 1], got ${JSON.stringify(spec)}`);
  }
  return [...new Set(ts)].sort((x, y) => x - y);
}

/** n evenly spaced points 0..1, rounded to 12 digits so 0.1·3 prints as 0.3. */
export function gridTs(n: number): number[] {
  if (!Number.isInteger(n) || n < 2) throw new WeightscopeError('invalid-input', `a grid needs at least 2 points, got ${n}`);
  return Array.from({ length: n }, (_, i) => Number((i / (n - 1)).toFixed(12)));
}
