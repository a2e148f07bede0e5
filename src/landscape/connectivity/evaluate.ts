/**
 * Evaluation along a curve: at each chosen t, the point w(t) (with BatchNorm statistics recomputed on the clean
 * data when the graph has BN), then loss and accuracy on every dataset given. A triggered set's "accuracy" against its
 * target labels, over the non-target-class images only, is the attack success rate (ASR).
 */
import { WeightscopeError } from '../../errors.js';
import type { Criterion } from '../../graph/criteria.js';
import { openSafetensors } from '../../io/safetensors.js';
import type { ModelProto } from '../../io/onnx-model.js';
import type { ProgressHook } from '../../util/progress.js';
import { loadDataset, makeDataset, sequentialBatches, type Dataset, type LossKind } from '../../runtime/dataset.js';
import { createForward, type ForwardRunner } from '../../runtime/forward.js';
import type { ParamMap, ParamSpec } from '../../runtime/params.js';
import type { DeviceChoice } from '../../runtime/devices.js';
import { createBnStatsRunner, bnStatSpecs, type BnStatsRunner } from './bn.js';
import { modeConnectivity } from './curve.js';
import { distance, pointAt, type Curve } from './points.js';

export type SetRole = 'clean' | 'triggered';

export interface EvalSet {
  /** Key in the results (e.g. 'train', 'test', 'triggered'). */
  readonly name: string;
  readonly role: SetRole;
  readonly ds: Dataset;
}

export interface SetMetrics {
  /** Mean cross-entropy, or the evaluator's criterion (for a triggered set: against the target label). */
  readonly loss: number;
  /** Accuracy; for a triggered set this is the ASR. */
  readonly accuracy: number;
  readonly n: number;
}

export interface CurvePoint {
  readonly t: number;
  readonly sets: Readonly<Record<string, SetMetrics>>;
}

export interface PathEvaluator {
  readonly hasBatchNorm: boolean;
  /** Metrics of the model at `params` (curve parameters) on each set. */
  evaluate(params: ParamMap, sets: readonly EvalSet[]): Promise<Record<string, SetMetrics>>;
  /** The BN statistics at `params` (empty without BN): what the exported model at t must hold. */
  bnStats(params: ParamMap): Promise<ParamMap>;
  /** Logits of every sample of `ds` ([n, classes], row-major) at `params` (for output ensembles). */
  logits(params: ParamMap, ds: Dataset): Promise<{ data: Float32Array; classes: number }>;
}

export interface PathEvaluatorOptions {
  readonly device?: DeviceChoice;
  readonly batchSize?: number;
  /** The loss the sets are evaluated with (default classification; lm: next-token loss and token accuracy). */
  readonly loss?: LossKind;
  /** Clean data for BN statistics (required when the graph has BatchNormalization). */
  readonly bnData?: Dataset;
  /**
   * 'recompute' (default): BN statistics are recomputed at every point (points of a path or surface); 'stored': the
   * parameters passed in carry the model's own running statistics (one trained model, evaluated as it is).
   */
  readonly bn?: 'recompute' | 'stored';
  /** The loss reported (default cross-entropy). */
  readonly criterion?: Criterion;
}

/**
 * An evaluator for points of curves over `model`'s graph with curve parameters `specs`. Models with BN get their
 * running statistics recomputed at every evaluated point on `bnData` (Garipov's update_bn).
 */
export async function createPathEvaluator(
  model: ModelProto,
  specs: readonly ParamSpec[],
  opts: PathEvaluatorOptions = {},
): Promise<PathEvaluator> {
  const batchSize = opts.batchSize ?? 500;
  const dev = opts.device !== undefined ? { device: opts.device } : {};
  const stored = opts.bn === 'stored';
  const bn: BnStatsRunner | null = stored ? null : await createBnStatsRunner(model, specs, dev);
  if (bn && !opts.bnData) {
    throw new WeightscopeError(
      'invalid-input',
      'the model has BatchNormalization layers: their statistics must be recomputed at each t, which needs clean data',
    );
  }
  const statSpecs = bnStatSpecs(model);
  const forward: ForwardRunner = await createForward(model, [...specs, ...statSpecs], dev);
  async function bnStats(params: ParamMap): Promise<ParamMap> {
    if (stored) {
      const out: ParamMap = new Map();
      for (const s of statSpecs) {
        const v = params.get(s.name);
        if (!v) throw new WeightscopeError('invalid-input', `the parameters carry no BatchNorm statistic '${s.name}'`);
        out.set(s.name, v);
      }
      return out;
    }
    return bn ? bn.compute(params, opts.bnData as Dataset, batchSize) : new Map();
  }
  return {
    hasBatchNorm: statSpecs.length > 0,
    bnStats,
    async evaluate(params, sets) {
      const full: ParamMap = new Map([...params, ...(await bnStats(params))]);
      const out: Record<string, SetMetrics> = {};
      for (const s of sets) {
        const r = await forward.evaluate(full, s.ds, {
          batchSize,
          loss: opts.loss ?? 'classification',
          ...(opts.criterion ? { criterion: opts.criterion } : {}),
        });
        out[s.name] = { loss: r.loss, accuracy: r.accuracy, n: r.n };
      }
      return out;
    },
    async logits(params, ds) {
      const full: ParamMap = new Map([...params, ...(await bnStats(params))]);
      let data: Float32Array | null = null;
      let classes = 0;
      let row = 0;
      for (const b of sequentialBatches(ds, batchSize)) {
        const t = await forward.logits(full, b.x);
        if (t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] !== b.size) {
          throw new WeightscopeError(
            'shape-mismatch',
            `an output ensemble needs float32 logits [batch, classes], got ${t.type} [${t.dims.join(', ')}]`,
          );
        }
        classes = t.dims[1];
        data ??= new Float32Array(ds.n * classes);
        data.set(t.data as Float32Array, row * classes);
        row += b.size;
      }
      return { data: data as Float32Array, classes };
    },
  };
}

