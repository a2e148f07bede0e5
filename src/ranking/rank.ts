/**
 * Many models → one table: rank by a metric's value, and correlate the values with user-supplied scores — over all
 * models, and within each family (config.json's model_type, or the layer signature: src/layers/family.ts).
 *
 * Why families: HT-SR metrics compare models of one architecture and training recipe. Across architectures they
 * do not predict quality — WeightWatcher's own LLM leaderboard finds Spearman(mean alpha, MMLU) ≈ 0 across
 * families, and the KDD'23 study (Yang et al.) compares models within a family. A ranking that mixes families says
 * so (`cross_family`, `note`) and ranks within each family too.
 */
import { WeightscopeError } from '../errors.js';
import { kendallTauB, spearman } from './stats.js';
import type { Direction, RankingMetric } from './metrics.js';

export interface RankInput {
  /** The model as the user named it (id or path). */
  model: string;
  value: number | null;
  /** Its family (model_type or `signature:…`); models without one form the family 'unknown'. */
  family?: string;
}

export interface RankRow {
  model: string;
  value: number | null;
  /** 1 = best; ties share the smallest rank ("1224"); models without a value rank last. */
  rank: number;
}

export interface RankCorrelation {
  n: number;
  spearman: { rho: number | null; p: number | null };
  kendall: { tau: number | null; p: number | null };
}

export interface FamilyRanking {
  family: string;
  /** The family's models ranked among themselves (rank 1 = best of the family). */
  rows: RankRow[];
  /** With scores: the correlation within this family. */
  correlation?: RankCorrelation;
}

export interface RankingResult {
  metric: RankingMetric;
  direction: Direction;
  /** All models in one ranking (across families when `cross_family`). */
  rows: RankRow[];
  /** Present only when scores were given: correlation of the metric values with the scores (scipy semantics). */
  correlation?: RankCorrelation & { cross_family: boolean };
  /** True when the models come from more than one family. */
  cross_family: boolean;
  /** One ranking per family, families in order of first appearance. */
  families: FamilyRanking[];
  /** When cross_family: why the all-model ranking should not be read as a quality ranking. */
  note?: string;
}

export const CROSS_FAMILY_NOTE =
  "these models come from different families: HT-SR metrics rank models within a family (KDD'23); across families " +
  "the evidence does not support a ranking (WeightWatcher's LLM leaderboard: Spearman of mean alpha vs MMLU ≈ 0). " +
  'Read the per-family rankings.';

function rankRows(inputs: readonly RankInput[], direction: Direction): RankRow[] {
  const sign = direction === 'asc' ? 1 : -1;
  const sorted = [...inputs].sort((a, b) => {
    if (a.value === null || b.value === null) return a.value === null ? (b.value === null ? 0 : 1) : -1;
    return sign * (a.value - b.value);
  });
  const rows: RankRow[] = [];
  sorted.forEach((r, i) => {
    const prev = rows[i - 1];
    const rank = prev && prev.value === r.value ? prev.rank : i + 1;
    rows.push({ model: r.model, value: r.value, rank });
  });
  return rows;
}

function correlate(inputs: readonly RankInput[], scores: Readonly<Record<string, number>>): RankCorrelation {
  const x: number[] = [],
    y: number[] = [];
  for (const r of inputs) {
    const s = scores[r.model];
    if (r.value !== null && typeof s === 'number' && Number.isFinite(s)) {
      x.push(r.value);
      y.push(s);
    }
  }
  const sp = spearman(x, y),
    kt = kendallTauB(x, y);
  return { n: x.length, spearman: { rho: sp.value, p: sp.p }, kendall: { tau: kt.value, p: kt.p } };
}

export function rankModels(
  inputs: readonly RankInput[],
  metric: RankingMetric,
  direction: Direction,
  scores?: Readonly<Record<string, number>>,
): RankingResult {
  if (scores) {
    for (const k of Object.keys(scores)) {
      if (!inputs.some((i) => i.model === k)) {
        throw new WeightscopeError('invalid-input', `scores name ${JSON.stringify(k)}, which is not one of the ranked models`);
      }
    }
  }
  const groups = new Map<string, RankInput[]>();
  for (const r of inputs) {
    const f = r.family ?? 'unknown';
    if (!groups.has(f)) groups.set(f, []);
    groups.get(f)!.push(r);
  }
  const cross = groups.size > 1;
  const families: FamilyRanking[] = [...groups].map(([family, members]) => ({
    family,
    rows: rankRows(members, direction),
    ...(scores ? { correlation: correlate(members, scores) } : {}),
  }));
  return {
    metric,
    direction,
    rows: rankRows(inputs, direction),
    ...(scores ? { correlation: { ...correlate(inputs, scores), cross_family: cross } } : {}),
    cross_family: cross,
    families,
    ...(cross ? { note: CROSS_FAMILY_NOTE } : {}),
  };
}
