/**
 * `flatness`: local entropy F(w; γ) = log E_{ε∼N(0, I/γ)} exp(−L(w + ε)) of a model on data at several γ (every
 * parameter perturbed; BatchNorm running statistics are buffers, not parameters, and stay put), estimated from K
 * seeded draws (estimate.ts), beside the second-order value −L(w) − tr(H)/(2γ) with the Hessian trace of
 * src/landscape/hessian — where the two agree, the quadratic picture of the landscape holds at that scale.
 * Draw k is one standard-normal vector z_k over all parameters (xoshiro128** ziggurat, parameters in engine order),
 * shared by every γ as ε = z_k/√γ; many draws and all γ run as copies in one onnxruntime run (perturbed.ts).
 */
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';
import { buildLossGraph, type LossGraph } from '../../graph/index.js';
import { CriterionSchema, criterionSpec, parseCriterion } from '../../graph/criteria.js';
import { readOnnxModel, type ModelProto } from '../../io/onnx-model.js';
import type { Batch, Dataset } from '../../runtime/dataset.js';
import { inferLossKind, loadDataset } from '../../runtime/dataset.js';
import { createEngine, type Engine } from '../../runtime/engine.js';
import { getSession, releaseSession } from '../../runtime/session.js';
import type { HostTensor } from '../../runtime/wire.js';
import { parseOptions } from '../../util/options.js';
import type { ProgressHook } from '../../util/progress.js';
import { Rng } from '../../util/random.js';
import { bnStatNames } from '../connectivity/bn.js';
import { hessianBatches, runHessian } from '../hessian/run.js';
import { localEntropyEstimate } from './estimate.js';
import { copyable, LOSSES, noiseInput, perturbedLossGraph, SCALES } from './perturbed.js';
import { DEFAULT_DEVICE, DEVICE_CHOICES } from '../../runtime/devices.js';

const posInt = z.number().int().positive();

/** Bounds one job: draws × γ values loss evaluations. */
const MAX_EVALUATIONS = 4_000_000;
/** Working memory a run of perturbed copies may take (activations and noise), for choosing draws per run. */
const RUN_BYTES = 256 * 2 ** 20;
const MAX_DRAWS_PER_RUN = 16;

export const FlatnessOptionsSchema = z
  .object({
    /** γ values: the perturbation is N(0, I/γ). */
    gamma: z.array(z.number().positive().finite()).min(1).max(64).default([1e3, 1e4, 1e5]),
    /** K, loss evaluations per γ. */
    draws: z.number().int().min(2).max(1_000_000).default(1000),
    seed: z
      .number()
      .int()
      .nonnegative()
      .max(2 ** 32 - 1)
      .default(0),
    /** Samples per forward pass (the loss over several batches is their size-weighted mean). */
    batchSize: posInt.default(1000),
    /** Use only the first N samples. */
    samples: posInt.optional(),
    /** Draws evaluated per onnxruntime run (default: as many as fit a working-memory budget, at most 16). */
    drawsPerRun: z.number().int().min(1).max(256).optional(),
    /** The Hessian trace of the second-order value: Hutchinson (PyHessian's rule), exact (one Hv per parameter), none. */
    trace: z.enum(['hutchinson', 'exact', 'none']).default('hutchinson'),
    traceMaxIter: posInt.max(100_000).default(100),
    /** At least this many Hutchinson probes: the second-order value is only as good as the trace. */
    traceMinIter: posInt.default(30),
    traceTol: z.number().positive().default(1e-3),
    criterion: CriterionSchema.default('ce'),
    device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.draws * o.gamma.length > MAX_EVALUATIONS) {
      ctx.addIssue({
        code: 'custom',
        path: ['draws'],
        message: `draws × gamma values = ${o.draws * o.gamma.length} loss evaluations; at most ${MAX_EVALUATIONS}`,
      });
    }
  });
export type FlatnessOptionsInput = z.input<typeof FlatnessOptionsSchema>;
export type FlatnessOptions = z.output<typeof FlatnessOptionsSchema>;

export function parseFlatnessOptions(input: unknown = {}): FlatnessOptions {
  return parseOptions(FlatnessOptionsSchema, input, 'flatness');
}

