/**
 * analyze(): checkpoint → per-layer HT-SR report. Streams layer by layer: each worker reads its layer's bytes
 * straight from the file a panel at a time (src/layers/esd.ts), so memory is bounded by a few Gram matrices whatever
 * the model size; at most `runner.parallelism + 1` layers are in flight. With a cache folder, finished layers are
 * kept (src/report/layer-cache.ts): an interrupted analysis resumes, an unchanged model is not solved again.
 */
import { createHash } from 'node:crypto';
import { WeightscopeError } from '../errors.js';
import { DTYPE_SIZE, isWideningFloat } from '../io/dtype.js';
import { sha256OfRange } from '../io/byte-source.js';
import { openCheckpoint, type ResolvedModel } from '../io/open.js';
import type { TensorInfo, TensorLocation, TensorReader } from '../io/types.js';
import type { DequantScale, LayerJob, LayerSpectrum } from '../layers/esd.js';
import type { SpectrumSource } from '../layers/esd-source.js';
import { modelFamily } from '../layers/family.js';
import { geometry, layerFlops, planLayers } from '../layers/plan.js';
import { selectLayers } from '../layers/select.js';
import { isExactCopy, tieCandidates } from '../layers/ties.js';
import { NO_SIZE_LIMITS, type LayerPlan, type SkippedTensor } from '../layers/types.js';
import type { ProgressHook } from '../util/progress.js';
import { estimatedWork, makeEsdRunner, type EsdRunner } from './eigen-pool.js';
import { LayerCache, fingerprint, spectrumKey } from './layer-cache.js';
import { parseAnalyzeOptions, type AnalyzeOptions, type AnalyzeOptionsInput } from './options.js';
import { failedRow, rowFromSpectrum, summarize } from './row.js';
import type { AnalysisReport, LayerRow, WorkSummary } from './types.js';

export { valueProblem } from '../layers/esd.js';

/** How analyze() runs, beyond the options that define the result. */
export interface AnalyzeContext {
  onProgress?: ProgressHook;
  /** The per-layer cache's folder (the CLI and the service use $WEIGHTSCOPE_DATA/cache); no cache when absent. */
  cacheDir?: string;
}

const work = (l: LayerPlan): number => estimatedWork([l]);

/** Drop ONNX extras that are exact (transposed) copies of a named layer; keeps the others. */
async function dropTiedCopies(
  reader: TensorReader,
  all: readonly LayerPlan[],
  chosen: LayerPlan[],
  skipped: SkippedTensor[],
): Promise<LayerPlan[]> {
  const out: LayerPlan[] = [];
  for (const l of chosen) {
    if (!l.extra || l.part) {
      out.push(l);
      continue;
    }
    const cands = tieCandidates(l, all);
    let copyOf: LayerPlan | null = null;
    if (cands.length) {
      const a = await reader.readFloat64(l.tensor);
      for (const c of cands) {
        const b = await reader.readFloat64(c.tensor);
        if (isExactCopy(a, l.shape, b, c.shape)) {
          copyOf = c;
          break;
        }
      }
    }
    if (copyOf)
      skipped.push({
        layer_id: l.layer_id,
        name: l.name,
        tensor: l.tensor,
        reason: `exact copy of ${copyOf.tensor} (tied weights), reported once`,
      });
    else out.push(l);
  }
  return out;
}

/** Whether a tensor the plan enumerated is a weight matrix at all (skipped only by a filter, not for what it is). */
function isWeightMatrix(reader: TensorReader, name: string): boolean {
  const t = reader.tensors.find((x) => x.name === name);
  const role = reader.roles?.get(name);
  return !!t && isWideningFloat(t.dtype) && geometry(t.shape, role) !== null && (!reader.roles || role !== undefined);
}

