/**
 * One layer's spectrum from its stored bytes: the tensor is read a panel at a time (rows of a tall matrix straight
 * from the file), widened exactly to float64 per panel, accumulated into the Gram matrix in float64, and the Gram
 * matrix's eigenvalues computed — so a BF16 LLM is never whole in float64, and memory per layer is its Gram
 * matrix plus one panel. Runs in an eigen worker (src/report/esd-pool.ts) or in this thread.
 */
import { WeightscopeError } from '../errors.js';
import { DTYPE_SIZE, widenInto } from '../io/dtype.js';
import type { ByteSource, DType } from '../io/types.js';
import { symmetricEigenvalues } from '../linalg/eigen.js';
import { GramAccumulator } from '../linalg/gram.js';
import type { EigenMethod, EigenTimings } from '../linalg/lapack.js';
import { layerMatrices } from './matrices.js';
import type { LayerType } from './types.js';

/**
 * FP8 dequantisation, W = q · scale: one scale for the tensor, one per row (output channel), or one per
 * br×bc block (DeepSeek-style `weight_scale_inv` grids).
 */
export type DequantScale =
  | { readonly kind: 'tensor'; readonly value: number }
  | { readonly kind: 'rows'; readonly values: Float64Array }
  | { readonly kind: 'blocks'; readonly values: Float64Array; readonly gridCols: number; readonly br: number; readonly bc: number };

export interface LayerJob {
  readonly layer_type: LayerType;
  /** Shape of what is analysed (for an RNN direction: that direction's matrix). */
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly scale?: DequantScale;
  /** 'cuda': Gram and eigenvalues on an NVIDIA GPU (esd-cuda.ts); part of the cache key like the others. */
  readonly backend: 'lapack' | 'ts' | 'cuda';
  readonly method?: EigenMethod;
}

export interface SpectrumStats {
  /** Wall seconds per step; `total` includes everything. */
  seconds: { read: number; widen: number; gram: number; reduce: number; band: number; solve: number; total: number };
  /** Gram: 2 × multiply-adds actually done; reduce: 4/3·n³ per slice (the tridiagonal reduction's count). */
  flops: { gram: number; reduce: number };
  /** 'dsyevd', '2stage', 'ts' or 'cuda'. */
  method: string;
}

export interface LayerSpectrum {
  /** Eigenvalues (ascending) per slice; null when the values cannot be analysed (`problem`). */
  slices: Float64Array[] | null;
  problem: string | null;
  stats: SpectrumStats;
}

/** Counts what makes weights unanalysable: NaN, ±Inf, all zero. */
export class ValueCensus {
  nan = 0;
  inf = 0;
  nonZero = false;

  scan(a: Float64Array, from: number, to: number): void {
    let nan = 0;
    let inf = 0;
    let nz = false;
    for (let i = from; i < to; i++) {
      const v = a[i];
      // biome-ignore lint/suspicious/noSelfCompare: the NaN test of the per-element hot loop (no call)
      if (v !== v) nan++;
      else if (v === Infinity || v === -Infinity) inf++;
      else if (v !== 0) nz = true;
    }
    this.nan += nan;
    this.inf += inf;
    if (nz) this.nonZero = true;
  }

  problem(): string | null {
    const bad = this.nan + this.inf;
    if (bad > 0) {
      const parts = [this.nan ? `${this.nan} NaN` : '', this.inf ? `${this.inf} infinite` : ''].filter(Boolean).join(' and ');
      return `weights contain ${parts} value${bad > 1 ? 's' : ''}`;
    }
    return this.nonZero ? null : 'all weights are zero (empty spectrum)';
  }
}

/** Why weights cannot be analysed from their values (NaN/Inf, all zero), or null. */
export function valueProblem(w: Float64Array): string | null {
  const c = new ValueCensus();
  c.scan(w, 0, w.length);
  return c.problem();
}