export interface FlatnessRow {
  readonly gamma: number;
  readonly local_entropy: number;
  readonly stderr: number;
  /** −L(w) − tr(H)/(2γ), and its standard error from the trace's (null without a trace). */
  readonly second_order: number | null;
  readonly second_order_stderr: number | null;
  /** L(w), the unperturbed loss. */
  readonly loss: number;
  readonly mean_perturbed_loss: number;
}

export interface FlatnessResult {
  readonly rows: readonly FlatnessRow[];
  readonly loss: number;
  readonly trace: {
    readonly method: FlatnessOptions['trace'];
    readonly value: number | null;
    readonly stderr: number | null;
    readonly probes: number | null;
  };
  readonly num_params: number;
  readonly samples: number;
  readonly draws: number;
  readonly seed: number;
  readonly criterion: string;
  /** Draws per onnxruntime run (1 when the graph could not be copied), and the parameters whose first layer was split. */
  readonly draws_per_run: number;
  readonly split_layers: readonly string[];
  readonly seconds: { readonly local_entropy: number; readonly trace: number };
}

export interface FlatnessInput {
  /** An engine over the flatness parameters (flatnessParams) with the options' criterion. */
  readonly engine: Engine;
  readonly model: ModelProto;
  readonly dataset: Dataset;
}

/** The parameters local entropy perturbs: those the loss graph differentiates, less BatchNorm running statistics. */
export function flatnessParams(model: ModelProto, lg: LossGraph): string[] {
  const stats = new Set(bnStatNames(model));
  return lg.params.map((p) => p.name).filter((n) => !stats.has(n));
}

/** Bytes of the parameter-dependent values of one copy at `batch` samples (unknown dims count as the batch). */
function copyBytes(lg: LossGraph, batch: number): number {
  const params = new Set(lg.params.map((p) => p.name));
  const dep = new Set(params);
  let bytes = 0;
  for (const n of lg.graph.nodes) {
    if (!n.inputs.some((x) => x && dep.has(x))) continue;
    for (const o of n.outputs) {
      if (!o) continue;
      dep.add(o);
      const shape = lg.graph.values.get(o)?.shape ?? [batch];
      bytes += 4 * shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : batch), 1);
    }
  }
  return bytes;
}

function autoDrawsPerRun(lg: LossGraph, batch: number, gammas: number, draws: number): number {
  const perDraw = gammas * copyBytes(lg, batch) + 4 * lg.params.reduce((a, p) => a + p.dims.reduce((x, d) => x * d, 1), 0);
  return Math.max(1, Math.min(MAX_DRAWS_PER_RUN, draws, Math.floor(RUN_BYTES / Math.max(perDraw, 1))));
}

/**
 * losses[k·G + g] = L(w + z_k/√γ_g) over the batches, for draws k = 0..K−1 (fills `out`); `onDraws(done)` (draws
 * evaluated, fractional within a chunk) after every onnxruntime run.
 */
type Evaluator = (out: Float64Array, onDraws: (done: number) => void) => Promise<void>;

/** Noise of draw k for every parameter, in engine order, into per-parameter buffers at row `row`. */
function fillDraw(rng: Rng, bufs: readonly Float32Array[], sizes: readonly number[], row: number): void {
  bufs.forEach((b, j) => rng.fillNormal(b.subarray(row * sizes[j], (row + 1) * sizes[j])));
}