/** "no weight matrices found (N tensors: a [2, 3] F32, …)" — a dataset, a tokenizer, a file of biases. */
function noWeights(tensors: readonly TensorInfo[]): WeightscopeError {
  const shown = tensors.slice(0, 6).map((t) => `${t.name} [${t.shape.join(', ')}] ${t.dtype}`);
  const more = tensors.length > shown.length ? `, … ${tensors.length - shown.length} more` : '';
  return new WeightscopeError(
    'no-weight-matrices',
    `no weight matrices found (${tensors.length} tensor${tensors.length === 1 ? '' : 's'}${shown.length ? `: ${shown.join(', ')}${more}` : ''})`,
    { tensors: tensors.length },
  );
}

/**
 * FP8 weights come with a scale tensor beside them (`W_scale` per tensor or channel, DeepSeek's block-wise
 * `W_scale_inv`); W = q · scale either way. Absent: the raw FP8 values (alpha is scale-free; norms are not).
 */
async function dequantScale(
  reader: TensorReader,
  info: TensorInfo,
  rows: number,
  cols: number,
  block: readonly number[] | null,
): Promise<DequantScale | undefined> {
  if (info.dtype !== 'F8_E4M3' && info.dtype !== 'F8_E5M2') return undefined;
  const s = reader.tensors.find((t) => t.name === `${info.name}_scale_inv` || t.name === `${info.name}_scale`);
  if (!s || !isWideningFloat(s.dtype)) return undefined;
  const v = await reader.readFloat64(s.name);
  const bad = (): never => {
    throw new WeightscopeError(
      'unsupported-dtype',
      `FP8 tensor '${info.name}' [${rows}, ${cols}]: cannot apply scale '${s.name}' of shape [${s.shape.join(', ')}]`,
    );
  };
  if (v.length === 1) return { kind: 'tensor', value: v[0] };
  if (v.length === rows && (s.shape.length === 1 || (s.shape.length === 2 && s.shape[1] === 1))) return { kind: 'rows', values: v };
  if (s.shape.length === 2) {
    const [gr, gc] = s.shape;
    const br = blockSize(rows, gr, block?.[0]);
    const bc = blockSize(cols, gc, block?.[1]);
    if (br && bc) return { kind: 'blocks', values: v, gridCols: gc, br, bc };
  }
  return bad();
}

/**
 * The block side of a `grid`-long scale grid over `size` elements: config.json's weight_block_size when it fits, else
 * the largest power of two that gives `grid` blocks (quantisers use fixed power-of-two blocks, the last one partial),
 * else none.
 */
function blockSize(size: number, grid: number, given: number | undefined): number | null {
  const fits = (b: number): boolean => b > 0 && Math.ceil(size / b) === grid;
  if (given !== undefined && fits(given)) return given;
  for (let b = 2 ** Math.floor(Math.log2(Math.max(1, size))); b >= 1; b /= 2) if (fits(b)) return b;
  return null;
}

/** config.json's quantization_config.weight_block_size ([rows, cols]), when present. */
function configBlock(config: Readonly<Record<string, unknown>> | null | undefined): readonly number[] | null {
  const q = config?.quantization_config as { weight_block_size?: unknown } | undefined;
  const b = q?.weight_block_size;
  return Array.isArray(b) && b.length === 2 && b.every((x) => Number.isSafeInteger(x) && (x as number) > 0) ? (b as number[]) : null;
}

/** Where the layer's bytes are: a file range to stream, or the bytes read here. */
async function layerSource(
  reader: TensorReader,
  plan: LayerPlan,
  info: TensorInfo,
  bytesPerLayer: number,
): Promise<{ source: SpectrumSource; location: TensorLocation | null; bytes: Uint8Array | null }> {
  const loc = reader.locate?.(plan.tensor) ?? null;
  const at = plan.part ? plan.part.index * bytesPerLayer : 0;
  if (loc) {
    const location = { path: loc.path, offset: loc.offset + at, length: bytesPerLayer };
    return { source: { kind: 'file', location }, location, bytes: null };
  }
  const all = await reader.readBytes(info.name);
  // A copy the worker may own (the reader may hand out views into a shared buffer).
  const bytes = all.slice(at, at + bytesPerLayer);
  return {
    source: { kind: 'bytes', buffer: bytes.buffer as ArrayBuffer, byteOffset: 0, byteLength: bytes.byteLength },
    location: null,
    bytes,
  };
}

