/**
 * Mode connectivity end to end: two models of the same graph → a trained curve between them → loss and accuracy
 * along t on every dataset, Yang et al.'s mc, and the curve itself (for export of any point).
 * Options are one zod schema shared by the CLI and the service.
 */
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';
import { parseOptions } from '../../util/options.js';
import { CriterionSchema, parseCriterion } from '../../graph/criteria.js';
import { dirname } from 'node:path';
import { readOnnxModel, tensorShape, type ModelProto } from '../../io/onnx-model.js';
import type { ProgressHook } from '../../util/progress.js';
import { loadModelData } from '../../data/model-data.js';
import { lossFor } from '../../model-io/engine.js';
import { describeModel, openModel, type ModelDescription, type OpenedModel, type OpenModelOptions } from '../../model-io/open.js';
import { inferLossKind, type Batch, type Dataset, type LossKind } from '../../runtime/dataset.js';
import { createEngine, type Engine } from '../../runtime/engine.js';
import { floatInitializerNames, loadParams, specOf, type ParamMap, type ParamSpec } from '../../runtime/params.js';
import { DEFAULT_DEVICE, DEVICE_CHOICES, type DeviceChoice } from '../../runtime/devices.js';
import { bnStatNames, trainModeModel } from './bn.js';
import {
  createPathEvaluator,
  evaluateCurve,
  summarize,
  type CurvePoint,
  type CurveSummary,
  type EvalSet,
  type PathEvaluator,
} from './evaluate.js';
import { gridTs, linearCurve, pointAt, type Curve } from './points.js';
import { correlationsAlong, createRobustnessProbe, type RobustnessAlong, type RobustnessPoint } from '../robustness/probe.js';
import { attackOptionsSchema } from '../robustness/options.js';
import { trainCurve, type CurveTrainOptions, type CurveTrainResult } from './train-curve.js';

/** Training settings shared by `connect` and `repair`; defaults = the Zhao et al. / Garipov protocol. */
export const curveTrainingSchema = z.object({
  curve: z.enum(['bezier', 'polychain']).default('bezier'),
  /** Control points including both endpoints (Garipov's num_bends): 3 = quadratic Bezier. */
  bends: z.number().int().min(2).max(16).default(3),
  epochs: z.number().int().min(0).max(100_000).default(100),
  /** The clean set tiled to this many samples per epoch (default: its size). */
  samplesPerEpoch: z.number().int().positive().optional(),
  batchSize: z.number().int().positive().default(128),
  lr: z.number().nonnegative().default(0.01),
  momentum: z.number().min(0).lt(1).default(0.9),
  /** c in ½·c·‖w(t)‖². */
  l2: z.number().nonnegative().default(1e-4),
  seed: z.number().int().nonnegative().default(1),
  schedule: z.enum(['garipov', 'constant']).default('garipov'),
  /** The training criterion (src/graph/criteria.ts): what the curve minimises and the loss reported along t. */
  criterion: CriterionSchema.default('ce'),
});
export type CurveTraining = z.infer<typeof curveTrainingSchema>;

export const connectOptionsSchema = curveTrainingSchema.extend({
  /** Evaluation points (default 0, 0.1, …, 1). */
  ts: z.array(z.number().min(0).max(1)).min(1).optional(),
  device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
  evalBatchSize: z.number().int().positive().default(500),
  /**
   * Robustness along the path (Zhao et al. 2020): at every evaluated t, clean and adversarial loss/accuracy on the
   * first evaluation set (else the training data) and the input Hessian's top eigenvalue, with their correlation.
   */
  attack: attackOptionsSchema.optional(),
});
export type ConnectOptionsInput = z.input<typeof connectOptionsSchema>;
export type ConnectOptions = z.infer<typeof connectOptionsSchema>;

export function parseConnectOptions(o: ConnectOptionsInput): ConnectOptions {
  return parseOptions(connectOptionsSchema, o, 'connect');
}

