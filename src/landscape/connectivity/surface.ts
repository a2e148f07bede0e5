/**
 * A Bezier surface over named parameter sets: the control points of a patch (patch.ts), the corners fixed to the
 * given models, and the point w(u, v) = Σ_k c_k(u, v) θ_k, accumulated in float64 per element and rounded once to
 * float32 (as points.ts does for curves).
 */
import { WeightscopeError } from '../../errors.js';
import { combine, type ParamMap, type ParamSpec } from '../../runtime/params.js';
import { controlSites, cornerCount, cornerIndices, interpolationWeights, patchCoefficients, type PatchShape } from './patch.js';
import { checkEndpoints } from './points.js';

export interface Surface {
  readonly shape: PatchShape;
  /** The parameters every control point holds (graph order). */
  readonly specs: readonly ParamSpec[];
  /** Control points in patch storage order; the corners are fixed, the others trained in place. */
  readonly points: readonly ParamMap[];
}

/**
 * The surface whose corners are `corners` (M1, M2, M3[, M4], copied) and whose other control points sit at the
 * bilinear (triangle: linear) interpolation of the corners at their sites (i/n, j/m): the untrained surface is that
 * interpolation.
 */
export function interpolatedSurface(
  shape: PatchShape,
  specs: readonly ParamSpec[],
  corners: readonly ReadonlyMap<string, Float32Array>[],
): Surface {
  if (corners.length !== cornerCount(shape)) {
    throw new WeightscopeError(
      'invalid-input',
      `a ${shape.kind === 'tensor' ? 'tensor-product' : 'triangular'} patch needs ${cornerCount(shape)} corner models, got ${corners.length}`,
    );
  }
  for (let c = 1; c < corners.length; c++) checkEndpoints(specs, corners[0], corners[c]);
  const pick = (m: ReadonlyMap<string, Float32Array>): ParamMap =>
    new Map(specs.map((s) => [s.name, (m.get(s.name) as Float32Array).slice()]));
  const fixed = corners.map(pick);
  const cornerAt = new Map(cornerIndices(shape).map((k, c) => [k, c]));
  const points = controlSites(shape).map((site, k) => {
    const c = cornerAt.get(k);
    return c !== undefined ? fixed[c] : combine(interpolationWeights(shape, site.u, site.v), fixed);
  });
  return { shape, specs, points };
}

/** w(u, v). */
export function surfacePoint(s: Surface, u: number, v: number): ParamMap {
  return combine([...patchCoefficients(s.shape, u, v)], s.points);
}

/** Indices of the control points that training moves (all but the corners). */
export function freeControlPoints(shape: PatchShape): number[] {
  const corners = new Set(cornerIndices(shape));
  return controlSites(shape)
    .map((_, k) => k)
    .filter((k) => !corners.has(k));
}
