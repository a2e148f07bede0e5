/** A clean set split into a training part and a held-out part (for choosing t, or the best point of a surface). */
import { WeightscopeError } from '../../errors.js';
import type { Dataset } from '../../runtime/dataset.js';
import { loadDataset, makeDataset, takeBatch } from '../../runtime/dataset.js';
import { Rng } from '../../util/random.js';

/**
 * Splits a clean set into training and held-out parts by a seeded permutation: the last round(f·n) samples of the
 * permutation are held out (at least one on each side).
 */
export function splitClean(ds: Dataset, heldOutFraction: number, seed: number): { train: Dataset; heldOut: Dataset } {
  const perm = new Rng(seed).permutation(ds.n);
  const nHeld = Math.min(ds.n - 1, Math.max(1, Math.round(heldOutFraction * ds.n)));
  const part = (idx: Uint32Array): Dataset => {
    const sorted = Uint32Array.from(idx).sort();
    const b = takeBatch(ds, sorted);
    return makeDataset(b.x, b.y ? (b.y.data as BigInt64Array) : null);
  };
  return { train: part(perm.subarray(0, ds.n - nHeld)), heldOut: part(perm.subarray(ds.n - nHeld)) };
}

/**
 * The clean data at `dataPath` and its held-out part: the file at `heldOutPath` when given (then all of the clean
 * data trains), else a seeded split of a share `fraction`.
 */
export async function loadCleanSplit(
  dataPath: string,
  heldOutPath: string | undefined,
  fraction: number,
  seed: number,
): Promise<{ clean: Dataset; train: Dataset; heldOut: Dataset }> {
  const clean = await loadDataset(dataPath);
  if (heldOutPath) return { clean, train: clean, heldOut: await loadDataset(heldOutPath) };
  if (clean.n < 2) throw new WeightscopeError('invalid-input', 'the clean data needs at least 2 samples to split off a held-out part');
  return { clean, ...splitClean(clean, fraction, seed) };
}
