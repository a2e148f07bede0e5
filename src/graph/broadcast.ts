/**
 * Undo NumPy-style broadcasting in a gradient: sum g over the axes along which x was broadcast, giving x's shape.
 * Static shapes give a plain ReduceSum; unknown dims are resolved at run time (Shape → Equal(1) → Compress) and
 * reduced with noop_with_empty_axes=1. Only integer ops are added for that, so the result stays differentiable.
 */
import { WeightscopeError } from '../errors.js';
import type { Emitter } from './emitter.js';
import type { Dim } from './ir.js';

const sameDim = (a: Dim, b: Dim): boolean => a !== null && a === b;

export function unbroadcast(b: Emitter, g: string, x: string): string {
  const gs = b.shapeOf(g),
    xs = b.shapeOf(x);
  if (!gs || !xs) throw new WeightscopeError('unsupported-op', `cannot undo broadcasting: rank of '${!gs ? g : x}' unknown`);
  if (gs.length === xs.length && gs.every((d, i) => sameDim(d, xs[i]))) return g;
  const lead = gs.length - xs.length;
  if (lead < 0) throw new WeightscopeError('shape-mismatch', `gradient of rank ${gs.length} for '${x}' of rank ${xs.length}`);
  let r =
    lead > 0
      ? b.reduceSum(
          g,
          Array.from({ length: lead }, (_, i) => i),
          false,
        )
      : g;
  const staticAxes: number[] = [];
  const dynAxes: number[] = [];
  xs.forEach((d, i) => {
    const gd = gs[lead + i];
    if (d === 1 && gd !== 1) staticAxes.push(i);
    else if (d === null || (typeof d === 'string' && !sameDim(d, gd))) {
      if (gd !== 1) dynAxes.push(i);
    }
  });
  if (dynAxes.length === 0) {
    r = b.reduceSum(r, staticAxes, true);
  } else {
    const shx = b.shape(x);
    const dims = b.op('Gather', [shx, b.i64(dynAxes)], { axis: 0 });
    const mask = b.op('Equal', [dims, b.i64([1])]);
    const picked = b.op('Compress', [b.i64(dynAxes), mask], { axis: 0 });
    const axes = staticAxes.length ? b.concat([b.i64(staticAxes), picked], 0) : picked;
    r = b.op('ReduceSum', [r, axes], { keepdims: 1, noop_with_empty_axes: 1 });
  }
  b.g.values.set(r, { dtype: b.dtype(g) || b.dtype(x), shape: [...xs] });
  return r;
}
