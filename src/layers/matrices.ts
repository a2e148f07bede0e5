/**
 * The matrices whose singular values make a layer's ESD (docs/algorithms.md §1.3): the tensor itself for a 2-D weight,
 * rf kernel slices for a Conv2D weight, scaled as WeightWatcher 0.7.5.5 does with conv2d_norm=True and pool=True.
 */
import type { DType } from '../io/types.js';
import type { LayerPlan } from './types.js';

/** A row-major matrix view. */
export interface Matrix {
  data: Float64Array;
  rows: number;
  cols: number;
}

/** float32(√0.5): WW multiplies the float32 kernel by √(conv2d_count/2) with conv2d_count = 1, in float32. */
export const CONV2D_SCALE_F32 = Math.fround(Math.SQRT1_2);

/**
 * Scale a Conv2D kernel the way WW does. WW holds weights as float32, so the product is rounded to float32: for
 * F32/F16/BF16 inputs (exact in float32) we reproduce that bit for bit (the product of two float32 values is exact
 * in float64, so one `fround` is the float32 multiply). F64 inputs keep full precision with an exact-√0.5 multiply.
 */
export function scaleConv2d(w: Float64Array, dtype: DType): Float64Array {
  const out = new Float64Array(w.length);
  if (dtype === 'F64') {
    for (let i = 0; i < w.length; i++) out[i] = w[i] * Math.SQRT1_2;
  } else {
    for (let i = 0; i < w.length; i++) out[i] = Math.fround(w[i] * CONV2D_SCALE_F32);
  }
  return out;
}

/**
 * The slices of a layer: one matrix for dense layers (shares `w`), rf matrices for Conv2D (already scaled) and
 * Conv1d. Slice order is row-major over the kernel position; it does not matter once the ESD is pooled.
 *
 * Conv1d (rank 3, ONNX/PyTorch (out, in, k), Keras (k, in, out)): WeightWatcher 0.7.5.5 has a CONV1D type but
 * extracts one matrix from it, which for a rank-3 kernel ends in a failed SVD; we apply its Conv2D rule to the kernel
 * seen as (out, in, 1, k): k slices of out×in, rf = k, one pooled ESD, without the conv2d_norm factor (WW applies
 * that factor to its CONV2D type only).
 */
export function layerMatrices(plan: Pick<LayerPlan, 'layer_type' | 'shape'>, w: Float64Array, dtype: DType): Matrix[] {
  const shape = plan.shape;
  const size = shape.reduce((a, b) => a * b, 1);
  if (w.length !== size) throw new RangeError(`tensor has ${w.length} values, shape [${shape.join(', ')}] needs ${size}`);
  // A kernel is (out, in, k…) when its channel sides dominate — slices W[:, :, p] — else (k…, in, out), slices W[p, :, :].
  if (plan.layer_type === 'conv1d' && shape.length === 3) {
    const [s0, s1, s2] = shape;
    return s0 + s1 >= s2 ? kernelSlices(w, s0, s1, s2) : blockSlices(w, s0, s1, s2);
  }
  if (plan.layer_type !== 'conv2d') return [{ data: w, rows: shape[0], cols: shape[1] }];
  const s = scaleConv2d(w, dtype);
  const [s0, s1, s2, s3] = shape;
  return s0 + s1 >= s2 + s3 ? kernelSlices(s, s0, s1, s2 * s3) : blockSlices(s, s0 * s1, s2, s3);
}

/** (rows, cols, k) row-major → the k matrices W[:, :, p] (stride k). */
function kernelSlices(w: Float64Array, rows: number, cols: number, k: number): Matrix[] {
  const mats: Matrix[] = [];
  for (let p = 0; p < k; p++) {
    const m = new Float64Array(rows * cols);
    for (let q = 0; q < rows * cols; q++) m[q] = w[q * k + p];
    mats.push({ data: m, rows, cols });
  }
  return mats;
}

/** (count, rows, cols) row-major → the count contiguous blocks W[p, :, :] (views, not copies). */
function blockSlices(w: Float64Array, count: number, rows: number, cols: number): Matrix[] {
  const k = rows * cols;
  return Array.from({ length: count }, (_, p) => ({ data: w.subarray(p * k, (p + 1) * k), rows, cols }));
}