interface LayerOutcome {
  row: LayerRow;
  spectrum: LayerSpectrum | null;
  cached: boolean;
}

async function analyseLayer(
  reader: TensorReader,
  plan: LayerPlan,
  runner: EsdRunner,
  opts: AnalyzeOptions,
  cache: LayerCache | null,
  block: readonly number[] | null,
): Promise<LayerOutcome> {
  const info = reader.tensors.find((t) => t.name === plan.tensor)!;
  const numel = plan.shape.reduce((a, b) => a * b, 1);
  const bytesPerLayer = numel * DTYPE_SIZE[info.dtype];
  const rowsCols = plan.shape.length === 2 ? plan.shape : [plan.shape[0], numel / Math.max(1, plan.shape[0])];
  const job: LayerJob = {
    layer_type: plan.layer_type,
    shape: plan.shape,
    dtype: info.dtype,
    scale: await dequantScale(reader, info, rowsCols[0], rowsCols[1], block),
    backend: runner.backend,
  };
  const { source, location, bytes } = await layerSource(reader, plan, info, bytesPerLayer);
  // The cache key is the content hash; a file range's hash is remembered under its stat fingerprint, so an
  // unchanged file is hashed once. A changed or copied file is hashed again (one read, then the worker's read
  // comes from the page cache), and every tensor whose content is unchanged is still served from the cache.
  let sha: string | null = null;
  if (cache) {
    if (location) {
      const fp = await fingerprint(location);
      sha = cache.knownHash(fp);
      if (!sha) {
        sha = await sha256OfRange(location);
        cache.rememberHash(fp, sha);
      }
    } else if (bytes) {
      sha = createHash('sha256').update(bytes).digest('hex');
    }
    if (sha) {
      const hit = cache.get(spectrumKey(sha, job));
      if (hit)
        return {
          row: hit.slices ? rowFromSpectrum(plan, hit.slices, opts) : failedRow(plan, hit.problem ?? 'unknown'),
          spectrum: null,
          cached: true,
        };
    }
  }
  let spectrum: LayerSpectrum;
  try {
    spectrum = await runner.spectrum(job, source);
  } catch (e) {
    // An eigensolver that does not converge fails this layer only; I/O and other errors stop the analysis.
    if (e instanceof WeightscopeError && e.code === 'numerical')
      return { row: failedRow(plan, `eigenvalues: ${e.message}`), spectrum: null, cached: false };
    throw e;
  }
  if (cache && sha) cache.put(spectrumKey(sha, job), { slices: spectrum.slices, problem: spectrum.problem });
  const row = spectrum.slices ? rowFromSpectrum(plan, spectrum.slices, opts) : failedRow(plan, spectrum.problem ?? 'unknown');
  return { row, spectrum, cached: false };
}

function describeSource(source: string | TensorReader, resolved: ResolvedModel | undefined): string {
  if (typeof source !== 'string') return `<${source.format} reader>`;
  return resolved?.id ?? source;
}

function emptyWork(): WorkSummary {
  return {
    flops: 0,
    seconds: 0,
    gflops: 0,
    layers_computed: 0,
    layers_cached: 0,
    stages: { read: 0, widen: 0, gram: 0, reduce: 0, band: 0, solve: 0 },
  };
}

/**
 * Analyse a checkpoint (path, HF folder or id, or an open TensorReader, which is not closed). One row per
 * analysed layer, in layer-id order; a layer whose weights are NaN/Inf or all zero is a `failed` row with a
 * reason, and the others are analysed as usual. A checkpoint without any weight matrix is an error
 * ('no-weight-matrices'), never an empty report.
 */
