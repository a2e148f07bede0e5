/**
 * One layer's spectrum on an NVIDIA GPU (analyze --device cuda): the layer is read and widened to float64 whole
 * (the GPU forms the Gram matrix itself with cublasDsyrk, so it needs W, not panels), checked for NaN/Inf/all-zero
 * here, and each slice's Gram matrix and eigenvalues computed by src/linalg/cuda.ts. Memory per layer in flight is
 * the layer in float64 — more than the CPU path's Gram matrix plus one panel (src/layers/esd.ts), the price of one
 * host→device copy per matrix.
 */
import type { ByteSource } from '../io/types.js';
import type { CudaEigen } from '../linalg/cuda.js';
import { ValueCensus, checkSourceLength, since, widenWhole, type Clock, type LayerJob, type LayerSpectrum } from './esd.js';
import { layerMatrices } from './matrices.js';

export async function cudaLayerSpectrum(gpu: CudaEigen, job: LayerJob, src: ByteSource): Promise<LayerSpectrum> {
  const t0 = performance.now();
  checkSourceLength(job, src);
  const census = new ValueCensus();
  const clock: Clock = { read: 0, widen: 0, gram: 0 };
  const w = await widenWhole(job, src, census, clock);
  const problem = census.problem();
  const seconds = { ...clock, reduce: 0, band: 0, solve: 0, total: 0 };
  const flops = { gram: 0, reduce: 0 };
  let slices: Float64Array[] | null = null;
  if (problem === null) {
    const t = performance.now();
    slices = [];
    for (const m of layerMatrices({ layer_type: job.layer_type, shape: job.shape }, w, job.dtype)) {
      // The census has checked the values: the GPU class's own NaN scan is skipped.
      slices.push(await gpu.eigenvalues(m.data, m.rows, m.cols, { assumeFinite: true }));
      const n = Math.min(m.rows, m.cols);
      flops.gram += (2 * Math.max(m.rows, m.cols) * n * (n + 1)) / 2;
      flops.reduce += (4 / 3) * n ** 3;
    }
    // Gram and solve run in one queued GPU call; their time is reported as the solve.
    seconds.solve = since(t);
  }
  seconds.total = since(t0);
  return { slices, problem, stats: { seconds, flops, method: 'cuda' } };
}
