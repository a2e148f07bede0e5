/**
 * Options and result of control-point training (curves, surfaces), the learning-rate schedule and the options'
 * checks: shared by train-curve.ts and train-points.ts.
 */
import { WeightscopeError } from '../../errors.js';
import type { ProgressHook } from '../../util/progress.js';
import type { Engine } from '../../runtime/engine.js';
import type { EpochInfo } from '../../runtime/train.js';
import { garipovFactor } from './curve.js';

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
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1))
      throw new WeightscopeError('invalid-input', `${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
  };
  positiveInt(o.epochs, 'epochs', true);
  positiveInt(o.batchSize, 'batch size');
  positiveInt(o.samplesPerEpoch, 'samples per epoch');
  for (const [v, what] of [
    [o.lr, 'learning rate'],
    [o.momentum ?? 0, 'momentum'],
    [o.l2 ?? 0, 'L2 coefficient'],
  ] as const) {
    if (!Number.isFinite(v) || v < 0) throw new WeightscopeError('invalid-input', `${what} must be a non-negative number, got ${v}`);
  }
  if ((o.momentum ?? 0.9) >= 1) throw new WeightscopeError('invalid-input', `momentum must be below 1, got ${o.momentum}`);
}