export async function analyze(
  source: string | TensorReader,
  options: AnalyzeOptionsInput = {},
  context?: ProgressHook | AnalyzeContext,
): Promise<AnalysisReport> {
  const t0 = performance.now();
  const ctx: AnalyzeContext = typeof context === 'function' ? { onProgress: context } : (context ?? {});
  const onProgress = ctx.onProgress;
  const opts = parseAnalyzeOptions(options);
  let reader: TensorReader;
  let resolved: ResolvedModel | undefined;
  let owned = false;
  if (typeof source === 'string') {
    const opened = await openCheckpoint(source);
    reader = opened.reader;
    resolved = opened.resolved;
    owned = true;
  } else {
    reader = source;
  }
  let runner: EsdRunner | undefined;
  let cache: LayerCache | null = null;
  try {
    const limits = opts.allLayers ? NO_SIZE_LIMITS : { maxEvals: opts.maxEvals, maxN: opts.maxN };
    const { layers: planned, skipped } = planLayers(reader.tensors, { roles: reader.roles, minEvals: opts.minEvals, ...limits });
    if (planned.length === 0 && !skipped.some((k) => isWeightMatrix(reader, k.tensor))) throw noWeights(reader.tensors);
    const chosen = await dropTiedCopies(reader, planned, selectLayers(planned, opts.layers), skipped);
    runner = await makeEsdRunner(opts, chosen);
    if (ctx.cacheDir) cache = LayerCache.open(ctx.cacheDir);
    const rows: LayerRow[] = new Array(chosen.length);
    const block = configBlock(resolved?.config);
    const summary = emptyWork();
    const totalWork = chosen.reduce((s, l) => s + layerFlops(l), 0);
    let doneWork = 0;
    let next = 0;
    let done = 0;
    onProgress?.(0, chosen.length, 'reading', { fraction: 0 });
    // Largest eigenproblems first (longest-processing-time order) so the workers finish together; rows keep id order.
    const order = chosen.map((_, i) => i).sort((a, b) => work(chosen[b]) - work(chosen[a]) || a - b);
    let aborted = false;
    const lane = async () => {
      try {
        for (let k = next++; k < order.length && !aborted; k = next++) {
          const i = order[k];
          const out = await analyseLayer(reader, chosen[i], runner!, opts, cache, block);
          rows[i] = out.row;
          doneWork += layerFlops(chosen[i]);
          const detail: Record<string, unknown> = {
            fraction: totalWork > 0 ? doneWork / totalWork : (done + 1) / chosen.length,
            layer_id: chosen[i].layer_id,
          };
          if (out.cached) {
            summary.layers_cached++;
            detail.cached = true;
          } else if (out.spectrum) {
            const st = out.spectrum.stats;
            const flops = st.flops.gram + st.flops.reduce;
            summary.layers_computed++;
            summary.flops += flops;
            for (const k of Object.keys(summary.stages) as (keyof WorkSummary['stages'])[]) summary.stages[k] += st.seconds[k];
            Object.assign(detail, {
              gflops: Number((flops / 1e9 / Math.max(st.seconds.total, 1e-9)).toFixed(2)),
              seconds: Number(st.seconds.total.toFixed(3)),
              method: st.method,
              ...(st.seconds.band > 0 ? { band_share: Number((st.seconds.band / st.seconds.total).toFixed(3)) } : {}),
            });
          }
          onProgress?.(++done, chosen.length, chosen[i].name, detail);
        }
      } catch (e) {
        aborted = true; // the other lanes stop at their next layer
        throw e;
      }
    };
    const lanes = Math.max(1, Math.min(chosen.length, runner.parallelism + 1));
    await Promise.all(Array.from({ length: lanes }, lane));
    let parameters = 0;
    for (const t of reader.tensors) parameters += t.shape.reduce((a, b) => a * b, 1);
    const seconds = (performance.now() - t0) / 1000;
    summary.seconds = seconds;
    summary.gflops = seconds > 0 ? summary.flops / 1e9 / seconds : 0;
    return {
      model: {
        source: describeSource(source, resolved),
        format: reader.format,
        tensors: reader.tensors.length,
        parameters,
        family: modelFamily(resolved?.config ?? null, reader.tensors),
      },
      options: { ...opts },
      layers: rows,
      summary: summarize(rows, opts),
      skipped: skipped.sort((a, b) => a.layer_id - b.layer_id),
      work: summary,
      seconds,
    };
  } finally {
    cache?.close();
    await runner?.close();
    if (owned) await reader.close();
  }
}