/** Copies of the loss graph, D draws × G scales per run. */
async function batchedEvaluator(
  lg: LossGraph,
  engine: Engine,
  batches: readonly Batch[],
  o: FlatnessOptions,
  D: number,
): Promise<{ run: Evaluator; split: string[] }> {
  const G = o.gamma.length;
  const pg = perturbedLossGraph(lg, D, G);
  const session = await getSession(pg.model, { device: o.device });
  const specs = engine.params;
  const sizes = specs.map((s) => s.size);
  const base = engine.initialParams();
  const bufs = specs.map((s) => new Float32Array(D * s.size));
  const n = batches.reduce((a, b) => a + b.size, 0);
  const feeds: Record<string, HostTensor> = {
    [SCALES]: { type: 'float32', data: Float32Array.from(o.gamma, (g) => 1 / Math.sqrt(g)), dims: [G] },
  };
  specs.forEach((s, j) => {
    feeds[s.name] = { type: 'float32', data: base.get(s.name)!, dims: s.dims };
    feeds[noiseInput(s.name)] = { type: 'float32', data: bufs[j], dims: [D, ...s.dims] };
  });
  const used = new Set(session.inputNames);
  const run: Evaluator = async (out, onDraws) => {
    const rng = new Rng(o.seed);
    let done = 0;
    try {
      for (let c = 0; c < o.draws; c += D) {
        const d = Math.min(D, o.draws - c);
        for (let k = 0; k < D; k++) {
          if (k < d) fillDraw(rng, bufs, sizes, k);
          else bufs.forEach((b, j) => b.fill(0, k * sizes[j], (k + 1) * sizes[j])); // padding: computed, discarded
        }
        for (const batch of batches) {
          const f: Record<string, HostTensor> = {};
          for (const [name, t] of Object.entries(feeds)) if (used.has(name)) f[name] = t;
          for (const name of lg.dataInputs) if (used.has(name)) f[name] = name === lg.labels ? (batch.y as HostTensor) : batch.x;
          const r = (await session.run(f, [LOSSES]))[LOSSES].data as Float32Array;
          const w = batch.size / n;
          for (let i = 0; i < d * G; i++) out[c * G + i] += w * r[i];
          // After every run (not every chunk): where a cancelled or timed-out caller stops.
          done += batch.size;
          onDraws(c + (d * done) / n);
        }
        done = 0;
      }
    } finally {
      await releaseSession(session);
    }
  };
  return { run, split: [...pg.split] };
}

/** One copy at a time through the engine's forward pass (graphs whose copies cannot be batched). */
function engineEvaluator(engine: Engine, batches: readonly Batch[], o: FlatnessOptions): Evaluator {
  return async (out, onDraws) => {
    const rng = new Rng(o.seed);
    const specs = engine.params;
    const sizes = specs.map((s) => s.size);
    const base = engine.initialParams();
    const bufs = specs.map((s) => new Float32Array(s.size));
    const w = new Map(specs.map((s) => [s.name, new Float32Array(s.size)]));
    const n = batches.reduce((a, b) => a + b.size, 0);
    for (let k = 0; k < o.draws; k++) {
      fillDraw(rng, bufs, sizes, 0);
      for (const [g, gamma] of o.gamma.entries()) {
        const s = 1 / Math.sqrt(gamma);
        specs.forEach((p, j) => {
          const b0 = base.get(p.name)!,
            z0 = bufs[j],
            wp = w.get(p.name)!;
          for (let i = 0; i < p.size; i++) wp[i] = b0[i] + s * z0[i];
        });
        let L = 0;
        for (const b of batches) L += (b.size / n) * (await engine.loss(w, b));
        out[k * o.gamma.length + g] = L;
        onDraws(k + (g + 1) / o.gamma.length);
      }
    }
  };
}

/**
 * The K × G perturbed losses, losses[k·G + g] = L(w + z_k/√γ_g): copies batched per run (perturbed.ts) when the
 * graph allows, else (or with `oneByOne`) one engine forward pass per copy — the same numbers up to float32 rounding.
 */
export async function perturbedLosses(
  input: FlatnessInput,
  o: FlatnessOptions,
  batches: readonly Batch[],
  opts: { oneByOne?: boolean; onProgress?: ProgressHook } = {},
): Promise<{ losses: Float64Array; drawsPerRun: number; split: string[] }> {
  const { engine, model } = input;
  const G = o.gamma.length;
  const losses = new Float64Array(o.draws * G);
  const progress = (done: number) => opts.onProgress?.(done, o.draws, 'local entropy');
  const lg = buildLossGraph(model, {
    loss: engine.lossKind,
    criterion: engine.criterion,
    params: engine.params.map((p) => p.name),
    fusePools: false,
  });
  if (opts.oneByOne || !copyable(lg)) {
    await engineEvaluator(engine, batches, o)(losses, progress);
    return { losses, drawsPerRun: 1, split: [] };
  }
  const D = o.drawsPerRun ?? autoDrawsPerRun(lg, Math.max(...batches.map((b) => b.size)), G, o.draws);
  const ev = await batchedEvaluator(lg, engine, batches, o, D);
  await ev.run(losses, progress);
  return { losses, drawsPerRun: D, split: ev.split };
}