/** Two endpoints of one graph, with the curve parameters (float initializers except BN running statistics). */
export interface Endpoints {
  readonly model: ModelProto;
  readonly specs: readonly ParamSpec[];
  readonly a: ParamMap;
  readonly b: ParamMap;
  /** How the first endpoint was opened (its route, format and data form). */
  readonly opened?: OpenedModel;
  /** Route and architecture of each endpoint. */
  readonly routes?: readonly [ModelDescription, ModelDescription];
}

/** Two opened models that a curve can join: one architecture and config (when built from config.json), one graph. */
export function checkSameModel(a: OpenedModel, b: OpenedModel): void {
  if (a.route !== b.route)
    throw new WeightscopeError('shape-mismatch', `${a.spec} (${a.route}) and ${b.spec} (${b.route}) were opened by different routes`);
  if (a.arch && b.arch) {
    const facts = (c: NonNullable<OpenedModel['arch']>): string => JSON.stringify({ ...c, labels: 'labels' in c ? c.labels.length : null });
    if (facts(a.arch) !== facts(b.arch))
      throw new WeightscopeError(
        'shape-mismatch',
        `${a.spec} and ${b.spec} have different configs (${a.architecture} vs ${b.architecture}): a curve needs one architecture`,
      );
  }
  checkSameGraph(a.model, b.model, [a.spec, b.spec]);
}

/** Same graph (ops, wiring) and same parameter names and shapes, or a clear error. */
export function checkSameGraph(a: ModelProto, b: ModelProto, names: readonly [string, string] = ['A', 'B']): void {
  const sig = (m: ModelProto) =>
    (m.graph?.node ?? []).map((n) => `${n.opType}(${(n.input ?? []).join(',')})->${(n.output ?? []).join(',')}`);
  const sa = sig(a);
  const sb = sig(b);
  const i = sa.findIndex((s, j) => s !== sb[j]);
  if (sa.length !== sb.length || i >= 0) {
    const where = i >= 0 ? ` (first difference at node ${i}: ${sa[i]} vs ${sb[i]})` : ` (${sa.length} vs ${sb.length} nodes)`;
    throw new WeightscopeError('shape-mismatch', `${names[0]} and ${names[1]} are not the same graph${where}`);
  }
  const shapes = (m: ModelProto) => new Map((m.graph?.initializer ?? []).map((t) => [t.name ?? '', tensorShape(t).join('x')]));
  const ia = shapes(a);
  const ib = shapes(b);
  for (const [n, s] of ia) {
    if (ib.get(n) !== s)
      throw new WeightscopeError(
        'shape-mismatch',
        `${names[0]} and ${names[1]} differ at initializer '${n}' ([${s}] vs [${ib.get(n) ?? 'missing'}])`,
      );
  }
}

/** The curve parameters of a graph: every float initializer except BN running statistics. */
export function curveParamSpecs(model: ModelProto): ParamSpec[] {
  const skip = new Set(bnStatNames(model));
  const inits = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  return floatInitializerNames(model)
    .filter((n) => !skip.has(n))
    .map((n) => specOf(n, tensorShape(inits.get(n) as NonNullable<ReturnType<typeof inits.get>>)));
}

export async function loadModelParams(
  path: string,
  specs?: readonly ParamSpec[],
  open: OpenModelOptions = {},
): Promise<{ model: ModelProto; specs: ParamSpec[]; values: ParamMap; opened: OpenedModel }> {
  const opened = await openModel(path, open);
  const model = opened.model;
  const s = specs ? [...specs] : curveParamSpecs(model);
  const { values } = await loadParams(
    model,
    process.cwd(),
    s.map((p) => p.name),
  );
  return { model, specs: s, values, opened };
}

/** The parameters `specs` of the model at `path`, which must be the same graph as `first` (read from `firstPath`). */
export async function loadSameGraphParams(
  first: ModelProto,
  firstPath: string,
  path: string,
  specs: readonly ParamSpec[],
): Promise<ParamMap> {
  const m = await readOnnxModel(path);
  checkSameGraph(first, m, [firstPath, path]);
  return (
    await loadParams(
      m,
      dirname(path),
      specs.map((p) => p.name),
    )
  ).values;
}

