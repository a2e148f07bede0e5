/**
 * Where layer spectra are computed: a pool of worker threads for real models (one layer per worker, OpenBLAS
 * single-threaded in each), or this thread — with every BLAS thread on the one matrix — for tiny models and
 * single layers; with --device cuda, an NVIDIA GPU (esd-cuda.ts). analyze() only sees the EsdRunner interface.
 */
import { availableParallelism } from 'node:os';
import { bytesSource, fileSource } from '../io/byte-source.js';
import type { ByteSource } from '../io/types.js';
import { CudaEigen } from '../linalg/cuda.js';
import { resolveBackend } from '../linalg/eigen.js';
import { getBlasThreads, setBlasThreads } from '../linalg/lapack.js';
import { cudaLayerSpectrum } from '../layers/esd-cuda.js';
import { layerSpectrum, type LayerJob, type LayerSpectrum } from '../layers/esd.js';
import type { EsdRequest, SpectrumSource } from '../layers/esd-source.js';
import type { LayerPlan } from '../layers/types.js';
import { WorkerPool } from '../util/worker-pool.js';
import type { AnalyzeOptions } from './options.js';

export interface EsdRunner {
  readonly backend: LayerJob['backend'];
  /** How many layers it works on at once (analyze keeps this many, plus one, in flight). */
  readonly parallelism: number;
  spectrum(job: LayerJob, source: SpectrumSource): Promise<LayerSpectrum>;
  close(): Promise<void>;
}

/**
 * Below this many multiply-adds (Gram products, Σ N·M²·rf) the eigenvalues take well under a second in this
 * thread, and starting workers would cost more than it saves (≈50 ms each from dist/, ≈0.7 s under tsx, which
 * compiles the worker again). Measured: gpt2-tiny (1.5e8) 0.03 s inline with LAPACK vs 0.8 s with a pool under
 * tsx. The pure-TypeScript solver is roughly 10× slower per flop, hence its lower threshold.
 */
export const POOL_MIN_WORK = { lapack: 2e9, ts: 2e8 } as const;

export function estimatedWork(layers: readonly Pick<LayerPlan, 'N' | 'M' | 'rf'>[]): number {
  return layers.reduce((s, l) => s + l.N * l.M * l.M * l.rf, 0);
}

/** Runs `fn` on the layer's bytes: the bytes themselves, or the file range opened for the call. */
async function withSource<T>(source: SpectrumSource, fn: (src: ByteSource) => Promise<T>): Promise<T> {
  if (source.kind === 'bytes') return fn(bytesSource(new Uint8Array(source.buffer, source.byteOffset, source.byteLength)));
  const src = await fileSource(source.location);
  try {
    return await fn(src);
  } finally {
    await src.close();
  }
}

function inlineRunner(backend: 'lapack' | 'ts'): EsdRunner {
  return {
    backend,
    parallelism: 1,
    spectrum: (job, source) => withSource(source, (src) => layerSpectrum(job, src)),
    async close() {},
  };
}

export async function makeEsdRunner(
  opts: Pick<AnalyzeOptions, 'eigenBackend' | 'workers'>,
  layers: readonly LayerPlan[],
): Promise<EsdRunner> {
  if (opts.eigenBackend === 'cuda') {
    // One matrix on the GPU at a time (CudaEigen queues them); two layers in flight let reading and widening the
    // next overlap it.
    const gpu = CudaEigen.open();
    return {
      backend: 'cuda',
      parallelism: 2,
      spectrum: (job, source) => withSource(source, (src) => cudaLayerSpectrum(gpu, job, src)),
      close: async () => gpu.close(),
    };
  }
  // Resolve first: an explicit 'lapack' without LAPACK fails here, before any worker starts.
  const backend = resolveBackend(opts.eigenBackend);
  const size = Math.min(opts.workers ?? availableParallelism(), layers.length);
  // An explicit `workers` is obeyed; otherwise small jobs stay in this thread.
  const small = opts.workers === undefined && estimatedWork(layers) < POOL_MIN_WORK[backend];
  if (size <= 1 || small) return inlineRunner(backend);
  // One layer per worker: OpenBLAS single-threaded (a process-wide setting, restored on close).
  const before = getBlasThreads();
  setBlasThreads(1);
  const pool = new WorkerPool<EsdRequest, LayerSpectrum>({
    size,
    callerUrl: import.meta.url,
    worker: '../layers/esd-worker',
    workerData: { blasThreads: 1 },
    label: 'eigen worker',
  });
  return {
    backend,
    parallelism: size,
    spectrum: (job, source) => pool.run({ job, source }, source.kind === 'bytes' ? [source.buffer] : []),
    async close() {
      await pool.close();
      if (before !== null) setBlasThreads(before);
    },
  };
}