export async function flatness(
  input: FlatnessInput,
  options: FlatnessOptionsInput = {},
  onProgress?: ProgressHook,
): Promise<FlatnessResult> {
  const o = parseFlatnessOptions(options);
  const { engine, dataset } = input;
  if (criterionSpec(engine.criterion) !== criterionSpec(parseCriterion(o.criterion))) {
    throw new WeightscopeError(
      'invalid-input',
      `the engine's criterion ${criterionSpec(engine.criterion)} differs from the options' ${o.criterion}`,
    );
  }
  const batches = hessianBatches(dataset, o);
  const samples = batches.reduce((a, b) => a + b.size, 0);
  const G = o.gamma.length;
  // One progress scale over both stages, weighed in forward passes over the data (an Hv product ≈ 4 of them).
  const traceHv = o.trace === 'hutchinson' ? o.traceMaxIter : o.trace === 'exact' ? engine.params.reduce((a, p) => a + p.size, 0) : 0;
  const entropyWork = o.draws * G;
  const all = entropyWork + 4 * traceHv;
  const t0 = performance.now();
  const entropyProgress: ProgressHook = (done, total, msg) => onProgress?.((entropyWork * done) / total, all, msg);
  const { losses, drawsPerRun, split } = await perturbedLosses(input, o, batches, { onProgress: entropyProgress });
  const entropySeconds = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  const traceProgress: ProgressHook = (done, total) =>
    onProgress?.(entropyWork + (4 * traceHv * Math.min(done, total)) / total, all, 'Hessian trace');
  const h = await runHessian(
    { engine, dataset },
    {
      topK: 0,
      trace: o.trace === 'hutchinson',
      traceExact: o.trace === 'exact',
      traceMaxIter: o.traceMaxIter,
      traceMinIter: o.traceMinIter,
      traceTol: o.traceTol,
      batchSize: o.batchSize,
      ...(o.samples !== undefined ? { samples: o.samples } : {}),
      seed: o.seed,
    },
    traceProgress,
  );
  const trace = o.trace === 'exact' ? (h.trace?.exact ?? null) : o.trace === 'hutchinson' ? (h.trace?.mean ?? null) : null;
  const traceErr = o.trace === 'hutchinson' ? (h.trace?.stderr ?? null) : o.trace === 'exact' ? 0 : null;
  const rows: FlatnessRow[] = o.gamma.map((gamma, g) => {
    const e = localEntropyEstimate(Array.from({ length: o.draws }, (_, k) => losses[k * G + g]));
    return {
      gamma,
      local_entropy: e.local_entropy,
      stderr: e.stderr,
      second_order: trace === null ? null : -h.loss - trace / (2 * gamma),
      second_order_stderr: traceErr === null ? null : traceErr / (2 * gamma),
      loss: h.loss,
      mean_perturbed_loss: e.mean_perturbed_loss,
    };
  });
  return {
    rows,
    loss: h.loss,
    trace: {
      method: o.trace,
      value: trace,
      stderr: traceErr,
      probes: o.trace === 'hutchinson' ? (h.trace?.samples ?? null) : o.trace === 'exact' ? h.num_params : null,
    },
    num_params: h.num_params,
    samples,
    draws: o.draws,
    seed: o.seed,
    criterion: criterionSpec(engine.criterion),
    draws_per_run: drawsPerRun,
    split_layers: split,
    seconds: { local_entropy: entropySeconds, trace: (performance.now() - t1) / 1000 },
  };
}

/** The file-facing edge shared by the CLI and the service: an ONNX model path and a dataset file. */
export async function flatnessOnFiles(
  modelPath: string,
  dataPath: string,
  options: FlatnessOptionsInput = {},
  onProgress?: ProgressHook,
): Promise<FlatnessResult> {
  const o = parseFlatnessOptions(options);
  const [model, dataset] = await Promise.all([readOnnxModel(modelPath), loadDataset(dataPath)]);
  const loss = inferLossKind(dataset);
  const criterion = parseCriterion(o.criterion);
  const params = flatnessParams(model, buildLossGraph(model, { loss, criterion }));
  const engine = await createEngine(modelPath, { loss, criterion, params, device: o.device });
  try {
    return await flatness({ engine, model, dataset }, o, onProgress);
  } finally {
    await engine.dispose();
  }
}
