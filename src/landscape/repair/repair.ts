/**
 * Repair by path connection (Zhao et al. 2020) of backdoored models and of error-injected ones (weights tampered so
 * that chosen inputs get wrong labels): connect two attacked models of one graph (or one model and its fine-tuned
 * copy) by a curve trained on a little clean data, evaluate clean accuracy along t, choose t from clean held-out
 * accuracy (select.ts), and return the model at t. A triggered set (ASR) and error-injection targets (attack
 * success) are report-only: nothing they say can change the training, the choice or the output — they are evaluated
 * on the side, and the written files are byte-identical with and without them.
 */
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';
import { parseOptions } from '../../util/options.js';
import { parseCriterion } from '../../graph/criteria.js';
import type { ModelProto } from '../../io/onnx-model.js';
import { loadModelData } from '../../data/model-data.js';
import { lossFor } from '../../model-io/engine.js';
import { describeModel, type ModelDescription, type OpenedModel } from '../../model-io/open.js';
import { roundToStorage } from '../../model-io/write.js';
import type { Dataset } from '../../runtime/dataset.js';
import { storeParams, type ParamMap } from '../../runtime/params.js';
import { DEFAULT_DEVICE, DEVICE_CHOICES, type DeviceChoice } from '../../runtime/devices.js';
import {
  checkSameModel,
  curveEngine,
  curveTrainingSchema,
  fitCurve,
  loadModelParams,
  trainingSummary,
  type ConnectResult,
  type Endpoints,
  type RunHooks,
} from '../connectivity/connect.js';
import {
  createPathEvaluator,
  evaluateCurve,
  loadTargets,
  type CurvePoint,
  type EvalSet,
  type SetMetrics,
} from '../connectivity/evaluate.js';
import { writeModelPoint } from '../connectivity/export.js';
import { gridTs, linearCurve, pointAt } from '../connectivity/points.js';
import { fineTune } from './finetune.js';
import { RECIPE_CHOICES, resolveRecipe, type Resolved } from './recipes.js';
export { REPAIR_RECIPES, resolveRecipe, type RepairRecipe } from './recipes.js';
import { splitClean } from '../connectivity/split.js';
export { safetensorsPathFor } from '../connectivity/export.js';
import { selectPolished, selectT, type PolishedSelection, type Selection } from './select.js';

/**
 * The default recipe (evidence in bench/repair.md): a quadratic Bezier trained with a strong L2 on the point
 * (instead of Zhao et al.'s 1e-4: on clean data nothing holds the attack's weights up, so the decay erases them in the
 * middle of the path), 20 epochs of 10,000 tiled samples; the three evaluated points nearest 0.5 are polished
 * (fine-tuned on the clean training part), which wins back the clean accuracy the decay cost and removes most of what
 * is left of the attack; t is, among the polished points within one standard error of the best held-out accuracy,
 * the one nearest 0.5 (select.ts); w(t) is then polished once more on all the clean data, held-out part included
 * ("refit"). Set polishEpochs 0, l2 1e-4, epochs 100 (error injection: 30) for Zhao et al.'s protocol.
 *
 * The L2 and the polishing depend on the model family (recipes.ts; an option the caller sets wins).
 */
