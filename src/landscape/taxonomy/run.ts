/**
 * `taxonomy`: where a set of models trained in one setting falls in Yang et al.'s loss-landscape taxonomy
 * (NeurIPS 2021, docs/science.md "Taxonomy"). Per model: training loss and accuracy, top Hessian eigenvalue and trace
 * (PyHessian's defaults on one batch of training samples, eval mode); per pair: a trained quadratic Bezier curve
 * (src/landscape/connectivity's connect, the paper's curve settings) with mc on training error in % at
 * t = 0, .25, .5, .75, 1 (and the same on loss), and the linear CKA of the two models' softmax outputs on mixup-ed
 * training inputs; then the phase (phase.ts) with the evidence it was read from.
 */
import { basename } from 'node:path';
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';
import { criterionSpec, parseCriterion } from '../../graph/criteria.js';
import { readOnnxModel } from '../../io/onnx-model.js';
import { loadDataset, makeDataset, sliceBatch, type Dataset } from '../../runtime/dataset.js';
import { createEngine, type Engine } from '../../runtime/engine.js';
import { parseOptions } from '../../util/options.js';
import type { ProgressHook } from '../../util/progress.js';
import { Rng } from '../../util/random.js';
import { checkSameGraph, connect, curveParamSpecs, curveTrainingSchema, type RunHooks } from '../connectivity/connect.js';
import { modeConnectivity } from '../connectivity/curve.js';
import { runHessian } from '../hessian/run.js';
import { compareModels, engineOutputs } from '../similarity/compare.js';
import { classifyPhase, PhaseThresholdsSchema, type PhaseThresholds, type PhaseVerdict } from './phase.js';
import { DEFAULT_DEVICE, DEVICE_CHOICES } from '../../runtime/devices.js';

const posInt = z.number().int().positive();
const MAX_MODELS = 16;

/** Defaults = the paper's released settings (docs/science.md "Taxonomy"): curves 50 epochs, wd 5e-4, batch 128, 5 points. */
export const TaxonomyOptionsSchema = curveTrainingSchema
  .extend({
    epochs: z.number().int().min(0).max(100_000).default(50),
    l2: z.number().nonnegative().default(5e-4),
    /** Evaluation points of each curve (must include 0 and 1). */
    ts: z.array(z.number().min(0).max(1)).min(3).max(101).default([0, 0.25, 0.5, 0.75, 1]),
    /** Which pairs get a curve: each model with the next (cyclic; the paper's --multiple-curves) or every pair. */
    pairs: z.enum(['cyclic', 'all']).default('cyclic'),
    /** Training samples of the one Hessian batch (PyHessian's mini-batch of 200). */
    hessianSamples: posInt.default(200),
    hessianTol: z.number().positive().default(1e-3),
    hessianMaxIter: posInt.max(10_000).default(100),
    traceMaxIter: posInt.max(10_000).default(100),
    traceTol: z.number().positive().default(1e-3),
    /** CKA inputs: the first N training samples (6 batches of 128), each batch mixup-ed once with λ ~ Beta(α, α). */
    ckaSamples: posInt.default(768),
    ckaBatch: posInt.default(128),
    /** α of the mixup (0: plain training inputs). */
    mixupAlpha: z.number().min(0).max(1000).default(16),
    thresholds: PhaseThresholdsSchema.prefault({}),
    device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
    evalBatchSize: posInt.default(500),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (!o.ts.includes(0) || !o.ts.includes(1))
      ctx.addIssue({ code: 'custom', path: ['ts'], message: 'the evaluation points must include t = 0 and t = 1' });
  });
export type TaxonomyOptionsInput = z.input<typeof TaxonomyOptionsSchema>;
export type TaxonomyOptions = z.output<typeof TaxonomyOptionsSchema>;

export function parseTaxonomyOptions(input: unknown = {}): TaxonomyOptions {
  return parseOptions(TaxonomyOptionsSchema, input, 'taxonomy');
}

export interface TaxonomyInputs {
  /** At least 3 ONNX models of one graph, trained in one setting. */
  readonly models: readonly string[];
  /** Training data: Hessian batch, curve training, mc, CKA inputs. */
  readonly train: string;
  /** Test data: each model's test accuracy beside its metrics. */
  readonly test?: string;
}

export interface ModelMetrics {
  readonly model: string;
  /** The criterion's mean over the whole training set, and the share classified correctly. */
  readonly train_loss: number;
  readonly train_accuracy: number;
  readonly lambda_max: number;
  readonly trace: number;
  readonly trace_stderr: number;
  readonly test_accuracy?: number;
  readonly test_loss?: number;
}

