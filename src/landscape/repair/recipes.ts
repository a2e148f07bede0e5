/**
 * The repair recipe's per-family defaults (evidence: bench/repair.md §4–§5): the L2 on w(t) and the polishing that
 * repair() fills when the caller leaves them unset. A small convnet takes L2 0.05 and 20 polishing epochs at lr 0.05;
 * a Transformer (a Hugging Face folder), trained with AdamW at small learning rates, loses clean accuracy at that lr —
 * it takes L2 0.01 and 40 epochs at lr 0.005 with mixup (runtime/mixup.ts) on half the rows, real-valued inputs only
 * (token ids do not blend); and it unlearns reverse-engineered triggers on 0.2 of the curve's training rows (unlearn.ts,
 * bench/repair.md §6). A module of its own so the job limits can bound a run without loading the engine.
 */
import { WeightscopeError } from '../../errors.js';
import type { ModelRoute } from '../../model-io/open.js';
import type { TensorType } from '../../runtime/wire.js';

export const REPAIR_RECIPES = {
  convnet: { l2: 0.05, polishEpochs: 20, polishLr: 0.05, polishMixup: 0, unlearn: 0 },
  transformer: { l2: 0.01, polishEpochs: 40, polishLr: 0.005, polishMixup: 0.5, unlearn: 0.2 },
} as const;
export type RepairRecipe = keyof typeof REPAIR_RECIPES;
export const RECIPE_CHOICES = ['auto', 'convnet', 'transformer'] as const;
/** The options each recipe sets when the caller does not. */
export type RecipeKey = keyof (typeof REPAIR_RECIPES)['convnet'];

/** Options with the recipe still to resolve. */
export type Unresolved = Partial<Record<RecipeKey, number>> & { readonly recipe: (typeof RECIPE_CHOICES)[number] };
/** The same options with the recipe resolved and every one of its options set. */
export type Resolved<T extends Unresolved> = Omit<T, RecipeKey | 'recipe'> & Record<RecipeKey, number> & { readonly recipe: RepairRecipe };

/**
 * The recipe's defaults for what the caller left unset. 'auto' picks transformer for a model opened from a Hugging
 * Face folder (config.json graph or the folder's ONNX export), convnet for a plain ONNX file; mixup is off for token
 * inputs, and asking for it there is an error. Pure: the model's route and the data's input type decide.
 */
export function resolveRecipe<T extends Unresolved>(o: T, route: ModelRoute, inputs: TensorType): Resolved<T> {
  const recipe: RepairRecipe = o.recipe === 'auto' ? (route === 'onnx' ? 'convnet' : 'transformer') : o.recipe;
  const d = REPAIR_RECIPES[recipe];
  const polishMixup = o.polishMixup ?? (inputs === 'float32' ? d.polishMixup : 0);
  if (polishMixup > 0 && inputs !== 'float32')
    throw new WeightscopeError('invalid-input', 'polishMixup needs real-valued inputs (images, features); token ids cannot be blended');
  const unlearn = o.unlearn ?? (inputs === 'float32' ? d.unlearn : 0);
  if (unlearn > 0 && inputs !== 'float32')
    throw new WeightscopeError(
      'invalid-input',
      'unlearn needs real-valued inputs (images, features); a trigger mask cannot be stamped on token ids',
    );
  return {
    ...o,
    recipe,
    l2: o.l2 ?? d.l2,
    polishEpochs: o.polishEpochs ?? d.polishEpochs,
    polishLr: o.polishLr ?? d.polishLr,
    polishMixup,
    unlearn,
  };
}
