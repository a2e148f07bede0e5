/**
 * Random translations of image batches ([N, C, H, W] float inputs): each image moves by (dy, dx) drawn uniformly
 * from [−s, s]², the uncovered border filled with zeros — the standard small-data augmentation, applied to the clean
 * data while polishing. A translated clean image is still a clean image: nothing here can create a trigger.
 */
import { WeightscopeError } from '../../errors.js';
import type { Batch } from '../../runtime/dataset.js';
import type { Rng } from '../../util/random.js';

/** Whether a batch's inputs are images that can be translated. */
export function isImageBatch(b: Batch): boolean {
  return b.x.type === 'float32' && b.x.dims.length === 4 && b.x.dims[2] >= 8 && b.x.dims[3] >= 8;
}

/** A new batch (new arrays: the runtime keys resident data by array identity) with each image shifted. */
export function shiftImages(b: Batch, maxShift: number, rng: Rng): Batch {
  if (!isImageBatch(b)) throw new WeightscopeError('invalid-input', `translation needs image inputs [N, C, H, W], got ${b.x.type} [${b.x.dims.join(', ')}]`);
  if (!(Number.isInteger(maxShift) && maxShift >= 0)) throw new WeightscopeError('invalid-input', `the largest shift must be a non-negative integer, got ${maxShift}`);
  const [n, c, h, w] = b.x.dims;
  const src = b.x.data as Float32Array;
  const out = new Float32Array(src.length);
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const dy = rng.int(2 * maxShift + 1) - maxShift;
    const dx = rng.int(2 * maxShift + 1) - maxShift;
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * plane;
      for (let r = 0; r < h; r++) {
        const sr = r - dy;
        if (sr < 0 || sr >= h) continue;
        const c0 = Math.max(0, dx);
        const c1 = Math.min(w, w + dx);
        out.set(src.subarray(base + sr * w + c0 - dx, base + sr * w + c1 - dx), base + r * w + c0);
      }
    }
  }
  return { x: { type: 'float32', data: out, dims: b.x.dims }, y: b.y ? { ...b.y, data: (b.y.data as BigInt64Array).slice() } : null, size: b.size };
}
