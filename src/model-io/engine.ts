/**
 * An opened model (open.ts) with data → the loss it is trained with and the gradient/Hv engine over it. One home for
 * the choice, so the CLI, the service's jobs and the library agree.
 */
import { WeightscopeError } from '../errors.js';
import { inferLossKind, type Dataset, type LossKind } from '../runtime/dataset.js';
import { createEngine, type Engine, type EngineOptions } from '../runtime/engine.js';
import { createForward, type ForwardRunner } from '../runtime/forward.js';
import { floatInitializerNames, loadParams, type ParamMap, type ParamSpec } from '../runtime/params.js';
import type { DeviceChoice } from '../runtime/devices.js';
import type { OpenedModel } from './open.js';

/**
 * The loss for `m` on `ds`: the task's (causal LM → next-token, classifiers → cross-entropy against y), else what
 * the data implies; `flag` (--loss) must agree with both.
 */
export function lossFor(m: OpenedModel, ds: Dataset, flag?: LossKind): LossKind {
  const implied = inferLossKind(ds);
  if (flag === 'classification' && !ds.y)
    throw new WeightscopeError('invalid-input', '--loss classification needs labels y in the dataset');
  if (flag === 'lm' && ds.x.type !== 'int64') throw new WeightscopeError('invalid-input', '--loss lm needs int64 tokens x in the dataset');
  if (m.loss !== null) {
    if (flag !== undefined && flag !== m.loss)
      throw new WeightscopeError('invalid-input', `--loss ${flag} does not fit ${m.architecture}, whose loss is ${m.loss}`);
    if (m.loss !== implied)
      throw new WeightscopeError(
        'invalid-input',
        `the data fits a ${implied} loss, ${m.architecture} needs ${m.loss === 'lm' ? 'token sequences' : 'labelled samples'}`,
      );
    return m.loss;
  }
  return flag ?? implied;
}

export type ModelEngineOptions = Omit<EngineOptions, 'loss'>;

/** The engine over the model's forward graph; graphs built from config.json need no re-tying of exported copies. */
export function modelEngine(m: OpenedModel, loss: LossKind, opts: ModelEngineOptions = {}): Promise<Engine> {
  return createEngine(m.model, { ...opts, loss, ...(m.pretied ? { untie: true } : {}) });
}

/** A forward pass only (eval): the model's float initializers as parameters, fed per call. */
export async function modelForward(
  m: OpenedModel,
  device?: DeviceChoice,
): Promise<{ forward: ForwardRunner; specs: ParamSpec[]; values: ParamMap }> {
  const { specs, values } = await loadParams(m.model, process.cwd(), floatInitializerNames(m.model));
  const forward = await createForward(m.model, specs, device ? { device } : {});
  return { forward, specs, values };
}
