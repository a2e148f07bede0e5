/**
 * The repair recipe's per-family defaults (evidence: bench/repair.md §3–§5): the options repair() fills when the
 * caller leaves them unset. A module of its own so the job limits can bound a run without loading the engine.
 */
export const REPAIR_RECIPES = {
  convnet: { l2: 0.05, polishEpochs: 20, polishLr: 0.05, polishMixup: 0 },
  transformer: { l2: 0.01, polishEpochs: 40, polishLr: 0.005, polishMixup: 0.5 },
} as const;
export type RepairRecipe = keyof typeof REPAIR_RECIPES;
/** The options each recipe sets when the caller does not. */
export type RecipeKey = keyof (typeof REPAIR_RECIPES)['convnet'];
