/**
 * Fine-tuning on clean data with the curve's budget (same epochs, tiling, batch size and Garipov schedule): the
 * baseline Zhao et al. compare against, and — with one backdoored model — the second endpoint of the path
 * (BackdoorBench's MCR). SGD momentum with weight decay c (the gradient of ½·c·‖θ‖², as the curve's L2 on w(t)), and
 * optionally mixup on the batches (runtime/mixup.ts; drawn from the loop's generator, so a run stays seeded).
 */
import type { Dataset } from '../../runtime/dataset.js';
import type { Engine } from '../../runtime/engine.js';
import { sgd } from '../../runtime/optim.js';
import { mixupBatch } from '../../runtime/mixup.js';
import { clone, type ParamMap } from '../../runtime/params.js';
import { train } from '../../runtime/train.js';
import type { ProgressHook } from '../../util/progress.js';
import { lrAt, type LrSchedule } from '../connectivity/train-curve.js';

export interface FineTuneOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly samplesPerEpoch?: number;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly seed: number;
  readonly schedule: LrSchedule;
  /** Share of each batch's rows mixed with another row (0 or absent: plain batches). */
  readonly mixup?: number;
  readonly progress?: ProgressHook;
  readonly signal?: AbortSignal;
}

/** A fine-tuned copy of `start` (start itself is untouched). */
export async function fineTune(
  engine: Pick<Engine, 'grad'>,
  start: ReadonlyMap<string, Float32Array>,
  ds: Dataset,
  o: FineTuneOptions,
): Promise<{ params: ParamMap; seconds: number }> {
  const t0 = performance.now();
  const params = clone(start);
  if (o.epochs === 0) return { params, seconds: 0 };
  await train(null, params, ds, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    optimizer: sgd({ lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay }),
    objective: (p, b, rng) => engine.grad(p, o.mixup ? mixupBatch(b, o.mixup, rng) : b),
    ...(o.samplesPerEpoch !== undefined ? { samplesPerEpoch: o.samplesPerEpoch } : {}),
    lrSchedule: (e, E) => lrAt(o.schedule, o.lr, e, E),
    ...(o.progress ? { progress: o.progress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { params, seconds: (performance.now() - t0) / 1000 };
}
