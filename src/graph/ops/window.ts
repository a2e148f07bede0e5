/**
 * Sliding-window geometry shared by convolutions and pooling: auto_pad resolved to explicit pads (the one place SAME
 * padding is worked out) and the output extent of each spatial axis.
 */
import { attrInt, attrInts, attrString, type Dim, type GNode } from '../ir.js';

export interface Window {
  readonly kernel: number[];
  readonly strides: number[];
  readonly dil: number[];
}

/** kernel_shape (or the given fallback), strides and dilations of a window op. */
export function windowOf(node: GNode, kernel: number[]): Window {
  return {
    kernel,
    strides: attrInts(node, 'strides') ?? kernel.map(() => 1),
    dil: attrInts(node, 'dilations') ?? kernel.map(() => 1),
  };
}

const isSame = (autoPad: string): boolean => autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER';

/**
 * Begin and end pads ([b1, b2, …, e1, e2, …]) with auto_pad resolved. SAME_* needs the static spatial sizes of the
 * input (asked for only then): the output is ceil(x / stride), the total padding that takes is split evenly, the odd
 * one at the end (SAME_UPPER) or the beginning (SAME_LOWER).
 */
export function resolvedPads(node: GNode, w: Window, spatial: () => number[]): number[] {
  const ns = w.kernel.length;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return new Array<number>(2 * ns).fill(0);
  if (!isSame(autoPad)) return attrInts(node, 'pads') ?? new Array<number>(2 * ns).fill(0);
  const x = spatial();
  const pads = new Array<number>(2 * ns).fill(0);
  for (let i = 0; i < ns; i++) {
    const out = Math.ceil(x[i] / w.strides[i]);
    const total = Math.max(0, (out - 1) * w.strides[i] + (w.kernel[i] - 1) * w.dil[i] + 1 - x[i]);
    const small = Math.floor(total / 2);
    pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
    pads[i + ns] = total - pads[i];
  }
  return pads;
}

/** Output extents of the spatial axes (null where the input's is not static). */
export function windowOutput(node: GNode, w: Window, spatial: readonly Dim[]): Dim[] {
  const ns = w.kernel.length;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const pads = attrInts(node, 'pads') ?? new Array<number>(2 * ns).fill(0);
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  return w.kernel.map((kern, i) => {
    const d = spatial[i];
    if (typeof d !== 'number') return null;
    const k = (kern - 1) * w.dil[i] + 1;
    if (isSame(autoPad)) return Math.ceil(d / w.strides[i]);
    if (autoPad === 'VALID') return Math.floor((d - k) / w.strides[i]) + 1;
    const t = d + pads[i] + pads[i + ns] - k;
    return (ceil ? Math.ceil(t / w.strides[i]) : Math.floor(t / w.strides[i])) + 1;
  });
}