export interface PairMetrics {
  readonly a: string;
  readonly b: string;
  /** mc on training error (percentage points) and on training loss. */
  readonly mc: number;
  readonly mc_loss: number;
  readonly cka: number;
  readonly l2_distance: number | null;
  /** Training error (%) and loss at each t. */
  readonly ts: readonly number[];
  readonly errors: readonly number[];
  readonly losses: readonly number[];
  readonly curve_seconds: number;
}

export interface TaxonomySummary {
  readonly mc: number;
  readonly mc_loss: number;
  readonly lambda_max: number;
  /** The paper's plotted aggregates: log of the mean over models. */
  readonly log_lambda_max: number;
  readonly trace: number;
  readonly log_trace: number;
  readonly cka: number;
  readonly l2_distance: number | null;
  readonly train_loss: number;
  readonly train_accuracy: number;
  readonly test_accuracy?: number;
}

export interface TaxonomyResult {
  readonly phase: PhaseVerdict['phase'];
  readonly verdict: PhaseVerdict;
  readonly thresholds: PhaseThresholds;
  readonly summary: TaxonomySummary;
  readonly models: readonly ModelMetrics[];
  readonly pairs: readonly PairMetrics[];
  readonly criterion: string;
  readonly seconds: number;
}

/** Beta(α, α) by two Gamma(α) variates (Marsaglia & Tsang 2000; α < 1 by Gamma(α + 1)·U^{1/α}). */
export function betaSample(alpha: number, rng: Rng): number {
  const gamma = (a: number): number => {
    if (a < 1) return gamma(a + 1) * rng.uniform() ** (1 / a);
    const d = a - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = rng.normal();
      const v = (1 + c * x) ** 3;
      if (v <= 0) continue;
      const u = rng.uniform();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  const g1 = gamma(alpha);
  return g1 / (g1 + gamma(alpha));
}

/** The CKA inputs: the first n samples in batches, each mixed once with a permutation of itself, λ ~ Beta(α, α). */
export function mixupInputs(ds: Dataset, n: number, batch: number, alpha: number, rng: Rng): Dataset {
  const m = Math.min(n, ds.n);
  const b = sliceBatch(ds, 0, m);
  if (alpha === 0 || b.x.type !== 'float32') return makeDataset(b.x, b.y ? (b.y.data as BigInt64Array) : null);
  const x = b.x.data as Float32Array;
  const row = x.length / m;
  const out = new Float32Array(x.length);
  for (let s = 0; s < m; s += batch) {
    const e = Math.min(m, s + batch);
    const lam = betaSample(alpha, rng);
    const perm = rng.permutation(e - s);
    for (let i = s; i < e; i++) {
      const j = s + perm[i - s];
      for (let k = 0; k < row; k++) out[i * row + k] = lam * x[i * row + k] + (1 - lam) * x[j * row + k];
    }
  }
  return makeDataset({ type: 'float32', data: out, dims: b.x.dims }, b.y ? (b.y.data as BigInt64Array) : null);
}

function pairsOf(k: number, mode: TaxonomyOptions['pairs']): [number, number][] {
  if (mode === 'all')
    return Array.from({ length: k }, (_, i) => Array.from({ length: k - i - 1 }, (_, j) => [i, i + j + 1] as [number, number])).flat();
  return k === 2 ? [[0, 1]] : Array.from({ length: k }, (_, i) => [i, (i + 1) % k] as [number, number]);
}

const mean = (xs: readonly number[]): number => xs.reduce((a, v) => a + v, 0) / xs.length;

export async function taxonomy(inputs: TaxonomyInputs, options: TaxonomyOptionsInput = {}, hooks: RunHooks = {}): Promise<TaxonomyResult> {
  const o = parseTaxonomyOptions(options);
  const paths = inputs.models;
  if (paths.length < 3)
    throw new WeightscopeError('invalid-input', `the taxonomy needs at least 3 models trained in one setting, got ${paths.length}`);
  if (paths.length > MAX_MODELS) throw new WeightscopeError('invalid-input', `at most ${MAX_MODELS} models, got ${paths.length}`);
  const t0 = performance.now();
  const protos = await Promise.all(paths.map((p) => readOnnxModel(p)));
  protos.slice(1).forEach((m, i) => checkSameGraph(protos[0], m, [paths[0], paths[i + 1]]));
  const train = await loadDataset(inputs.train);
  if (!train.y) throw new WeightscopeError('invalid-input', 'the taxonomy needs labelled training data (x, y)');
  const test = inputs.test ? await loadDataset(inputs.test) : null;
  const criterion = parseCriterion(o.criterion);
  const params = curveParamSpecs(protos[0]).map((s) => s.name);
  const pairs = pairsOf(paths.length, o.pairs);
  const total = paths.length + pairs.length;
  let done = 0;
  const step = (msg: string) => hooks.progress?.(++done, total, msg);
  /** Progress within the current step (Hv products, curve training steps): where a cancelled caller stops. */
  const within =
    (what: string): ProgressHook =>
    (d, t, msg) =>
      hooks.progress?.(done + (t > 0 ? Math.min(d / t, 1) : 0), total, `${what}: ${msg}`);

  const engines: Engine[] = [];
  const models: ModelMetrics[] = [];
  try {
    for (const [i, path] of paths.entries()) {
      const engine = await createEngine(path, { loss: 'classification', criterion, params, device: o.device });
      engines.push(engine);
      const w = engine.initialParams();
      const h = await runHessian(
        { engine, dataset: train },
        {
          topK: 1,
          tol: o.hessianTol,
          maxIter: o.hessianMaxIter,
          trace: true,
          traceTol: o.traceTol,
          traceMaxIter: o.traceMaxIter,
          samples: Math.min(o.hessianSamples, train.n),
          batchSize: Math.min(o.hessianSamples, train.n),
          seed: o.seed + i,
        },
        within(`Hessian of ${basename(path)}`),
      );
      const tr = await engine.evaluate(w, train, o.evalBatchSize);
      const te = test ? await engine.evaluate(w, test, o.evalBatchSize) : null;
      models.push({
        model: path,
        train_loss: tr.loss,
        train_accuracy: tr.accuracy,
        lambda_max: h.top_eigenvalues![0],
        trace: h.trace!.mean!,
        trace_stderr: h.trace!.stderr!,
        ...(te ? { test_accuracy: te.accuracy, test_loss: te.loss } : {}),
      });
      step(`Hessian of ${basename(path)}`);
    }
    const ckaData = mixupInputs(train, o.ckaSamples, o.ckaBatch, o.mixupAlpha, new Rng(o.seed));
    const pairRows: PairMetrics[] = [];
    for (const [i, j] of pairs) {
      const c0 = performance.now();
      const { result } = await connect(
        { modelA: paths[i], modelB: paths[j], data: inputs.train },
        {
          curve: o.curve,
          bends: o.bends,
          epochs: o.epochs,
          batchSize: o.batchSize,
          lr: o.lr,
          momentum: o.momentum,
          l2: o.l2,
          seed: o.seed,
          schedule: o.schedule,
          criterion: o.criterion,
          ts: o.ts,
          device: o.device,
          evalBatchSize: o.evalBatchSize,
          ...(o.samplesPerEpoch !== undefined ? { samplesPerEpoch: o.samplesPerEpoch } : {}),
        },
        { progress: within(`curve ${basename(paths[i])} – ${basename(paths[j])}`), ...(hooks.signal ? { signal: hooks.signal } : {}) },
      );
      const errors = result.along.map((p) => 100 * (1 - p.sets.train.accuracy));
      const losses = result.along.map((p) => p.sets.train.loss);
      const sim = await compareModels(engineOutputs(engines[i]), engineOutputs(engines[j]), ckaData, { batchSize: o.evalBatchSize });
      pairRows.push({
        a: paths[i],
        b: paths[j],
        mc: modeConnectivity(errors),
        mc_loss: modeConnectivity(losses),
        cka: sim.cka,
        l2_distance: sim.l2_distance,
        ts: o.ts,
        errors,
        losses,
        curve_seconds: (performance.now() - c0) / 1000,
      });
      step(`curve ${basename(paths[i])} – ${basename(paths[j])}`);
    }
    const l2s = pairRows.map((p) => p.l2_distance);
    const summary: TaxonomySummary = {
      mc: mean(pairRows.map((p) => p.mc)),
      mc_loss: mean(pairRows.map((p) => p.mc_loss)),
      lambda_max: mean(models.map((m) => m.lambda_max)),
      log_lambda_max: Math.log(mean(models.map((m) => m.lambda_max))),
      trace: mean(models.map((m) => m.trace)),
      log_trace: Math.log(mean(models.map((m) => m.trace))),
      cka: mean(pairRows.map((p) => p.cka)),
      l2_distance: l2s.every((v) => v !== null) ? mean(l2s as number[]) : null,
      train_loss: mean(models.map((m) => m.train_loss)),
      train_accuracy: mean(models.map((m) => m.train_accuracy)),
      ...(test ? { test_accuracy: mean(models.map((m) => m.test_accuracy!)) } : {}),
    };
    const verdict = classifyPhase({ mc: summary.mc, lambdaMax: summary.lambda_max, cka: summary.cka }, o.thresholds);
    return {
      phase: verdict.phase,
      verdict,
      thresholds: o.thresholds,
      summary,
      models,
      pairs: pairRows,
      criterion: criterionSpec(criterion),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await Promise.all(engines.map((e) => e.dispose()));
  }
}
