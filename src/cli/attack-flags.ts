/**
 * The attack flags shared by `weightscope attack` and `weightscope connect --attack`, mapped onto the zod options of
 * src/landscape/robustness/options.ts (the same object the service and the library take).
 */
import { WeightscopeError } from '../errors.js';
import { num } from './curve-flags.js';

/** node:util parseArgs option specs. */
export const ATTACK_FLAGS = {
  attack: { type: 'string' },
  eps: { type: 'string' },
  steps: { type: 'string' },
  alpha: { type: 'string' },
  'attack-samples': { type: 'string' },
  'attack-batch': { type: 'string' },
  'no-random-start': { type: 'boolean' },
  'no-input-hessian': { type: 'boolean' },
  'hessian-samples': { type: 'string' },
  'hessian-iters': { type: 'string' },
  'no-clip': { type: 'boolean' },
} as const;

export const ATTACK_HELP = `--attack pgd|fgsm  L∞ attack from the model's input gradients (PGD: random start, signed steps, projection)
--eps E          L∞ radius (default 0.1)
--steps S        PGD steps (default 10)
--alpha A        PGD step size (default ε/4; FGSM uses ε)
--attack-samples N  attack the first N samples (default all)
--attack-batch B samples per gradient run (default 250)
--no-random-start  PGD starts at the clean input
--no-clip        inputs are not bounded (default: examples clipped to [0, 1])
--no-input-hessian  skip the input Hessian's top eigenvalue
--hessian-samples N  samples for the input Hessian (default 500)
--hessian-iters N    power-iteration steps at most (default 20)
`;

/** Flags → attack option fields, or undefined when no attack flag was given and `attack` is not set. */
export function attackOptionsFromFlags(values: Record<string, unknown>, always: boolean): Record<string, unknown> | undefined {
  const o: Record<string, unknown> = {};
  const set = (key: string, v: unknown) => {
    if (v !== undefined) o[key] = v;
  };
  if (values.attack !== undefined) {
    const a = String(values.attack);
    if (a !== 'pgd' && a !== 'fgsm')
      throw new WeightscopeError('invalid-input', `--attack must be pgd or fgsm, got ${JSON.stringify(a)}`, { usage: true });
    o.attack = a;
  }
  set('eps', num(values.eps, '--eps'));
  set('steps', num(values.steps, '--steps', true));
  set('alpha', num(values.alpha, '--alpha'));
  set('samples', num(values['attack-samples'], '--attack-samples', true));
  set('batchSize', num(values['attack-batch'], '--attack-batch', true));
  set('hessianSamples', num(values['hessian-samples'], '--hessian-samples', true));
  set('hessianMaxIter', num(values['hessian-iters'], '--hessian-iters', true));
  if (values['no-random-start']) o.randomStart = false;
  if (values['no-input-hessian']) o.inputHessian = false;
  if (values['no-clip']) o.clip = null;
  if (!always && values.attack === undefined) {
    if (Object.keys(o).length > 0) throw new WeightscopeError('invalid-input', 'attack flags need --attack pgd|fgsm', { usage: true });
    return undefined;
  }
  return o;
}
