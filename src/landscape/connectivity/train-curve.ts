/**
 * Curve training (Garipov et al. 2018, as used for repair by Zhao et al. 2020): minimise E_{t~U(0,1)} of
 * L(w(t)) + ½·c·‖w(t)‖² over the interior control points, endpoints fixed. Each mini-batch draws ONE t; by the chain
 * rule the gradient for control point k is c_k(t)·(∇_w L(w(t)) + c·w(t)). SGD with momentum (PyTorch's rule, no
 * weight decay: the L2 acts on the point, not on the control points), the learning rate set once per epoch by
 * Garipov's schedule, the (small) clean set tiled to `samplesPerEpoch` samples and reshuffled each epoch.
 */
import { WeightscopeError } from '../../errors.js';
import type { ProgressHook } from '../../util/progress.js';
import type { Dataset } from '../../runtime/dataset.js';
import type { Engine } from '../../runtime/engine.js';
import type { EpochInfo } from '../../runtime/train.js';
import { curveCoefficients, garipovFactor } from './curve.js';
import type { Curve } from './points.js';
import { trainControlPoints } from './train-points.js';

/** What curve training needs from an engine: the gradient of the data loss (no L2) at a point. */
export type GradientEngine = Pick<Engine, 'grad'>;

export type LrSchedule = 'garipov' | 'constant';

export interface CurveTrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  /** Samples per epoch: the clean set tiled (i mod n) to this many, then shuffled. Default: the set's size. */
  readonly samplesPerEpoch?: number;
  readonly lr: number;
  /** Default 0.9. */
  readonly momentum?: number;
  /** c in ½·c·‖w(t)‖². Default 1e-4. */
  readonly l2?: number;
  readonly seed: number;
  /** Default 'garipov'. */
  readonly schedule?: LrSchedule;
  readonly progress?: ProgressHook;
  readonly onEpoch?: (info: EpochInfo) => void | Promise<void>;
  readonly signal?: AbortSignal;
}

export interface CurveTrainResult {
  /** Per epoch: mean training objective (data loss + L2 at the sampled t) and the learning rate used. */
  readonly epochs: readonly EpochInfo[];
  readonly steps: number;
  readonly seconds: number;
}

export function lrAt(schedule: LrSchedule, lr: number, epoch0: number, epochs: number): number {
  // Garipov's α = epoch/epochs counts epochs from 1.
  return schedule === 'garipov' ? lr * garipovFactor(epoch0 + 1, epochs) : lr;
}


export function checkTrainOptions(o: CurveTrainOptions): void {
  const positiveInt = (v: number | undefined, what: string, allowZero = false) => {
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) throw new WeightscopeError('invalid-input', `${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
  };
  positiveInt(o.epochs, 'epochs', true);
  positiveInt(o.batchSize, 'batch size');
  positiveInt(o.samplesPerEpoch, 'samples per epoch');
  for (const [v, what] of [[o.lr, 'learning rate'], [o.momentum ?? 0, 'momentum'], [o.l2 ?? 0, 'L2 coefficient']] as const) {
    if (!Number.isFinite(v) || v < 0) throw new WeightscopeError('invalid-input', `${what} must be a non-negative number, got ${v}`);
  }
  if ((o.momentum ?? 0.9) >= 1) throw new WeightscopeError('invalid-input', `momentum must be below 1, got ${o.momentum}`);
}

/**
 * Trains the interior control points of `curve` in place on `ds`. The objective's value per step includes the L2
 * term. A curve with only its two endpoints has nothing to train and is returned unchanged.
 */
export async function trainCurve(engine: GradientEngine, curve: Curve, ds: Dataset, opts: CurveTrainOptions): Promise<CurveTrainResult> {
  const K = curve.points.length;
  const interior = Array.from({ length: Math.max(0, K - 2) }, (_, i) => i + 1);
  return trainControlPoints(engine, { specs: curve.specs, points: curve.points, trainable: interior }, (rng) => curveCoefficients(curve.kind, K, rng.uniform()), ds, opts);
}
