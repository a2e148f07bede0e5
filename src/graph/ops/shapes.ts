/** Helpers of the table's shape inference: broadcasting, small known contents (shapes, axes), common rules. */
import { WeightscopeError } from '../../errors.js';
import type { Dim, ValueInfo } from '../ir.js';
import type { InferRule } from './types.js';

export const UNKNOWN: ValueInfo = { dtype: 0, shape: null };
/** Integer tensors up to this many elements carry their values through inference. */
export const SMALL = 64;

/** NumPy broadcasting of shapes; unknown dims stay unknown unless the other side fixes them. */
export function broadcastShapes(shapes: readonly (Dim[] | null)[]): Dim[] | null {
  if (shapes.some((s) => s === null)) return null;
  const ss = shapes as Dim[][];
  const r = Math.max(...ss.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    let d: Dim = 1;
    for (const s of ss) {
      const x = s[s.length - r + i];
      if (x === undefined || x === 1) continue;
      if (d === 1) d = x;
      else if (d !== x) {
        if (typeof d === 'number' && typeof x === 'number') {
          throw new WeightscopeError('shape-mismatch', `shapes [${ss.map((q) => q.join(',')).join('] and [')}] do not broadcast`);
        }
        d = typeof d === 'number' ? d : typeof x === 'number' ? x : null;
      }
    }
    out.push(d);
  }
  return out;
}

/** Contents of a small int tensor: numbers, or dim symbols when it came from Shape. */
export const sym = (i: ValueInfo | undefined): Dim[] | undefined => i?.value ?? i?.dimsValue;

/** value when every entry is a number, dimsValue otherwise. */
export function contents(d: Dim[] | undefined): Partial<ValueInfo> {
  if (!d || d.length > SMALL) return {};
  return d.every((x) => typeof x === 'number') ? { value: d as number[] } : { dimsValue: d };
}

export const isStatic = (s: Dim[] | null): s is number[] => s !== null && s.every((d) => typeof d === 'number');
export const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** A shape of the given rank with every dim unknown (null when the rank is unknown too). */
export const unknownDims = (s: Dim[] | null): Dim[] | null => (s ? s.map(() => null) : null);

/** Output 0 has the first input's dtype and shape. */
export const SAME_AS_INPUT: InferRule = ({ x }) => [{ dtype: x.dtype, shape: x.shape }];
/** Like SAME_AS_INPUT, with a fixed dtype (comparisons, tests). */
export const sameShapeAs =
  (dtype: number): InferRule =>
  ({ x }) => [{ dtype, shape: x.shape }];
/** Every output unknown: nothing on the differentiable path may need these ops' shapes. */
export const UNKNOWN_OUTPUTS: InferRule = ({ node }) => node.outputs.map(() => UNKNOWN);