export const repairOptionsSchema = curveTrainingSchema.extend({
  epochs: z.number().int().min(0).max(100_000).default(20),
  samplesPerEpoch: z.number().int().positive().default(10_000),
  /** c in ½·c·‖w(t)‖² (default: the recipe's). */
  l2: z.number().nonnegative().optional(),
  ts: z.array(z.number().min(0).max(1)).min(3).optional(),
  device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
  evalBatchSize: z.number().int().positive().default(500),
  /** Share of the clean data held out to choose t (ignored with separate evaluation data). */
  heldOut: z.number().gt(0).lt(1).default(0.2),
  /** Tolerance on held-out clean accuracy (a fraction: 0.02 = 2 points). */
  delta: z.number().min(0).max(1).default(0.02),
  /** Fine-tuning learning rate (baseline and one-model second endpoint); default the curve's lr. */
  fineTuneLr: z.number().nonnegative().optional(),
  /** Also fine-tune the first model with the same budget and report it (always done with one model). */
  baseline: z.boolean().default(true),
  /**
   * Fine-tune ("polish") w(t) on the clean training part for this many epochs before export (0: export w(t));
   * default: the recipe's.
   */
  polishEpochs: z.number().int().min(0).max(10_000).optional(),
  /** Polishing learning rate (Garipov schedule); default: the recipe's. */
  polishLr: z.number().nonnegative().optional(),
  /** Share of each polishing batch's rows blended with another row (mixup, runtime/mixup.ts); default: the recipe's. */
  polishMixup: z.number().min(0).max(1).optional(),
  /** Which family's defaults fill the options above: 'auto' = transformer for a Hugging Face folder, else convnet. */
  recipe: z.enum(RECIPE_CHOICES).default('auto'),
  polishWeightDecay: z.number().nonnegative().default(1e-4),
  /** Samples per polishing epoch (default: the clean training part's size). */
  polishSamplesPerEpoch: z.number().int().positive().optional(),
  /** With polishing: how many points (nearest 0.5 first) may be polished while looking for one within δ. */
  polishTries: z.number().int().min(1).max(64).default(3),
  /**
   * With polishing: 'one-se' polishes all tries and takes, among those within one standard error of the best
   * held-out accuracy, the one nearest 0.5; 'best' the best; 'first' the first within δ (select.ts).
   */
  select: z.enum(['first', 'best', 'one-se']).default('one-se'),
  /** After choosing t on the held-out split, polish w(t) again on all the clean data (held-out part included). */
  refit: z.boolean().default(true),
});
export type RepairOptionsInput = z.input<typeof repairOptionsSchema>;
/** The options as run: the recipe resolved and every one of its options set. */
export type RepairOptions = Resolved<z.infer<typeof repairOptionsSchema>>;

/** Validated options; the recipe's options stay unset until the model is known (resolveRecipe). */
export function parseRepairOptions(o: RepairOptionsInput): z.infer<typeof repairOptionsSchema> {
  return parseOptions(repairOptionsSchema, o, 'repair');
}

export interface RepairInputs {
  /** Model arguments: .onnx files, Hugging Face folders or HF ids (src/model-io/open.ts). */
  readonly modelA: string;
  readonly modelB?: string;
  /** Which graph of a Hugging Face folder (default: built from config.json). */
  readonly graph?: 'config' | 'onnx';
  /** Clean data (split into training and held-out parts unless evalData is given). */
  readonly data: string;
  /** Clean held-out data for choosing t. */
  readonly evalData?: string;
  /** Triggered set for reporting ASR only. */
  readonly triggered?: string;
  /**
   * Error-injection targets for reporting only: the attacked inputs `x` with the wrong labels `y` the attack wants
   * and their true labels `y_true`. Attack success = share classified as `y`.
   */
  readonly targets?: string;
  /** Further clean sets evaluated for the report only (e.g. a test set). */
  readonly reportData?: readonly { readonly name: string; readonly path: string }[];
}

export interface ModelMetrics {
  /** Held-out clean accuracy and loss. */
  readonly heldOut: SetMetrics;
  readonly triggered?: SetMetrics;
  /** Error-injection targets: accuracy against the attack's labels (= attack success). */
  readonly targets?: SetMetrics;
  /** The same inputs against their true labels. */
  readonly targetsTrue?: SetMetrics;
  readonly report?: Readonly<Record<string, SetMetrics>>;
}

/** What the report says it did, naming the baseline protocol it extends. */
export function methodOf(o: RepairOptions): string {
  const base =
    'path connection (Zhao et al., ICLR 2020: a Bezier curve between two attacked models trained on clean data, the model at a t chosen on clean held-out data)';
  if (o.polishEpochs === 0) return `${base}; curve ${o.curve} with ${o.bends} control points, L2 ${o.l2} on w(t), ${o.epochs} epochs`;
  return (
    `${base}; weightscope's ${o.recipe} recipe: L2 ${o.l2} on w(t) for ${o.epochs} epochs, the ${o.polishTries} points nearest 0.5 polished ${o.polishEpochs} epochs at lr ${o.polishLr}${o.polishMixup > 0 ? ` with mixup on ${o.polishMixup} of the rows` : ''}, ` +
    `t by ${o.select === 'best' ? 'the best' : 'the first within δ of the'} polished held-out accuracy${o.refit ? ', w(t) polished again on all the clean data' : ''}`
  );
}

