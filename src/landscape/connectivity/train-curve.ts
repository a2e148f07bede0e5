/**
 * Curve training (Garipov et al. 2018, as used for repair by Zhao et al. 2020): minimise E_{t~U(0,1)} of
 * L(w(t)) + ½·c·‖w(t)‖² over the interior control points, endpoints fixed. Each mini-batch draws ONE t; by the chain
 * rule the gradient for control point k is c_k(t)·(∇_w L(w(t)) + c·w(t)). SGD with momentum (PyTorch's rule, no
 * weight decay: the L2 acts on the point, not on the control points), the learning rate set once per epoch by
 * Garipov's schedule, the (small) clean set tiled to `samplesPerEpoch` samples and reshuffled each epoch.
 */
import type { Dataset } from '../../runtime/dataset.js';
import { curveCoefficients } from './curve.js';
import type { Curve } from './points.js';
import { trainControlPoints } from './train-points.js';
import type { CurveTrainOptions, CurveTrainResult, GradientEngine } from './train-options.js';

export {
  checkTrainOptions,
  lrAt,
  type CurveTrainOptions,
  type CurveTrainResult,
  type GradientEngine,
  type LrSchedule,
} from './train-options.js';

/**
 * Trains the interior control points of `curve` in place on `ds`. The objective's value per step includes the L2
 * term. A curve with only its two endpoints has nothing to train and is returned unchanged.
 */
export async function trainCurve(engine: GradientEngine, curve: Curve, ds: Dataset, opts: CurveTrainOptions): Promise<CurveTrainResult> {
  const K = curve.points.length;
  const interior = Array.from({ length: Math.max(0, K - 2) }, (_, i) => i + 1);
  return trainControlPoints(
    engine,
    { specs: curve.specs, points: curve.points, trainable: interior },
    (rng) => curveCoefficients(curve.kind, K, rng.uniform()),
    ds,
    opts,
  );
}
