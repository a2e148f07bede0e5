/** Many models → one table: rank by a metric's value, and correlate the values with user-supplied scores. */
import { WeightscopeError } from '../errors.js';
import { kendallTauB, spearman } from './stats.js';
import type { Direction, RankingMetric } from './metrics.js';

export interface RankInput {
  /** The model as the user named it (id or path). */
  model: string;
  value: number | null;
}

export interface RankRow {
  model: string;
  value: number | null;
  /** 1 = best; ties share the smallest rank ("1224"); models without a value rank last. */
  rank: number;
}

export interface RankingResult {
  metric: RankingMetric;
  direction: Direction;
  rows: RankRow[];
  /** Present only when scores were given: correlation of the metric values with the scores (scipy semantics). */
  correlation?: {
    n: number;
    spearman: { rho: number | null; p: number | null };
    kendall: { tau: number | null; p: number | null };
  };
}

export function rankModels(
  inputs: readonly RankInput[],
  metric: RankingMetric,
  direction: Direction,
  scores?: Readonly<Record<string, number>>,
): RankingResult {
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
  const result: RankingResult = { metric, direction, rows };
  if (scores) {
    for (const k of Object.keys(scores)) {
      if (!inputs.some((i) => i.model === k)) {
        throw new WeightscopeError('invalid-input', `scores name ${JSON.stringify(k)}, which is not one of the ranked models`);
      }
    }
    const x: number[] = [], y: number[] = [];
    for (const r of inputs) {
      const s = scores[r.model];
      if (r.value !== null && typeof s === 'number' && Number.isFinite(s)) { x.push(r.value); y.push(s); }
    }
    const sp = spearman(x, y), kt = kendallTauB(x, y);
    result.correlation = { n: x.length, spearman: { rho: sp.value, p: sp.p }, kendall: { tau: kt.value, p: kt.p } };
  }
  return result;
}
