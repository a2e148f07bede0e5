/**
 * Repair by path connection (Zhao et al. 2020) of backdoored models and of error-injected ones (weights tampered so
 * that chosen inputs get wrong labels): connect two attacked models of one graph (or one model and its fine-tuned
 * copy) by a curve trained on a little clean data, evaluate clean accuracy along t, choose t from clean held-out
 * accuracy (select.ts), and return the model at t. A triggered set (ASR) and error-injection targets (attack
 * success) are report-only: nothing they say can change the training, the choice or the output — they are evaluated
 * on the side, and the written files are byte-identical with and without them.
 */
import { WeightscopeError } from '../../errors.js';
import { parseCriterion } from '../../graph/criteria.js';
import type { ModelProto } from '../../io/onnx-model.js';
import { loadModelData } from '../../data/model-data.js';
import { lossFor } from '../../model-io/engine.js';
import { describeModel, type ModelDescription, type OpenedModel } from '../../model-io/open.js';
import { roundToStorage } from '../../model-io/write.js';
import type { Dataset } from '../../runtime/dataset.js';
import { storeParams, type ParamMap } from '../../runtime/params.js';
import type { DeviceChoice } from '../../runtime/devices.js';
import {
  checkSameModel,
  curveEngine,
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
import { gridTs, linearCurve, pointAt, trainedWeight } from '../connectivity/points.js';
import { fineTune } from './finetune.js';
import { resolveRecipe } from './recipes.js';
export { REPAIR_RECIPES, resolveRecipe, type RepairRecipe } from './recipes.js';
import { splitClean } from '../connectivity/split.js';
export { safetensorsPathFor } from '../connectivity/export.js';
import { selectPolished, selectT, selectVerified, type PolishedSelection, type Selection, type VerifiedSelection } from './select.js';
import {
  cleanseEndpoints,
  createTriggerProbe,
  unlearningBatches,
  reversalSkipped,
  verifyPoint,
  type EndpointCleanse,
  type Verification,
} from './unlearn.js';
import { methodOf, parseRepairOptions, type RepairOptions, type RepairOptionsInput } from './options.js';
export { methodOf, parseRepairOptions, repairOptionsSchema, type RepairOptions, type RepairOptionsInput } from './options.js';

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
  readonly choice: Selection | PolishedSelection | VerifiedSelection;
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
  /**
   * Trigger reversal (unlearn > 0): per endpoint each class's reversed-trigger L1, anomaly index and the flagged
   * classes; the points checked by a new reversal. Null when unlearning is off.
   */
  readonly cleanse: {
    readonly endpoints: readonly EndpointCleanse[];
    readonly seconds: number;
    readonly verification: readonly Verification[];
    /** Why the recipe's unlearning did not run (BatchNorm, fewer than 3 or more than 100 classes). */
    readonly skipped?: string;
  } | null;
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
  // Unlearning (unlearn.ts): reverse-engineer both endpoints' triggers on the clean training part first.
  const reversal = { steps: o.cleanseSteps, batchSize: o.batchSize, seed: o.seed };
  const probe = o.unlearn > 0 ? await createTriggerProbe(ep.model, ep.specs, device, train.x.dims.slice(1), ep.a) : null;
  const skipped = probe ? reversalSkipped(probe, parsed.unlearn !== undefined) : null;
  const reversing = hooksFor(0, 0, 'reversing triggers').progress;
  const cleansing =
    probe && !skipped ? await cleanseEndpoints(probe, [ep.a, ep.b], train, reversal, (d, t) => reversing?.(d, t, `class ${d}/${t}`)) : null;
  const unlearning = cleansing && cleansing.triggers.length > 0 ? unlearningBatches(cleansing, o.unlearn, o.seed + 3) : undefined;
  const trainHooks = hooksFor(needFineTune ? 0.4 : 0, needFineTune ? 0.5 : 0.9, 'curve training');
  const tr = await fitCurve(ep, curve, train, o, trainHooks, unlearning);

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
  let choice: Selection | PolishedSelection | VerifiedSelection;
  let polishedMetrics = new Map<number, ModelMetrics>();
  let w: ParamMap;
  let polishSeconds: number | null = null;
  const verification: Verification[] = [];
  const verified =
    probe && cleansing && unlearning
      ? await selectVerified(
          heldRows,
          o.delta,
          o.verifyTries,
          (t) => trainedWeight(curve, t),
          async (t) => {
            hooks.progress?.(0.99, 1, `verifying t = ${t}`);
            const v = await verifyPoint(probe, pointAt(curve, t), t, train, cleansing, reversal);
            verification.push(v);
            return v.pass;
          },
        )
      : null;
  if (verified) {
    choice = verified;
    w = pointAt(curve, verified.t);
  } else if (o.polishEpochs > 0) {
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
    cleanse: cleansing
      ? { endpoints: cleansing.endpoints, seconds: cleansing.seconds, verification }
      : skipped
        ? { endpoints: [], seconds: 0, verification, skipped }
        : null,
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