export async function loadEndpoints(pathA: string, pathB: string, open: OpenModelOptions = {}): Promise<Endpoints> {
  const A = await loadModelParams(pathA, undefined, open);
  const B = await openModel(pathB, open);
  checkSameModel(A.opened, B);
  const { values: b } = await loadParams(
    B.model,
    process.cwd(),
    A.specs.map((p) => p.name),
  );
  return { model: A.model, specs: A.specs, a: A.values, b, opened: A.opened, routes: [describeModel(A.opened), describeModel(B)] };
}

/**
 * The engine curve training differentiates: the graph with BN in training mode (batch statistics), the curve
 * parameters as its parameters, and the criterion spec (default cross-entropy).
 */
export async function curveEngine(
  model: ModelProto,
  specs: readonly ParamSpec[],
  device: DeviceChoice,
  criterion = 'ce',
  loss: LossKind = 'classification',
): Promise<Engine> {
  const graph = trainModeModel(model).model;
  return createEngine(graph, { loss, device, params: specs.map((s) => s.name), criterion: parseCriterion(criterion) });
}

export interface ConnectInputs {
  /** Model arguments: .onnx files, Hugging Face folders or HF ids (src/model-io/open.ts). */
  readonly modelA: string;
  readonly modelB: string;
  /** Which graph of a Hugging Face folder (default: built from config.json). */
  readonly graph?: 'config' | 'onnx';
  /** Clean data: trains the curve; BN statistics come from it. */
  readonly data?: string;
  /** Or, for language models, a text file tokenized with the model's tokenizer.json into rows of `seq` tokens. */
  readonly text?: string;
  readonly seq?: number;
  /** Further clean sets to evaluate on (named by the caller). */
  readonly evalData?: readonly { readonly name: string; readonly path: string }[];
  /** A triggered set (reporting only): its accuracy against the target is the ASR. */
  readonly triggered?: string;
}

export interface ConnectResult {
  readonly curve: { readonly kind: Curve['kind']; readonly bends: number };
  readonly options: ConnectOptions;
  readonly training: {
    readonly epochs: readonly { epoch: number; loss: number; lr: number }[];
    readonly steps: number;
    readonly seconds: number;
    readonly secondsPerEpoch: number | null;
  };
  readonly sets: readonly { readonly name: string; readonly role: EvalSet['role']; readonly n: number }[];
  readonly along: readonly CurvePoint[];
  readonly summary: CurveSummary;
  /** How each endpoint was opened (route and architecture). */
  readonly routes?: readonly [ModelDescription, ModelDescription];
  /** With the `attack` option. */
  readonly robustness?: RobustnessAlong;
}

export interface RunHooks {
  readonly progress?: ProgressHook;
  readonly signal?: AbortSignal;
}

/** The trainer's options from the schema's training fields and the run's hooks. */
export function trainOptions(o: Omit<CurveTraining, 'curve' | 'bends'>, hooks: RunHooks = {}): CurveTrainOptions {
  return {
    epochs: o.epochs,
    batchSize: o.batchSize,
    ...(o.samplesPerEpoch !== undefined ? { samplesPerEpoch: o.samplesPerEpoch } : {}),
    lr: o.lr,
    momentum: o.momentum,
    l2: o.l2,
    seed: o.seed,
    schedule: o.schedule,
    ...(hooks.progress ? { progress: hooks.progress } : {}),
    ...(hooks.signal ? { signal: hooks.signal } : {}),
  };
}

/** Trains the curve (if it has interior points and epochs > 0) on `train`, in place. */
export async function fitCurve(
  ep: Endpoints,
  curve: Curve,
  train: Dataset,
  o: CurveTraining & { device: DeviceChoice },
  hooks: RunHooks = {},
  /** Rewrites each training batch before its gradient (e.g. repair's unlearning rows); absent: batches as drawn. */
  transform?: (b: Batch) => Batch,
): Promise<CurveTrainResult> {
  if (curve.points.length <= 2 || o.epochs === 0) return { epochs: [], steps: 0, seconds: 0 };
  const engine = await curveEngine(ep.model, ep.specs, o.device, o.criterion, ep.opened ? lossFor(ep.opened, train) : inferLossKind(train));
  const grads = transform ? { grad: (w: ParamMap, b: Batch) => engine.grad(w, transform(b)) } : engine;
  return trainCurve(grads, curve, train, trainOptions(o, hooks));
}

