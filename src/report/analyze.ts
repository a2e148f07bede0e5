/**
 * analyze(): checkpoint → per-layer HT-SR report (issue 2). Streams tensor by tensor: at most
 * `runner.parallelism + 1` tensors are resident at once, whatever the model size.
 */
import { WeightscopeError } from '../errors.js';
import { openCheckpoint, type ResolvedModel } from '../io/open.js';
import type { TensorReader } from '../io/types.js';
import { layerMatrices } from '../layers/matrices.js';
import { planLayers } from '../layers/plan.js';
import { selectLayers } from '../layers/select.js';
import { isExactCopy, tieCandidates } from '../layers/ties.js';
import type { LayerPlan, SkippedTensor } from '../layers/types.js';
import { estimatedWork, makeEigenRunner } from './eigen-pool.js';
import type { EigenRunner } from './eigen-runner.js';
import { parseAnalyzeOptions, type AnalyzeOptions, type AnalyzeOptionsInput } from './options.js';
import { failedRow, rowFromSpectrum, summarize } from './row.js';
import type { AnalysisReport, LayerRow, ProgressHook } from './types.js';

const work = (l: LayerPlan): number => estimatedWork([l]);

/** Why a weight tensor cannot be analysed from its values, or null. */
export function valueProblem(w: Float64Array): string | null {
  let nonFinite = 0;
  let nan = 0;
  let nonZero = false;
  for (let i = 0; i < w.length; i++) {
    const v = w[i];
    if (Number.isNaN(v)) nan++;
    else if (v === Infinity || v === -Infinity) nonFinite++;
    else if (v !== 0) nonZero = true;
  }
  if (nan + nonFinite > 0) {
    const parts = [nan ? `${nan} NaN` : '', nonFinite ? `${nonFinite} infinite` : ''].filter(Boolean).join(' and ');
    return `weights contain ${parts} value${nan + nonFinite > 1 ? 's' : ''}`;
  }
  if (!nonZero) return 'all weights are zero (empty spectrum)';
  return null;
}

/** Drop ONNX extras that are exact (transposed) copies of a named layer; keeps the others. */
async function dropTiedCopies(reader: TensorReader, all: readonly LayerPlan[], chosen: LayerPlan[], skipped: SkippedTensor[]): Promise<LayerPlan[]> {
  const out: LayerPlan[] = [];
  for (const l of chosen) {
    if (!l.extra) {
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
    if (copyOf) skipped.push({ layer_id: l.layer_id, name: l.name, tensor: l.tensor, reason: `exact copy of ${copyOf.tensor} (tied weights), reported once` });
    else out.push(l);
  }
  return out;
}

async function analyseLayer(reader: TensorReader, plan: LayerPlan, runner: EigenRunner, opts: AnalyzeOptions): Promise<LayerRow> {
  const info = reader.tensors.find((t) => t.name === plan.tensor)!;
  const w = await reader.readFloat64(plan.tensor);
  const problem = valueProblem(w);
  if (problem) return failedRow(plan, problem);
  const mats = layerMatrices(plan, w, info.dtype);
  let sliceEvals: Float64Array[];
  try {
    sliceEvals = await runner.eigenvalues(mats);
  } catch (e) {
    // An eigensolver that does not converge fails this layer only; I/O and other errors stop the analysis.
    if (e instanceof WeightscopeError && e.code === 'numerical') return failedRow(plan, `eigenvalues: ${e.message}`);
    throw e;
  }
  return rowFromSpectrum(plan, sliceEvals, opts);
}

function describeSource(source: string | TensorReader, resolved: ResolvedModel | undefined): string {
  if (typeof source !== 'string') return `<${source.format} reader>`;
  return resolved?.id ?? source;
}

/**
 * Analyse a checkpoint (path, HF folder or id, or an open TensorReader, which is not closed). One row per
 * analysed layer, in layer-id order; a layer whose weights are NaN/Inf or all zero is a `failed` row with a
 * reason, and the others are analysed as usual.
 */
export async function analyze(
  source: string | TensorReader,
  options: AnalyzeOptionsInput = {},
  onProgress?: ProgressHook,
): Promise<AnalysisReport> {
  const t0 = performance.now();
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
  let runner: EigenRunner | undefined;
  try {
    const { layers: planned, skipped } = planLayers(reader.tensors, {
      roles: reader.roles,
      minEvals: opts.minEvals,
      maxEvals: opts.maxEvals,
      maxN: opts.maxN,
    });
    const chosen = await dropTiedCopies(reader, planned, selectLayers(planned, opts.layers), skipped);
    runner = await makeEigenRunner(opts, chosen);
    const rows: LayerRow[] = new Array(chosen.length);
    let next = 0;
    let done = 0;
    onProgress?.(0, chosen.length, 'reading');
    // Largest eigenproblems first (longest-processing-time order) so the workers finish together; rows keep id order.
    const order = chosen.map((_, i) => i).sort((a, b) => work(chosen[b]) - work(chosen[a]) || a - b);
    let aborted = false;
    const worker = async () => {
      try {
        for (let k = next++; k < order.length && !aborted; k = next++) {
          const i = order[k];
          rows[i] = await analyseLayer(reader, chosen[i], runner!, opts);
          onProgress?.(++done, chosen.length, chosen[i].name);
        }
      } catch (e) {
        aborted = true; // the other lanes stop at their next layer
        throw e;
      }
    };
    const lanes = Math.max(1, Math.min(chosen.length, runner.parallelism + 1));
    await Promise.all(Array.from({ length: lanes }, worker));
    let parameters = 0;
    for (const t of reader.tensors) parameters += t.shape.reduce((a, b) => a * b, 1);
    return {
      model: { source: describeSource(source, resolved), format: reader.format, tensors: reader.tensors.length, parameters },
      options: { ...opts },
      layers: rows,
      summary: summarize(rows, opts),
      skipped: skipped.sort((a, b) => a.layer_id - b.layer_id),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await runner?.close();
    if (owned) await reader.close();
  }
}
