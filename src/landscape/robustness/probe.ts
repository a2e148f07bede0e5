/**
 * Adversarial robustness at any point of a path or surface, or of one model (Zhao et al. 2020): clean and
 * adversarial (PGD/FGSM, L∞) loss and accuracy, and the largest eigenvalue of the input Hessian (power iteration,
 * as PyHessian), whose correlation with the robustness loss along a path the paper reports.
 */
import { WeightscopeError } from '../../errors.js';
import type { ModelProto } from '../../io/onnx-model.js';
import { makeDataset, sliceBatch, type Batch, type Dataset } from '../../runtime/dataset.js';
import { createEngine, type Engine } from '../../runtime/engine.js';
import type { ParamMap, ParamSpec } from '../../runtime/params.js';
import type { DeviceChoice } from '../../runtime/devices.js';
import { pearson, spearman, type Correlation } from '../../ranking/stats.js';
import { Rng } from '../../util/random.js';
import { inputHessianOperator } from '../hessian/input.js';
import { powerIteration } from '../hessian/power.js';
import { lanczosTopK } from '../hessian/lanczos.js';
import { bnStatSpecs } from '../connectivity/bn.js';
import type { PathEvaluator, SetMetrics } from '../connectivity/evaluate.js';
import { adversarialExamples } from './attack.js';
import { attackConfig, type AttackOptions } from './options.js';
import { createInputGradient, type InputGradient } from './input-gradient.js';

export interface RobustnessPoint {
  readonly clean: SetMetrics;
  readonly adversarial: SetMetrics;
  /** Largest eigenvalue of the input Hessian of the mean clean loss (null when not asked for). */
  readonly inputHessian: {
    readonly topEigenvalue: number;
    readonly iterations: number;
    readonly residual: number;
    readonly samples: number;
  } | null;
}

/** Measures robustness at any parameter values of one graph (curve parameters; BN statistics recomputed). */
export interface RobustnessProbe {
  readonly samples: number;
  /** `onBatch`: after each attacked batch (progress; where a job's cancellation stops it). */
  measure(params: ParamMap, onBatch?: (done: number, total: number) => void): Promise<RobustnessPoint>;
}

/**
 * A probe over `model`'s graph with curve parameters `specs` on the first `o.samples` samples of `data`;
 * `evaluator` supplies BN statistics and the forward passes.
 */
export async function createRobustnessProbe(
  model: ModelProto,
  specs: readonly ParamSpec[],
  data: Dataset,
  o: AttackOptions,
  evaluator: PathEvaluator,
  device: DeviceChoice = 'cpu',
): Promise<RobustnessProbe> {
  if (data.x.type !== 'float32' || !data.y) throw new WeightscopeError('invalid-input', 'an attack needs float inputs with labels y');
  if (o.samples !== undefined && o.samples > data.n)
    throw new WeightscopeError('invalid-input', `asked to attack ${o.samples} samples, the data has ${data.n}`);
  const n = o.samples ?? data.n;
  const clean = n === data.n ? data : batchAsDataset(sliceBatch(data, 0, n));
  const all = [...specs, ...bnStatSpecs(model)];
  const ig: InputGradient = await createInputGradient(model, all, { device });
  const cfg = attackConfig(o);
  let engine: Engine | null = null;
  const hN = Math.min(o.hessianSamples, n);
  const hBatches: Batch[] = [];
  for (let s = 0; s < hN; s += o.batchSize) hBatches.push(sliceBatch(clean, s, Math.min(hN, s + o.batchSize)));
  return {
    samples: n,
    async measure(params, onBatch) {
      const full: ParamMap = new Map([...params, ...(await evaluator.bnStats(params))]);
      const adv = await adversarialExamples(ig, full, clean, cfg, onBatch);
      const advSet = makeDataset({ type: 'float32', data: adv, dims: clean.x.dims }, clean.y);
      const m = await evaluator.evaluate(params, [
        { name: 'clean', role: 'clean', ds: clean },
        { name: 'adversarial', role: 'clean', ds: advSet },
      ]);
      let inputHessian: RobustnessPoint['inputHessian'] = null;
      if (o.inputHessian) {
        engine ??= await createEngine(model, { loss: 'classification', params: all.map((s) => s.name), device });
        const op = await inputHessianOperator(model, engine, full, hBatches);
        const rng = new Rng((o.seed + 0x1e55) >>> 0);
        if (o.hessianMethod === 'power') {
          const r = await powerIteration(op, { k: 1, maxIter: o.hessianMaxIter, tol: o.hessianTol, rng });
          inputHessian = { topEigenvalue: r.values[0], iterations: r.iterations[0], residual: r.residuals[0], samples: hN };
        } else {
          const v0 = Float64Array.from({ length: op.dim }, () => rng.normal());
          const s = 1 / Math.hypot(...v0);
          for (let i = 0; i < v0.length; i++) v0[i] *= s;
          const r = await lanczosTopK(op, v0, 1, o.hessianMaxIter, o.hessianTol);
          inputHessian = { topEigenvalue: r.values[0], iterations: r.iterations, residual: r.residuals[0], samples: hN };
        }
      }
      return { clean: m.clean, adversarial: m.adversarial, inputHessian };
    },
  };
}

function batchAsDataset(b: Batch): Dataset {
  return makeDataset(b.x, b.y ? (b.y.data as BigInt64Array) : null);
}

export interface PathCorrelation {
  /** Pearson's r (null when either side is constant). */
  readonly pearson: number | null;
  readonly spearman: Correlation;
}

/** Pearson and Spearman correlation of x and y, over as many points as given. */
export function correlate(x: readonly number[], y: readonly number[]): PathCorrelation {
  const s = spearman(x, y);
  const constant = (a: readonly number[]) => a.every((v) => v === a[0]);
  return { pearson: x.length >= 2 && !constant(x) && !constant(y) ? pearson(x, y) : null, spearman: s };
}

export interface RobustnessAlong {
  readonly options: AttackOptions;
  /** The set attacked and its size. */
  readonly set: string;
  readonly samples: number;
  readonly along: readonly ({ readonly t: number } & RobustnessPoint)[];
  /**
   * Along t: the robustness (adversarial) loss and the robust error (1 − adversarial accuracy) against the input
   * Hessian's top eigenvalue (Zhao et al.'s Fig. 4), when the eigenvalue was computed.
   */
  readonly correlation: { readonly adversarialLoss: PathCorrelation; readonly robustError: PathCorrelation } | null;
}

export function correlationsAlong(rows: readonly ({ t: number } & RobustnessPoint)[]): RobustnessAlong['correlation'] {
  if (rows.some((r) => r.inputHessian === null)) return null;
  const lam = rows.map((r) => (r.inputHessian as NonNullable<RobustnessPoint['inputHessian']>).topEigenvalue);
  return {
    adversarialLoss: correlate(
      rows.map((r) => r.adversarial.loss),
      lam,
    ),
    robustError: correlate(
      rows.map((r) => 1 - r.adversarial.accuracy),
      lam,
    ),
  };
}