export interface RepairReport {
  /** The method, naming Zhao et al.'s protocol as the baseline it extends. */
  readonly method: string;
  readonly models: readonly string[];
  readonly secondEndpoint: 'model' | 'fine-tuned';
  readonly data: {
    readonly train: number;
    readonly heldOut: number;
    readonly heldOutSource: 'split' | 'eval-data';
    readonly triggered: number | null;
    readonly targets: number | null;
  };
  readonly options: RepairOptions;
  readonly training: ConnectResult['training'];
  readonly fineTuneSeconds: number | null;
  /** Metrics along t: `heldOut` (clean), `triggered` (ASR) when given, and any report sets. */
  readonly along: readonly CurvePoint[];
  readonly choice: Selection | PolishedSelection;
  /**
   * The clean-vs-attack trade-off over t, to choose another point: per evaluated t, w(t) on the curve and, for the
   * points the rule polished, the polished model (held-out clean accuracy; ASR / attack success when the report-only
   * sets are given).
   */
  readonly tradeoff: readonly { readonly t: number; readonly curve: ModelMetrics; readonly polished: ModelMetrics | null }[];
  /** The model that is returned: w(t), polished when polishEpochs > 0. */
  readonly repaired: ModelMetrics;
  /** w(t) itself, before polishing (equal to `repaired` without polishing). */
  readonly atT: ModelMetrics;
  readonly polishSeconds: number | null;
  /** The first model fine-tuned on the same clean data with the same budget. */
  readonly baseline: ModelMetrics | null;
  readonly endpoints: readonly [ModelMetrics, ModelMetrics];
  /** Route and architecture of the model(s) repaired. */
  readonly routes: readonly ModelDescription[];
  /** Where the repaired model was written: an ONNX file (and its safetensors), or a Hugging Face folder. */
  readonly output?:
    | { readonly onnx: string; readonly safetensors: string }
    | { readonly folder: string; readonly safetensors: string; readonly copied: readonly string[] };
}

export interface RepairResult {
  readonly report: RepairReport;
  /** The graph with the repaired parameters (curve parameters and, with BN, recomputed statistics). */
  readonly model: ModelProto;
  /** The repaired parameters, as the checkpoint's dtypes store them (the report's numbers are computed on these). */
  readonly params: ParamMap;
  /** The first model as opened: the format the repaired model is written back in (src/model-io/write.ts). */
  readonly source: OpenedModel;
}

/** Sets evaluated for the report only, never read by the choice of t or the output. */
const ATTACK_SETS = ['triggered', 'targets', 'targetsTrue'] as const;

function metricsAt(row: CurvePoint, reportNames: readonly string[]): ModelMetrics {
  const report: Record<string, SetMetrics> = {};
  for (const n of reportNames) report[n] = row.sets[n];
  const attack: Partial<Record<(typeof ATTACK_SETS)[number], SetMetrics>> = {};
  for (const n of ATTACK_SETS) if (row.sets[n]) attack[n] = row.sets[n];
  return { heldOut: row.sets.heldOut, ...attack, ...(reportNames.length ? { report } : {}) };
}

