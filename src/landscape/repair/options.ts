/**
 * repair()'s options (validated by zod; the API and the CLI share them) and the method line the report states.
 */
import { z } from 'zod';
import { parseOptions } from '../../util/options.js';
import { DEFAULT_DEVICE, DEVICE_CHOICES } from '../../runtime/devices.js';
import { curveTrainingSchema } from '../connectivity/connect.js';
import { RECIPE_CHOICES, type Resolved } from './recipes.js';

/**
 * The default recipe (evidence in bench/repair.md): a quadratic Bezier trained with a strong L2 on the point
 * (instead of Zhao et al.'s 1e-4: on clean data nothing holds the attack's weights up, so the decay erases them in the
 * middle of the path), 20 epochs of 10,000 tiled samples; the three evaluated points nearest 0.5 are polished
 * (fine-tuned on the clean training part), which wins back the clean accuracy the decay cost and removes most of what
 * is left of the attack; t is, among the polished points within one standard error of the best held-out accuracy,
 * the one nearest 0.5 (select.ts); w(t) is then polished once more on all the clean data, held-out part included
 * ("refit"). Set polishEpochs 0, l2 1e-4, epochs 100 (error injection: 30) for Zhao et al.'s protocol.
 *
 * The L2 and the polishing depend on the model family (recipes.ts; an option the caller sets wins).
 */
export const repairOptionsSchema = curveTrainingSchema.extend({
  epochs: z.number().int().min(0).max(100_000).default(20),
  samplesPerEpoch: z.number().int().positive().default(10_000),
  /** c in ½·c·‖w(t)‖² (default: the recipe's). */
  l2: z.number().nonnegative().optional(),
  ts: z.array(z.number().min(0).max(1)).min(3).optional(),
  device: z.enum(DEVICE_CHOICES).default(DEFAULT_DEVICE),
  evalBatchSize: z.number().int().positive().default(500),
  /** Share of the clean data held out to choose t (ignored with separate evaluation data). */
  heldOut: z.number().gt(0).lt(1).default(0.2),
  /** Tolerance on held-out clean accuracy (a fraction: 0.02 = 2 points). */
  delta: z.number().min(0).max(1).default(0.02),
  /** Fine-tuning learning rate (baseline and one-model second endpoint); default the curve's lr. */
  fineTuneLr: z.number().nonnegative().optional(),
  /** Also fine-tune the first model with the same budget and report it (always done with one model). */
  baseline: z.boolean().default(true),
  /**
   * Fine-tune ("polish") w(t) on the clean training part for this many epochs before export (0: export w(t));
   * default: the recipe's.
   */
  polishEpochs: z.number().int().min(0).max(10_000).optional(),
  /** Polishing learning rate (Garipov schedule); default: the recipe's. */
  polishLr: z.number().nonnegative().optional(),
  /** Share of each polishing batch's rows blended with another row (mixup, runtime/mixup.ts); default: the recipe's. */
  polishMixup: z.number().min(0).max(1).optional(),
  /** Which family's defaults fill the options above: 'auto' = transformer for a Hugging Face folder, else convnet. */
  recipe: z.enum(RECIPE_CHOICES).default('auto'),
  polishWeightDecay: z.number().nonnegative().default(1e-4),
  /** Samples per polishing epoch (default: the clean training part's size). */
  polishSamplesPerEpoch: z.number().int().positive().optional(),
  /** With polishing: how many points (nearest 0.5 first) may be polished while looking for one within δ. */
  polishTries: z.number().int().min(1).max(64).default(3),
  /**
   * With polishing: 'one-se' polishes all tries and takes, among those within one standard error of the best
   * held-out accuracy, the one nearest 0.5; 'best' the best; 'first' the first within δ (select.ts).
   */
  select: z.enum(['first', 'best', 'one-se']).default('one-se'),
  /** After choosing t on the held-out split, polish w(t) again on all the clean data (held-out part included). */
  refit: z.boolean().default(true),
  /**
   * Share of the curve's training rows stamped with the endpoints' reverse-engineered triggers, labels kept
   * (unlearn.ts; 0: off); default: the recipe's. Only classes the anomaly index flags are unlearned.
   */
  unlearn: z.number().min(0).max(1).optional(),
  /** Adam steps per class when reverse-engineering a trigger (cleanse.ts). */
  cleanseSteps: z.number().int().min(1).max(100_000).default(300),
  /** With unlearned triggers: how many points (best held-out accuracy first) are checked by a new reversal. */
  verifyTries: z.number().int().min(1).max(64).default(3),
});
export type RepairOptionsInput = z.input<typeof repairOptionsSchema>;
/** The options as run: the recipe resolved and every one of its options set. */
export type RepairOptions = Resolved<z.infer<typeof repairOptionsSchema>>;

/** Validated options; the recipe's options stay unset until the model is known (resolveRecipe). */
export function parseRepairOptions(o: RepairOptionsInput): z.infer<typeof repairOptionsSchema> {
  return parseOptions(repairOptionsSchema, o, 'repair');
}

/** What the report says it did, naming the baseline protocol it extends. */
export function methodOf(o: RepairOptions): string {
  const base =
    'path connection (Zhao et al., ICLR 2020: a Bezier curve between two attacked models trained on clean data, the model at a t chosen on clean held-out data)';
  const unlearn =
    o.unlearn > 0
      ? `; when an endpoint's trigger reversal (Neural Cleanse, Wang et al. 2019) flags a class, its reversed trigger is stamped on ${o.unlearn} of the curve's training rows (labels kept) and t is the best held-out point whose own reversal no longer flags it, unpolished`
      : '';
  if (o.polishEpochs === 0)
    return `${base}; curve ${o.curve} with ${o.bends} control points, L2 ${o.l2} on w(t), ${o.epochs} epochs${unlearn}`;
  return (
    `${base}; weightscope's ${o.recipe} recipe: L2 ${o.l2} on w(t) for ${o.epochs} epochs, the ${o.polishTries} points nearest 0.5 polished ${o.polishEpochs} epochs at lr ${o.polishLr}${o.polishMixup > 0 ? ` with mixup on ${o.polishMixup} of the rows` : ''}, ` +
    `t by ${o.select === 'best' ? 'the best' : o.select === 'one-se' ? 'the one-standard-error rule on the' : 'the first within δ of the'} polished held-out accuracy${o.refit ? ', w(t) polished again on all the clean data' : ''}${unlearn}`
  );
}
