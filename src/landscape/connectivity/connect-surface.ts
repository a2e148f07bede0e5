/**
 * Mode connectivity on surfaces (MCSurface, ICLR 2025) end to end: three or four models of one graph → a Bezier
 * patch with them as fixed corners, its free control points trained on clean data → loss and accuracy on a grid
 * over the patch, the centre, the barrier, the best interior grid point by held-out clean accuracy (exported with
 * --out: "model averaging"), and an output ensemble of points sampled on the surface next to the corners' own
 * ensemble ("output ensembling"). Options are one zod schema shared by the CLI, the service and the library.
 */
import { z } from 'zod';
import { DEFAULT_DEVICE, DEVICE_CHOICES } from '../../runtime/devices.js';
import { WeightscopeError } from '../../errors.js';
import { parseCriterion } from '../../graph/criteria.js';
import type { ModelProto } from '../../io/onnx-model.js';
import { loadDataset, type Dataset } from '../../runtime/dataset.js';
import { storeParams, type ParamMap } from '../../runtime/params.js';
import { parseOptions } from '../../util/options.js';
import { Rng } from '../../util/random.js';
import {
  loadSameGraphParams,
  curveTrainingSchema,
  loadModelParams,
  trainingSummary,
  trainOptions,
  type ConnectResult,
  type RunHooks,
} from './connect.js';
import { SoftmaxAverage, type EnsembleMetrics } from './ensemble.js';
import { createPathEvaluator, type EvalSet, type PathEvaluator, type SetMetrics } from './evaluate.js';
import {
  cornerAt,
  cornerCount,
  cornerUV,
  controlCount,
  patchCenter,
  patchCoefficients,
  patchGrid,
  sampleUV,
  tensorPatch,
  trianglePatch,
  MAX_DEGREE,
  type PatchShape,
} from './patch.js';
import { loadCleanSplit } from './split.js';
import { freeControlPoints, interpolatedSurface, surfacePoint, type Surface } from './surface.js';
import { trainControlPointsFused } from './train-points.js';
import { buildStepGraph, createStepRunner } from './step-graph.js';
import { trainModeModel } from './bn.js';
import type { CurveTrainResult } from './train-curve.js';

const degree = z.number().int().min(1).max(MAX_DEGREE);

/** Training as for curves (L2 on the surface point, schedule, batch, tiling), plus the patch and its evaluation. */
export const surfaceOptionsSchema = curveTrainingSchema.omit({ curve: true, bends: true }).extend({
  /** Patch degree: n for a triangle or an n × n tensor patch, [n, m] for a tensor patch (u, v). */
  degree: z.union([degree, z.tuple([degree, degree])]).default(2),
  epochs: z.number().int().min(0).max(100_000).default(20),
  samplesPerEpoch: z.number().int().positive().default(10_000),
  /** Evaluation grid points per side (a triangle keeps the points with u + v ≤ 1). */
  grid: z.number().int().min(3).max(101).default(11),
  /** Points sampled uniformly on the surface for the output ensemble. */
  ensemble: z.number().int().min(1).max(1000).default(10),
  /** Share of the clean data held out (choosing the best point; the grid's set without test data). */
  heldOut: z.number().gt(0).lt(1).default(0.2),
  device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
  evalBatchSize: z.number().int().positive().default(500),
});
export type SurfaceOptionsInput = z.input<typeof surfaceOptionsSchema>;
export type SurfaceOptions = z.infer<typeof surfaceOptionsSchema>;

export function parseSurfaceOptions(o: SurfaceOptionsInput): SurfaceOptions {
  return parseOptions(surfaceOptionsSchema, o, 'surface');
}

export interface SurfaceInputs {
  /** Three (triangular patch) or four (tensor-product patch) models of one graph: the corners M1, M2, M3[, M4]. */
  readonly models: readonly string[];
  /** Clean data: trains the surface (and gives BatchNorm statistics); a share is held out unless heldOutData is given. */
  readonly data: string;
  /** Clean held-out data (choosing the best point). */
  readonly heldOutData?: string;
  /** Test data: the grid, centre, corners and ensembles are reported on it (else on the held-out data). */
  readonly test?: string;
}

/** A point's metrics on the grid's set, and on the held-out set when that is a different set. */
export interface SurfaceMetrics {
  readonly u: number;
  readonly v: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly heldOut?: { readonly loss: number; readonly accuracy: number };
}