/** Repairs and returns the model at the chosen t (write it with writeRepaired). */
export async function repair(inputs: RepairInputs, options: RepairOptionsInput = {}, hooks: RunHooks = {}): Promise<RepairResult> {
  const parsed = parseRepairOptions(options);
  const device: DeviceChoice = parsed.device;
  const open = inputs.graph ? { graph: inputs.graph } : {};
  const A = await loadModelParams(inputs.modelA, undefined, open);
  const clean = await loadModelData(A.opened, { data: inputs.data });
  const o = resolveRecipe(parsed, A.opened.route, clean.x.type);
  const loss = lossFor(A.opened, clean);
  if (loss !== 'classification')
    throw new WeightscopeError(
      'invalid-input',
      `repair chooses t by held-out accuracy of a classifier; ${A.opened.architecture} is a ${loss} model`,
    );
  if (clean.n < 2 && !inputs.evalData)
    throw new WeightscopeError('invalid-input', 'the clean data needs at least 2 samples to split off a held-out part');
  let train: Dataset;
  let heldOut: Dataset;
  if (inputs.evalData) {
    train = clean;
    heldOut = await loadModelData(A.opened, { data: inputs.evalData });
  } else {
    ({ train, heldOut } = splitClean(clean, o.heldOut, o.seed));
  }
  const ts = o.ts ?? gridTs(11);
  if (!ts.includes(0) || !ts.includes(1)) throw new WeightscopeError('invalid-input', 'the evaluation points must include t = 0 and t = 1');
  // Each phase's share of the progress bar, and its name in the message (each restarts "epoch 1/N").
  const hooksFor = (base: number, span: number, phase: string): RunHooks => ({
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    progress: (d, t, m) => hooks.progress?.(base + (span * d) / Math.max(t, 1), 1, `${phase}: ${m}`),
  });

  // The second endpoint, and the fine-tuning baseline (the same computation when there is one model).
  const needFineTune = !inputs.modelB || o.baseline;
  let tuned: ParamMap | null = null;
  let fineTuneSeconds: number | null = null;
  if (needFineTune) {
    const engine = await curveEngine(A.model, A.specs, device, o.criterion);
    const r = await fineTune(engine, A.values, train, {
      epochs: o.epochs,
      batchSize: o.batchSize,
      ...(o.samplesPerEpoch !== undefined ? { samplesPerEpoch: o.samplesPerEpoch } : {}),
      lr: o.fineTuneLr ?? o.lr,
      momentum: o.momentum,
      weightDecay: o.l2,
      seed: o.seed + 1,
      schedule: o.schedule,
      ...hooksFor(0, 0.4, inputs.modelB ? 'fine-tuning baseline' : 'fine-tuning A (second endpoint)'),
    });
    tuned = r.params;
    fineTuneSeconds = r.seconds;
  }
  let b: ParamMap;
  const routes: ModelDescription[] = [describeModel(A.opened)];
  if (inputs.modelB) {
    const B = await loadModelParams(inputs.modelB, A.specs, open);
    checkSameModel(A.opened, B.opened);
    b = B.values;
    routes.push(describeModel(B.opened));
  } else {
    b = tuned as ParamMap;
  }
  const ep: Endpoints = { model: A.model, specs: A.specs, a: A.values, b };
  const curve = linearCurve(o.curve, o.bends, ep.specs, ep.a, ep.b);
  const tr = await fitCurve(ep, curve, train, o, hooksFor(needFineTune ? 0.4 : 0, needFineTune ? 0.5 : 0.9, 'curve training'));

  // Evaluation: held-out clean first (drives the choice), then report-only sets.
  const evaluator = await createPathEvaluator(ep.model, ep.specs, {
    device,
    batchSize: o.evalBatchSize,
    bnData: train,
    criterion: parseCriterion(o.criterion),
  });
  const sets: EvalSet[] = [{ name: 'heldOut', role: 'clean', ds: heldOut }];
  const reportNames: string[] = [];
  for (const r of inputs.reportData ?? []) {
    if (r.name === 'heldOut' || (ATTACK_SETS as readonly string[]).includes(r.name))
      throw new WeightscopeError('invalid-input', `report set name '${r.name}' is reserved`);
    sets.push({ name: r.name, role: 'clean', ds: await loadModelData(A.opened, { data: r.path }) });
    reportNames.push(r.name);
  }
  let triggered: Dataset | null = null;
  if (inputs.triggered) {
    triggered = await loadModelData(A.opened, { data: inputs.triggered }, { triggered: true });
    sets.push({ name: 'triggered', role: 'triggered', ds: triggered });
  }
  let targets: Dataset | null = null;
  if (inputs.targets) {
    const t = await loadTargets(inputs.targets);
    targets = t.attack;
    sets.push({ name: 'targets', role: 'triggered', ds: t.attack }, { name: 'targetsTrue', role: 'clean', ds: t.truth });
  }
  const along = await evaluateCurve(evaluator, curve, ts, sets, hooksFor(0.9, 0.1, 'evaluation along t').progress);
  const heldRows = along.map((r) => ({ t: r.t, accuracy: r.sets.heldOut.accuracy }));
  let choice: Selection | PolishedSelection;
  let polishedMetrics = new Map<number, ModelMetrics>();
  let w: ParamMap;
  let polishSeconds: number | null = null;
  if (o.polishEpochs > 0) {
    // Polish candidates (nearest 0.5 first) until one is within δ on held-out clean data; keep every polished point.
    const engine = await curveEngine(ep.model, ep.specs, device, o.criterion);
    const polished = new Map<number, ParamMap>();
    polishedMetrics = new Map<number, ModelMetrics>();
    polishSeconds = 0;
    const polish = async (t: number, data: Dataset, phase: string) => {
      const r = await fineTune(engine, pointAt(curve, t), data, {
        epochs: o.polishEpochs,
        batchSize: o.batchSize,
        ...(o.polishSamplesPerEpoch !== undefined ? { samplesPerEpoch: o.polishSamplesPerEpoch } : {}),
        lr: o.polishLr,
        momentum: o.momentum,
        weightDecay: o.polishWeightDecay,
        mixup: o.polishMixup,
        seed: o.seed + 2,
        schedule: o.schedule,
        ...hooksFor(0.99, 0, phase),
      });
      polishSeconds = (polishSeconds ?? 0) + r.seconds;
      return r.params;
    };
    choice = await selectPolished(
      heldRows,
      o.delta,
      o.polishTries,
      async (t) => {
        const p = await polish(t, train, `polishing t = ${t}`);
        polished.set(t, p);
        // Every set, for the trade-off report; only the held-out accuracy goes back to the rule.
        const m = metricsAt({ t, sets: await evaluator.evaluate(p, sets) }, reportNames);
        polishedMetrics.set(t, m);
        return m.heldOut.accuracy;
      },
      o.select,
      heldOut.n,
    );
    w = o.refit && !inputs.evalData ? await polish(choice.t, clean, `refit t = ${choice.t}`) : (polished.get(choice.t) as ParamMap);
  } else {
    choice = selectT(heldRows, o.delta);
    w = pointAt(curve, choice.t);
  }
  // The report describes the model as written: parameters rounded to the checkpoint's dtypes (F32: unchanged).
  const stored = roundToStorage(A.opened, w);
  const params: ParamMap = new Map([...stored, ...(await evaluator.bnStats(stored))]);
  const chosenRow = along.find((r) => r.t === choice.t) as CurvePoint;
  const atT = metricsAt(chosenRow, reportNames);
  const repaired =
    o.polishEpochs > 0 || stored !== w ? metricsAt({ t: choice.t, sets: await evaluator.evaluate(stored, sets) }, reportNames) : atT;
  const baseline = o.baseline && tuned ? metricsAt({ t: -1, sets: await evaluator.evaluate(tuned, sets) }, reportNames) : null;
  const at = (t: number) => metricsAt(along.find((r) => r.t === t) as CurvePoint, reportNames);
  const report: RepairReport = {
    method: methodOf(o),
    models: inputs.modelB ? [inputs.modelA, inputs.modelB] : [inputs.modelA],
    secondEndpoint: inputs.modelB ? 'model' : 'fine-tuned',
    data: {
      train: train.n,
      heldOut: heldOut.n,
      heldOutSource: inputs.evalData ? 'eval-data' : 'split',
      triggered: triggered ? triggered.n : null,
      targets: targets ? targets.n : null,
    },
    options: o,
    training: trainingSummary(tr),
    fineTuneSeconds,
    along,
    choice,
    tradeoff: along.map((r) => ({ t: r.t, curve: metricsAt(r, reportNames), polished: polishedMetrics.get(r.t) ?? null })),
    repaired,
    atT,
    polishSeconds,
    baseline,
    endpoints: [at(0), at(1)],
    routes,
  };
  return { report, model: storeParams(A.model, params), params, source: A.opened };
}

/** Writes the repaired model as ONNX (same graph, new initializers) and safetensors beside it. */
export async function writeRepaired(result: RepairResult, onnxPath: string): Promise<{ onnx: string; safetensors: string }> {
  return writeModelPoint(result.model, result.params, onnxPath, { source: 'weightscope repair', t: String(result.report.choice.t) });
}