export function trainingSummary(r: CurveTrainResult): ConnectResult['training'] {
  return {
    epochs: r.epochs.map((e) => ({ epoch: e.epoch + 1, loss: e.trainLoss, lr: e.lr })),
    steps: r.steps,
    seconds: r.seconds,
    secondsPerEpoch: r.epochs.length ? r.seconds / r.epochs.length : null,
  };
}

/** `weightscope connect`: train a curve between two models and evaluate it along t. */
export async function connect(
  inputs: ConnectInputs,
  options: ConnectOptionsInput = {},
  hooks: RunHooks = {},
): Promise<{ result: ConnectResult; curve: Curve; evaluator: PathEvaluator; endpoints: Endpoints }> {
  const o = parseConnectOptions(options);
  const ep = await loadEndpoints(inputs.modelA, inputs.modelB, inputs.graph ? { graph: inputs.graph } : {});
  const m = ep.opened as OpenedModel;
  const train = await loadModelData(m, { data: inputs.data, text: inputs.text, seq: inputs.seq });
  const loss = lossFor(m, train);
  const sets: EvalSet[] = [{ name: 'train', role: 'clean', ds: train }];
  for (const e of inputs.evalData ?? []) sets.push({ name: e.name, role: 'clean', ds: await loadModelData(m, { data: e.path }) });
  if (inputs.triggered)
    sets.push({ name: 'triggered', role: 'triggered', ds: await loadModelData(m, { data: inputs.triggered }, { triggered: true }) });
  const curve = linearCurve(o.curve, o.bends, ep.specs, ep.a, ep.b);
  const evaluator = await createPathEvaluator(ep.model, ep.specs, {
    device: o.device,
    batchSize: o.evalBatchSize,
    bnData: train,
    loss,
    criterion: parseCriterion(o.criterion),
  });
  const ts = o.ts ?? gridTs(11);
  const steps = o.epochs * Math.ceil((o.samplesPerEpoch ?? train.n) / o.batchSize);
  const split = (done: number, total: number, base: number, span: number, msg: string) =>
    hooks.progress?.(base + (span * done) / total, 1, msg);
  const tr = await fitCurve(ep, curve, train, o, {
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    progress: (d, t, m) => split(d, t, 0, steps > 0 ? 0.9 : 0, `curve training: ${m}`),
  });
  const evalShare = o.attack ? 0.3 : 1;
  const along = await evaluateCurve(evaluator, curve, ts, sets, (d, t, m) =>
    split(d, t, steps > 0 ? 0.9 : 0, (steps > 0 ? 0.1 : 1) * evalShare, `evaluation along t: ${m}`),
  );
  let robustness: RobustnessAlong | undefined;
  if (o.attack) {
    const target = sets.length > 1 && sets[1].role === 'clean' ? sets[1] : sets[0];
    const probe = await createRobustnessProbe(ep.model, ep.specs, target.ds, o.attack, evaluator, o.device);
    const rows: ({ t: number } & RobustnessPoint)[] = [];
    const base = steps > 0 ? 0.9 + 0.1 * evalShare : evalShare;
    for (const [i, t] of ts.entries()) {
      rows.push({
        t,
        ...(await probe.measure(pointAt(curve, t), () => split(i, ts.length, base, 1 - base, `robustness along t: attacking t = ${t}`))),
      });
      split(i + 1, ts.length, base, 1 - base, `robustness along t: attacked t = ${t}`);
    }
    robustness = { options: o.attack, set: target.name, samples: probe.samples, along: rows, correlation: correlationsAlong(rows) };
  }
  const result: ConnectResult = {
    curve: { kind: o.curve, bends: o.bends },
    options: o,
    training: trainingSummary(tr),
    sets: sets.map((s) => ({ name: s.name, role: s.role, n: s.ds.n })),
    along,
    summary: summarize(along, sets, curve),
    ...(ep.routes ? { routes: ep.routes } : {}),
    ...(robustness ? { robustness } : {}),
  };
  return { result, curve, evaluator, endpoints: ep };
}