/**
 * Panel depth: ≥ 1024 rows (columns), or 4 Mi elements (32 MiB of float64). Each dsyrk call streams the whole
 * Gram matrix through memory once, so deep panels keep that traffic small against the panel's flops.
 */
export function panelDepth(width: number, total: number): number {
  return Math.max(1, Math.min(total, Math.max(1024, Math.floor((4 << 20) / Math.max(1, width)))));
}

/** Multiplies a row-major panel (rows r0.., columns c0.., nr × nc) by its dequantisation scales. */
export function applyScale(s: DequantScale, panel: Float64Array, r0: number, nr: number, c0: number, nc: number): void {
  if (s.kind === 'tensor') {
    const v = s.value;
    for (let i = 0; i < nr * nc; i++) panel[i] *= v;
    return;
  }
  for (let r = 0; r < nr; r++) {
    const o = r * nc;
    if (s.kind === 'rows') {
      const v = s.values[r0 + r];
      for (let c = 0; c < nc; c++) panel[o + c] *= v;
    } else {
      const g = Math.floor((r0 + r) / s.br) * s.gridCols;
      for (let c = 0; c < nc; c++) panel[o + c] *= s.values[g + Math.floor((c0 + c) / s.bc)];
    }
  }
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export interface Clock {
  read: number;
  widen: number;
  gram: number;
}

export const since = (t: number): number => (performance.now() - t) / 1000;

/** The whole tensor read, widened to float64 and dequantised, for layers that are not streamed a panel at a time. */
export async function widenWhole(job: LayerJob, src: ByteSource, census: ValueCensus, clock: Clock): Promise<Float64Array> {
  let t = performance.now();
  const bytes = await src.read(0, src.length);
  clock.read += since(t);
  t = performance.now();
  const numel = elements(job.shape);
  const w = new Float64Array(numel);
  widenInto(job.dtype, bytes, 0, numel, w, 0);
  if (job.scale) applyScale(job.scale, w, 0, job.shape[0], 0, numel / job.shape[0]);
  census.scan(w, 0, numel);
  clock.widen += since(t);
  return w;
}

/** Checks that the source holds exactly the layer's bytes. */
export function checkSourceLength(job: LayerJob, src: ByteSource): void {
  const need = elements(job.shape) * DTYPE_SIZE[job.dtype];
  if (src.length !== need) {
    throw new WeightscopeError(
      'corrupt-file',
      `layer ${job.dtype} [${job.shape.join(', ')}] needs ${need} bytes, its source holds ${src.length}`,
    );
  }
}

/** Dense tall W (cols ≤ rows): rows streamed from the source a panel at a time, the next read overlapping this one's work. */
async function tallGram(job: LayerJob, src: ByteSource, acc: GramAccumulator, census: ValueCensus, clock: Clock): Promise<void> {
  const [rows, cols] = job.shape;
  const rowBytes = cols * DTYPE_SIZE[job.dtype];
  const b = panelDepth(cols, rows);
  const panel = new Float64Array(b * cols);
  const bufs = [new Uint8Array(b * rowBytes), new Uint8Array(b * rowBytes)];
  let t = performance.now();
  let next: Promise<Uint8Array> | null = src.read(0, Math.min(b, rows) * rowBytes, bufs[0]);
  for (let r0 = 0, k = 0; r0 < rows; r0 += b, k++) {
    const nb = Math.min(b, rows - r0);
    t = performance.now();
    const bytes = await next!;
    clock.read += since(t);
    next = r0 + nb < rows ? src.read((r0 + nb) * rowBytes, Math.min(b, rows - r0 - nb) * rowBytes, bufs[(k + 1) % 2]) : null;
    t = performance.now();
    widenInto(job.dtype, bytes, 0, nb * cols, panel, 0);
    if (job.scale) applyScale(job.scale, panel, r0, nb, 0, cols);
    census.scan(panel, 0, nb * cols);
    clock.widen += since(t);
    t = performance.now();
    acc.add(panel, nb);
    clock.gram += since(t);
  }
}

/** Dense wide W (rows < cols, G = WWᵀ): the stored tensor once, then column panels widened from it. */
async function wideGram(job: LayerJob, src: ByteSource, acc: GramAccumulator, census: ValueCensus, clock: Clock): Promise<void> {
  const [rows, cols] = job.shape;
  let t = performance.now();
  const bytes = await src.read(0, src.length);
  clock.read += since(t);
  const kc = panelDepth(rows, cols);
  const panel = new Float64Array(rows * kc);
  for (let c0 = 0; c0 < cols; c0 += kc) {
    const nc = Math.min(kc, cols - c0);
    t = performance.now();
    for (let r = 0; r < rows; r++) widenInto(job.dtype, bytes, r * cols + c0, nc, panel, r * nc);
    if (job.scale) applyScale(job.scale, panel, 0, rows, c0, nc);
    census.scan(panel, 0, rows * nc);
    clock.widen += since(t);
    t = performance.now();
    acc.add(panel, nc);
    clock.gram += since(t);
  }
}

/** The spectrum of one layer (see the module comment). Never holds more than the Gram matrices plus one panel. */
export async function layerSpectrum(job: LayerJob, src: ByteSource): Promise<LayerSpectrum> {
  const t0 = performance.now();
  const backend = job.backend;
  if (backend === 'cuda') throw new Error('a cuda layer goes through cudaLayerSpectrum (esd-cuda.ts)');
  checkSourceLength(job, src);
  const census = new ValueCensus();
  const clock: Clock = { read: 0, widen: 0, gram: 0 };
  const gramBackend = backend === 'lapack' ? 'auto' : 'ts';
  const grams: { G: Float64Array; n: number }[] = [];
  let gramFlops = 0;
  const dense = (job.layer_type === 'dense' || job.layer_type === 'embedding' || job.layer_type === 'rnn') && job.shape.length === 2;
  if (dense) {
    const [rows, cols] = job.shape;
    const acc = new GramAccumulator(rows, cols, gramBackend);
    if (acc.wide) await wideGram(job, src, acc, census, clock);
    else await tallGram(job, src, acc, census, clock);
    grams.push(acc.finish());
    gramFlops = 2 * acc.madds;
  } else {
    // Conv kernels: small; the whole tensor widened, then sliced (and scaled, for Conv2D) as WW does.
    const w = await widenWhole(job, src, census, clock);
    if (census.problem() === null) {
      const t = performance.now();
      for (const m of layerMatrices({ layer_type: job.layer_type, shape: job.shape }, w, job.dtype)) {
        const acc = new GramAccumulator(m.rows, m.cols, gramBackend);
        acc.add(m.data, acc.wide ? m.cols : m.rows);
        grams.push(acc.finish());
        gramFlops += 2 * acc.madds;
      }
      clock.gram += since(t);
    }
  }
  const problem = census.problem();
  const timings: EigenTimings = { method: 'dsyevd', reduce: 0, band: 0, solve: 0 };
  const seconds = { ...clock, reduce: 0, band: 0, solve: 0, total: 0 };
  let reduceFlops = 0;
  let slices: Float64Array[] | null = null;
  if (problem === null) {
    slices = [];
    for (const { G, n } of grams) {
      const t = performance.now();
      slices.push(symmetricEigenvalues(G, n, { backend, overwrite: true, method: job.method, timings }));
      if (backend === 'lapack') {
        seconds.reduce += timings.reduce;
        seconds.band += timings.band;
        seconds.solve += timings.solve;
      } else {
        seconds.reduce += since(t);
      }
      reduceFlops += (4 / 3) * n ** 3;
    }
  }
  seconds.total = since(t0);
  return {
    slices,
    problem,
    stats: { seconds, flops: { gram: gramFlops, reduce: reduceFlops }, method: backend === 'ts' ? 'ts' : timings.method },
  };
}
