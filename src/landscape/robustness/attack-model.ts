/** `weightscope attack MODEL --data D`: one model's clean and adversarial metrics and input-Hessian top eigenvalue. */
import { z } from 'zod';
import { DEFAULT_DEVICE, DEVICE_CHOICES } from '../../runtime/devices.js';
import { loadDataset } from '../../runtime/dataset.js';
import { parseOptions } from '../../util/options.js';
import { WeightscopeError } from '../../errors.js';
import { bnStatSpecs } from '../connectivity/bn.js';
import { loadModelParams, type RunHooks } from '../connectivity/connect.js';
import { createPathEvaluator } from '../connectivity/evaluate.js';
import { attackOptionsSchema } from './options.js';
import { createRobustnessProbe, type RobustnessPoint } from './probe.js';

export const attackRunSchema = attackOptionsSchema.extend({
  device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
  evalBatchSize: z.number().int().positive().default(500),
});
export type AttackRunOptionsInput = z.input<typeof attackRunSchema>;
export type AttackRunOptions = z.infer<typeof attackRunSchema>;

export interface AttackInputs {
  readonly model: string;
  /** Labelled data to attack (x float, y). */
  readonly data: string;
}

export interface AttackResult extends RobustnessPoint {
  readonly options: AttackRunOptions;
  readonly samples: number;
  readonly seconds: number;
}

/** The model as it is, on `data`. */
export async function attackModel(inputs: AttackInputs, options: AttackRunOptionsInput = {}, hooks: RunHooks = {}): Promise<AttackResult> {
  const o = parseOptions(attackRunSchema, options, 'attack');
  const t0 = performance.now();
  // The model as it is: BatchNorm keeps its own running statistics (they travel with the parameters).
  const m = await loadModelParams(inputs.model);
  const stats = await loadModelParams(inputs.model, bnStatSpecs(m.model));
  const data = await loadDataset(inputs.data);
  const evaluator = await createPathEvaluator(m.model, m.specs, { device: o.device, batchSize: o.evalBatchSize, bn: 'stored' });
  const probe = await createRobustnessProbe(m.model, m.specs, data, o, evaluator, o.device);
  hooks.progress?.(0, 1, `attacking ${probe.samples} samples`);
  if (hooks.signal?.aborted) throw new WeightscopeError('invalid-input', 'the attack was cancelled');
  const r = await probe.measure(new Map([...m.values, ...stats.values]), (done, total) => {
    if (hooks.signal?.aborted) throw new WeightscopeError('invalid-input', 'the attack was cancelled');
    hooks.progress?.(done, total + 1, `attacked batch ${done}/${total}`);
  });
  hooks.progress?.(1, 1, 'done');
  return { options: o, samples: probe.samples, ...r, seconds: (performance.now() - t0) / 1000 };
}
