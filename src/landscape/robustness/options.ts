/** Options of the L∞ attacks and the robustness measurements: one zod schema for the CLI, the service and the library. */
import { z } from 'zod';
import { parseOptions } from '../../util/options.js';
import type { AttackConfig } from './attack.js';

export const attackOptionsSchema = z.object({
  attack: z.enum(['pgd', 'fgsm']).default('pgd'),
  /** L∞ radius, in the units of the inputs. */
  eps: z.number().min(0).max(1e6).default(0.1),
  /** PGD steps (FGSM takes one). */
  steps: z.number().int().min(1).max(10_000).default(10),
  /** Step size; default ε/4 for PGD (Zhao et al.'s 2/255 for ε = 8/255), ε for FGSM. */
  alpha: z.number().positive().max(1e6).optional(),
  /** PGD: start at a uniform random point of the ε-ball (Madry et al.; Zhao et al.'s AttackPGD). */
  randomStart: z.boolean().default(true),
  /** Valid input range the examples are clipped to; null for unbounded inputs. */
  clip: z
    .tuple([z.number(), z.number()])
    .refine(([lo, hi]) => lo < hi, 'the input range [lo, hi] needs lo < hi')
    .nullable()
    .default([0, 1]),
  /** Attack the first N samples of the data (default all). */
  samples: z.number().int().positive().optional(),
  batchSize: z.number().int().positive().max(100_000).default(250),
  /** Also the input Hessian's largest eigenvalue (on the first hessianSamples clean samples). */
  inputHessian: z.boolean().default(true),
  hessianSamples: z.number().int().positive().default(500),
  /**
   * Lanczos (default: converges in a few dozen products where the input Hessian's top eigengap is small) or
   * PyHessian's power iteration (as Zhao et al.).
   */
  hessianMethod: z.enum(['lanczos', 'power']).default('lanczos'),
  hessianMaxIter: z.number().int().min(1).max(1000).default(30),
  hessianTol: z.number().positive().default(1e-4),
  seed: z.number().int().nonnegative().default(1),
});
export type AttackOptionsInput = z.input<typeof attackOptionsSchema>;
export type AttackOptions = z.infer<typeof attackOptionsSchema>;

export function parseAttackOptions(o: AttackOptionsInput): AttackOptions {
  return parseOptions(attackOptionsSchema, o, 'attack');
}

export function attackConfig(o: AttackOptions): AttackConfig {
  return {
    kind: o.attack,
    eps: o.eps,
    steps: o.attack === 'fgsm' ? 1 : o.steps,
    alpha: o.alpha ?? (o.attack === 'fgsm' ? o.eps : o.eps / 4),
    randomStart: o.attack === 'pgd' && o.randomStart,
    clip: o.clip,
    seed: o.seed,
    batchSize: o.batchSize,
  };
}