export interface SurfaceResult {
  readonly patch: {
    readonly kind: PatchShape['kind'];
    readonly degree: readonly number[];
    readonly controlPoints: number;
    readonly free: number;
  };
  readonly options: SurfaceOptions;
  readonly data: {
    readonly train: number;
    readonly heldOut: number;
    readonly heldOutSource: 'split' | 'held-out-data';
    readonly test: number | null;
  };
  /** Which set the grid, centre, corners and ensembles are measured on. */
  readonly gridSet: 'test' | 'heldOut';
  readonly training: ConnectResult['training'];
  /** u-major over the patch. */
  readonly grid: readonly SurfaceMetrics[];
  /** M1, M2, M3[, M4], the models exactly. */
  readonly corners: readonly SurfaceMetrics[];
  /** (½, ½) on a square patch, (⅓, ⅓) on a triangle. */
  readonly center: SurfaceMetrics;
  /** The interior (non-corner) grid point with the best held-out clean accuracy: the exported average. */
  readonly best: SurfaceMetrics & { readonly reason: string };
  /** Worst grid loss minus the corners' mean loss (> 0: the surface rises above its corners somewhere). */
  readonly barrier: {
    readonly loss: number;
    readonly cornersMeanLoss: number;
    readonly worst: SurfaceMetrics;
    readonly worstAccuracy: SurfaceMetrics;
  };
  readonly ensemble: {
    readonly points: readonly (readonly [number, number])[];
    readonly surface: EnsembleMetrics;
    readonly corners: EnsembleMetrics;
  };
  readonly output?: { readonly onnx: string; readonly safetensors: string };
}

export interface SurfaceRun {
  readonly result: SurfaceResult;
  readonly surface: Surface;
  /** The best interior point as a model (graph with its parameters and BN statistics) for writeModelPoint. */
  readonly best: { readonly model: ModelProto; readonly params: ParamMap };
}

/** The patch for `corners` models and the degree option. */
export function patchFor(corners: number, d: SurfaceOptions['degree']): PatchShape {
  if (corners === 4) return Array.isArray(d) ? tensorPatch(d[0], d[1]) : tensorPatch(d, d);
  if (corners === 3) {
    if (Array.isArray(d))
      throw new WeightscopeError('invalid-input', `a triangular patch (3 models) has one degree, got [${d.join(', ')}]`);
    return trianglePatch(d);
  }
  throw new WeightscopeError('invalid-input', `a surface needs 3 or 4 models, got ${corners}`);
}

/**
 * Trains the free control points of `s` on `train` in place. Each step is one onnxruntime graph (point, gradient and
 * the momentum updates of every free point; step-graph.ts): a surface moves many copies of every parameter.
 */
export async function fitSurface(
  model: ModelProto,
  s: Surface,
  train: Dataset,
  o: SurfaceOptions,
  hooks: RunHooks = {},
): Promise<CurveTrainResult> {
  const free = freeControlPoints(s.shape);
  if (free.length === 0 || o.epochs === 0) return { epochs: [], steps: 0, seconds: 0 };
  const graph = buildStepGraph(trainModeModel(model).model, s.specs, s.points.length, free.length, parseCriterion(o.criterion));
  const runner = await createStepRunner(graph, o.device);
  const sample = (rng: Rng) => {
    const [u, v] = sampleUV(s.shape, rng);
    return patchCoefficients(s.shape, u, v);
  };
  return trainControlPointsFused(runner, { specs: s.specs, points: s.points, trainable: free }, sample, train, trainOptions(o, hooks));
}

