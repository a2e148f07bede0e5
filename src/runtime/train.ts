/**
 * A training loop: epochs of seeded shuffled (optionally tiled) batches, one optimiser step per batch, callbacks
 * after each step and epoch. Everything random comes from one xoshiro128** generator seeded by `seed` (batch order,
 * then whatever the objective draws), so the same seed gives the same run, bit for bit.
 */
import { WeightscopeError } from '../errors.js';
import type { ProgressHook } from '../util/progress.js';
import { Rng } from '../util/random.js';
import { batchCount, batchesOf, epochOrder, type Batch, type Dataset } from './dataset.js';
import type { Engine, GradResult } from './engine.js';
import type { Optimizer } from './optim.js';
import type { ParamMap } from './params.js';

/** Loss and gradient of the training objective on a batch; `rng` is the run's generator (e.g. a curve's t). */
export type Objective = (params: ParamMap, batch: Batch, rng: Rng) => Promise<GradResult>;

export interface StepInfo {
  readonly epoch: number;
  /** Step within the whole run, from 0. */
  readonly step: number;
  readonly loss: number;
  readonly batchSize: number;
  readonly lr: number;
}

export interface EpochInfo {
  readonly epoch: number;
  /** Size-weighted mean of the batch losses seen during the epoch (parameters changing along the way). */
  readonly trainLoss: number;
  readonly lr: number;
  readonly samples: number;
}

export interface TrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly optimizer: Optimizer;
  /** Default: the engine's gradient of its loss. */
  readonly objective?: Objective;
  /** Samples per epoch: the dataset tiled (i mod n) to this many, then shuffled. Default n. */
  readonly samplesPerEpoch?: number;
  /** Default true. */
  readonly shuffle?: boolean;
  /** Learning rate for an epoch (0-based), set before its first step. */
  readonly lrSchedule?: (epoch: number, epochs: number) => number;
  readonly onStep?: (info: StepInfo, params: ParamMap) => void | Promise<void>;
  readonly onEpoch?: (info: EpochInfo, params: ParamMap) => void | Promise<void>;
  /** Called after every step with (steps done, total steps, message). */
  readonly progress?: ProgressHook;
  readonly signal?: AbortSignal;
}

export interface TrainResult {
  readonly epochs: readonly EpochInfo[];
  readonly steps: number;
}

export function engineObjective(engine: Engine): Objective {
  return (params, batch) => engine.grad(params, batch);
}

/** Trains `params` in place. Needs `engine` only for the default objective. */
export async function train(engine: Engine | null, params: ParamMap, ds: Dataset, opts: TrainOptions): Promise<TrainResult> {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 0) {
    throw new WeightscopeError('invalid-input', `epochs must be a non-negative integer, got ${opts.epochs}`);
  }
  const objective = opts.objective ?? (engine ? engineObjective(engine) : null);
  if (!objective) throw new WeightscopeError('invalid-input', 'train needs an engine or an objective');
  const rng = new Rng(opts.seed);
  const perEpoch = opts.samplesPerEpoch ?? ds.n;
  const batchesPerEpoch = batchCount(perEpoch, opts.batchSize);
  const total = batchesPerEpoch * opts.epochs;
  const epochs: EpochInfo[] = [];
  let step = 0;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    if (opts.lrSchedule) {
      const lr = opts.lrSchedule(epoch, opts.epochs);
      if (!Number.isFinite(lr) || lr < 0) throw new WeightscopeError('invalid-input', `lr schedule gave ${lr} for epoch ${epoch}`);
      opts.optimizer.lr = lr;
    }
    const order = epochOrder(ds.n, { samplesPerEpoch: perEpoch, ...(opts.shuffle === false ? {} : { rng }) });
    let lossSum = 0;
    let seen = 0;
    for (const batch of batchesOf(ds, order, opts.batchSize)) {
      if (opts.signal?.aborted) throw new WeightscopeError('invalid-input', 'training was cancelled');
      const { loss, grads } = await objective(params, batch, rng);
      if (!Number.isFinite(loss)) throw new WeightscopeError('numerical', `training loss became ${loss} at step ${step}`);
      opts.optimizer.step(params, grads);
      lossSum += loss * batch.size;
      seen += batch.size;
      await opts.onStep?.({ epoch, step, loss, batchSize: batch.size, lr: opts.optimizer.lr }, params);
      step++;
      opts.progress?.(step, total, `epoch ${epoch + 1}/${opts.epochs} loss ${loss.toFixed(4)}`);
    }
    const info: EpochInfo = { epoch, trainLoss: lossSum / seen, lr: opts.optimizer.lr, samples: seen };
    epochs.push(info);
    await opts.onEpoch?.(info, params);
  }
  return { epochs, steps: step };
}