/** Evaluates the curve at every t (in order). */
export async function evaluateCurve(
  evaluator: PathEvaluator,
  curve: Curve,
  ts: readonly number[],
  sets: readonly EvalSet[],
  progress?: ProgressHook,
): Promise<CurvePoint[]> {
  const rows: CurvePoint[] = [];
  for (const [i, t] of ts.entries()) {
    rows.push({ t, sets: await evaluator.evaluate(pointAt(curve, t), sets) });
    progress?.(i + 1, ts.length, `evaluated t = ${t}`);
  }
  return rows;
}

/**
 * A triggered set for ASR: the rows whose true class (`y_true`) differs from their target label (`y`), labelled with
 * the target. Without a `y_true` tensor every row counts as a non-target image.
 */
export async function loadTriggeredSet(path: string): Promise<Dataset> {
  const ds = await loadDataset(path);
  const r = await openSafetensors(path);
  let yTrue: BigInt64Array | null = null;
  try {
    const info = r.tensors.find((t) => t.name === 'y_true');
    if (info) {
      if (info.dtype !== 'I64' || info.shape.length !== 1 || info.shape[0] !== ds.n) {
        throw new WeightscopeError(
          'invalid-input',
          `${path}: 'y_true' must be int64 [${ds.n}], got ${info.dtype} [${info.shape.join(', ')}]`,
        );
      }
      yTrue = new BigInt64Array((await r.readBytes('y_true')).slice().buffer);
    }
  } finally {
    await r.close();
  }
  if (!yTrue) return ds;
  const y = ds.y as BigInt64Array;
  const keep: number[] = [];
  for (let i = 0; i < ds.n; i++) if (yTrue[i] !== y[i]) keep.push(i);
  if (keep.length === 0) throw new WeightscopeError('invalid-input', `${path}: every triggered image already belongs to its target class`);
  if (keep.length === ds.n) return ds;
  const row = ds.x.data.length / ds.n;
  const x = new Float32Array(keep.length * row);
  const src = ds.x.data as Float32Array;
  keep.forEach((r0, j) => x.set(src.subarray(r0 * row, (r0 + 1) * row), j * row));
  return makeDataset(
    { type: 'float32', data: x, dims: [keep.length, ...ds.x.dims.slice(1)] },
    BigInt64Array.from(keep, (i) => y[i]),
  );
}

/**
 * Error-injection targets (x, y = the labels the attack wants, y_true): `attack` scores against y (its accuracy is
 * the attack success), `truth` against y_true.
 */
export async function loadTargets(path: string): Promise<{ attack: Dataset; truth: Dataset }> {
  const attack = await loadDataset(path);
  let truth: Dataset;
  try {
    truth = await loadDataset(path, { y: 'y_true' });
  } catch (e) {
    if (e instanceof WeightscopeError)
      throw new WeightscopeError('invalid-input', `${path}: error-injection targets need x, y (the wrong labels) and y_true: ${e.message}`);
    throw e;
  }
  return { attack, truth };
}

export interface SetSummary {
  readonly start: number;
  readonly end: number;
  readonly min: number;
  readonly max: number;
  /** Plain mean over the evaluated points. */
  readonly avg: number;
}

export interface CurveSummary {
  /** Per set: accuracy along t (start, end, min, max, mean). */
  readonly accuracy: Record<string, SetSummary>;
  /**
   * Yang et al.'s mc per clean set, on error in percent over the evaluated points: mean endpoint error minus the
   * error of the point deviating most from it. Negative = a barrier.
   */
  readonly mc: Record<string, number>;
  /** Σ‖w(t_i) − w(t_{i−1})‖ over the evaluated points. */
  readonly pathLength: number;
}

export function summarize(rows: readonly CurvePoint[], sets: readonly EvalSet[], curve?: Curve): CurveSummary {
  const accuracy: Record<string, SetSummary> = {};
  const mc: Record<string, number> = {};
  for (const s of sets) {
    const a = rows.map((r) => r.sets[s.name].accuracy);
    accuracy[s.name] = {
      start: a[0],
      end: a[a.length - 1],
      min: Math.min(...a),
      max: Math.max(...a),
      avg: a.reduce((p, v) => p + v, 0) / a.length,
    };
    if (s.role === 'clean' && rows.length >= 2) mc[s.name] = modeConnectivity(a.map((v) => 100 * (1 - v)));
  }
  let pathLength = 0;
  if (curve) {
    let prev: ParamMap | null = null;
    for (const r of rows) {
      const w = pointAt(curve, r.t);
      if (prev) pathLength += distance(prev, w);
      prev = w;
    }
  }
  return { accuracy, mc, pathLength };
}