/** `weightscope surface`: train a Bezier surface between 3 or 4 models and evaluate it on a grid. */
export async function connectSurface(inputs: SurfaceInputs, options: SurfaceOptionsInput = {}, hooks: RunHooks = {}): Promise<SurfaceRun> {
  const o = parseSurfaceOptions(options);
  const shape = patchFor(inputs.models.length, o.degree);
  const first = await loadModelParams(inputs.models[0]);
  const corners: ParamMap[] = [first.values];
  for (const path of inputs.models.slice(1)) corners.push(await loadSameGraphParams(first.model, inputs.models[0], path, first.specs));
  const { train, heldOut } = await loadCleanSplit(inputs.data, inputs.heldOutData, o.heldOut, o.seed);
  const test = inputs.test ? await loadDataset(inputs.test) : null;
  const surface = interpolatedSurface(shape, first.specs, corners);

  const stepsTotal = o.epochs * Math.ceil(o.samplesPerEpoch / o.batchSize);
  const trainShare = stepsTotal > 0 && freeControlPoints(shape).length > 0 ? 0.8 : 0;
  const tr = await fitSurface(first.model, surface, train, o, {
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    progress: (d, t, m) => hooks.progress?.((trainShare * d) / Math.max(t, 1), 1, m),
  });
  const evaluator = await createPathEvaluator(first.model, first.specs, {
    device: o.device,
    batchSize: o.evalBatchSize,
    bnData: train,
    criterion: parseCriterion(o.criterion),
  });
  const sets: EvalSet[] = [{ name: 'heldOut', role: 'clean', ds: heldOut }];
  if (test) sets.push({ name: 'test', role: 'clean', ds: test });
  const gridSet = test ? 'test' : 'heldOut';
  const at = async (u: number, v: number): Promise<SurfaceMetrics> =>
    metricsOf(u, v, await evaluator.evaluate(surfacePoint(surface, u, v), sets), gridSet);

  const uvs = patchGrid(shape, o.grid);
  const grid: SurfaceMetrics[] = [];
  for (const [i, [u, v]] of uvs.entries()) {
    grid.push(await at(u, v));
    hooks.progress?.(trainShare + ((1 - trainShare) * 0.9 * (i + 1)) / uvs.length, 1, `evaluated (u, v) = (${u}, ${v})`);
  }
  const cornerRows = Array.from({ length: cornerCount(shape) }, (_, c) => {
    const [cu, cv] = cornerUV(shape, c);
    return grid.find((g) => g.u === cu && g.v === cv) as SurfaceMetrics;
  });
  const [cu, cv] = patchCenter(shape);
  const center = grid.find((g) => Math.abs(g.u - cu) < 1e-12 && Math.abs(g.v - cv) < 1e-12) ?? (await at(cu, cv));
  const best = bestInterior(shape, grid);
  const cornersMeanLoss = cornerRows.reduce((s, r) => s + r.loss, 0) / cornerRows.length;
  const worst = grid.reduce((w, g) => (g.loss > w.loss ? g : w));
  const worstAccuracy = grid.reduce((w, g) => (g.accuracy < w.accuracy ? g : w));

  // Output ensembles on the grid's set: K seeded points on the surface, and the corners themselves.
  const ensSet = test ?? heldOut;
  const y = ensSet.y as BigInt64Array;
  const rng = new Rng((o.seed + 0x5eed) >>> 0);
  const points = Array.from({ length: o.ensemble }, () => sampleUV(shape, rng));
  const members = [
    ...points.map(
      ([u, v]) =>
        () =>
          surfacePoint(surface, u, v),
    ),
    ...corners.map((c) => () => c),
  ];
  const onMember = (k: number) =>
    hooks.progress?.(
      trainShare + (1 - trainShare) * (0.9 + (0.1 * k) / members.length),
      1,
      `output ensembles: member ${k}/${members.length}`,
    );
  const surfaceEns = await ensembleOf(evaluator, members.slice(0, points.length), ensSet, (k) => onMember(k));
  const cornerEns = await ensembleOf(evaluator, members.slice(points.length), ensSet, (k) => onMember(points.length + k));
  hooks.progress?.(1, 1, 'ensembles evaluated');

  const w = surfacePoint(surface, best.u, best.v);
  const params: ParamMap = new Map([...w, ...(await evaluator.bnStats(w))]);
  const result: SurfaceResult = {
    patch: {
      kind: shape.kind,
      degree: shape.kind === 'tensor' ? [shape.n, shape.m] : [shape.n],
      controlPoints: controlCount(shape),
      free: freeControlPoints(shape).length,
    },
    options: o,
    data: { train: train.n, heldOut: heldOut.n, heldOutSource: inputs.heldOutData ? 'held-out-data' : 'split', test: test ? test.n : null },
    gridSet,
    training: trainingSummary(tr),
    grid,
    corners: cornerRows,
    center,
    best,
    barrier: { loss: worst.loss - cornersMeanLoss, cornersMeanLoss, worst, worstAccuracy },
    ensemble: { points, surface: surfaceEns.metrics(y), corners: cornerEns.metrics(y) },
  };
  return { result, surface, best: { model: storeParams(first.model, params), params } };
}

function metricsOf(u: number, v: number, m: Record<string, SetMetrics>, gridSet: 'test' | 'heldOut'): SurfaceMetrics {
  const g = m[gridSet];
  const h = m.heldOut;
  return { u, v, loss: g.loss, accuracy: g.accuracy, ...(gridSet === 'test' ? { heldOut: { loss: h.loss, accuracy: h.accuracy } } : {}) };
}

/** The non-corner grid point with the best held-out accuracy (ties: lower held-out loss, then grid order). */
export function bestInterior(shape: PatchShape, grid: readonly SurfaceMetrics[]): SurfaceMetrics & { reason: string } {
  const held = (g: SurfaceMetrics) => g.heldOut ?? { loss: g.loss, accuracy: g.accuracy };
  const interior = grid.filter((g) => cornerAt(shape, g.u, g.v) < 0);
  if (interior.length === 0) throw new WeightscopeError('invalid-input', 'the grid has no point besides the corners');
  const best = interior.reduce((b, g) =>
    held(g).accuracy > held(b).accuracy || (held(g).accuracy === held(b).accuracy && held(g).loss < held(b).loss) ? g : b,
  );
  return {
    ...best,
    reason: `(u, v) = (${best.u}, ${best.v}) has the best held-out clean accuracy (${(100 * held(best).accuracy).toFixed(2)}%) among the ${interior.length} grid points that are not corners`,
  };
}

/** Members are built one at a time (a surface point is a whole model); `onMember` after each. */
async function ensembleOf(
  evaluator: PathEvaluator,
  members: readonly (() => ParamMap)[],
  ds: Dataset,
  onMember: (k: number) => void,
): Promise<SoftmaxAverage> {
  let avg: SoftmaxAverage | null = null;
  for (const [k, member] of members.entries()) {
    const { data, classes } = await evaluator.logits(member(), ds);
    avg ??= new SoftmaxAverage(ds.n, classes);
    avg.add(data);
    onMember(k + 1);
  }
  return avg as SoftmaxAverage;
}
