/**
 * Choosing t on a repaired path from clean held-out accuracy alone (no triggered data). Backdoor behaviour is
 * weakest far from both endpoints (Zhao et al. 2020; reference.json's along-t ASR is lowest near t = 0.5), while
 * clean accuracy may dip there. The rule: among the evaluated interior t whose held-out clean accuracy is within
 * δ of the endpoints' mean, take the one nearest 0.5 (ties: higher accuracy, then smaller t). If no interior t
 * qualifies, take the interior t with the best held-out accuracy and say so.
 */
import { WeightscopeError } from '../../errors.js';

export interface SelectionInput {
  readonly t: number;
  /** Held-out clean accuracy at t. */
  readonly accuracy: number;
}

export interface Selection {
  readonly t: number;
  readonly accuracy: number;
  /** Mean held-out accuracy of the two endpoints (t = 0 and t = 1). */
  readonly reference: number;
  readonly delta: number;
  /** Interior t that met the tolerance. */
  readonly candidates: readonly number[];
  readonly reason: string;
}

export function selectT(rows: readonly SelectionInput[], delta: number): Selection {
  if (!(delta >= 0 && delta <= 1)) throw new WeightscopeError('invalid-input', `tolerance δ must be in [0, 1], got ${delta}`);
  const start = rows.find((r) => r.t === 0);
  const end = rows.find((r) => r.t === 1);
  if (!start || !end)
    throw new WeightscopeError('invalid-input', 'choosing t needs the endpoints t = 0 and t = 1 among the evaluated points');
  const interior = rows.filter((r) => r.t > 0 && r.t < 1);
  if (interior.length === 0)
    throw new WeightscopeError('invalid-input', 'choosing t needs at least one evaluated point strictly between 0 and 1');
  const reference = (start.accuracy + end.accuracy) / 2;
  // A hair of slack so that accuracies equal up to float rounding count as within δ.
  const ok = interior.filter((r) => r.accuracy >= reference - delta - 1e-12);
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  if (ok.length > 0) {
    const best = [...ok].sort((x, y) => Math.abs(x.t - 0.5) - Math.abs(y.t - 0.5) || y.accuracy - x.accuracy || x.t - y.t)[0];
    return {
      t: best.t,
      accuracy: best.accuracy,
      reference,
      delta,
      candidates: ok.map((r) => r.t),
      reason: `t = ${best.t} is the evaluated point nearest 0.5 whose held-out clean accuracy (${pct(best.accuracy)}) is within ${pct(delta)} of the endpoints' mean (${pct(reference)})`,
    };
  }
  const best = [...interior].sort((x, y) => y.accuracy - x.accuracy || Math.abs(x.t - 0.5) - Math.abs(y.t - 0.5))[0];
  return {
    t: best.t,
    accuracy: best.accuracy,
    reference,
    delta,
    candidates: [],
    reason: `no interior point is within ${pct(delta)} of the endpoints' mean held-out accuracy (${pct(reference)}); t = ${best.t} has the best held-out accuracy (${pct(best.accuracy)})`,
  };
}

/** How t is taken among the polished points (see selectPolished). */
export type PolishSelect = 'first' | 'best' | 'one-se';

export interface PolishTry {
  readonly t: number;
  /** Held-out clean accuracy of w(t) on the trained curve. */
  readonly curveAccuracy: number;
  /** Held-out clean accuracy after fine-tuning w(t) on the clean training part. */
  readonly accuracy: number;
}

export interface PolishedSelection extends Selection {
  readonly tried: readonly PolishTry[];
}

/**
 * The rule when the point at t is fine-tuned ("polished") before export, which restores the clean accuracy a
 * strongly regularised curve gives up in its middle: take the `maxTries` evaluated interior t nearest 0.5 (ties: the
 * better curve accuracy, then the smaller t) — where the path is farthest from both attacked endpoints — and polish
 * them in that order. 'one-se' (the default recipe): all of them, then among those within one standard error of the
 * best polished held-out accuracy (√(a(1−a)/n) on n held-out samples) the one nearest 0.5. 'best': the best polished
 * held-out accuracy (ties: the one nearer 0.5). 'first': the first within δ of the endpoints' mean, else the best
 * tried. Clean data only, like selectT.
 */
export async function selectPolished(
  rows: readonly SelectionInput[],
  delta: number,
  maxTries: number,
  polishedAccuracy: (t: number) => Promise<number>,
  mode: PolishSelect = 'first',
  heldOutSize = 0,
): Promise<PolishedSelection> {
  const base = selectT(rows, delta); // validates the rows and gives the reference
  if (!Number.isInteger(maxTries) || maxTries < 1)
    throw new WeightscopeError('invalid-input', `polish tries must be a positive integer, got ${maxTries}`);
  const order = rows
    .filter((r) => r.t > 0 && r.t < 1)
    .sort((x, y) => Math.abs(x.t - 0.5) - Math.abs(y.t - 0.5) || y.accuracy - x.accuracy || x.t - y.t);
  const tried: PolishTry[] = [];
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  for (const r of order.slice(0, maxTries)) {
    const accuracy = await polishedAccuracy(r.t);
    tried.push({ t: r.t, curveAccuracy: r.accuracy, accuracy });
    if (mode === 'first' && accuracy >= base.reference - delta - 1e-12) {
      return {
        t: r.t,
        accuracy,
        reference: base.reference,
        delta,
        candidates: tried.map((x) => x.t),
        tried,
        reason: `t = ${r.t} is the point nearest 0.5 whose held-out clean accuracy after polishing (${pct(accuracy)}; ${pct(r.accuracy)} on the curve) is within ${pct(delta)} of the endpoints' mean (${pct(base.reference)})`,
      };
    }
  }
  let best = [...tried].sort((x, y) => y.accuracy - x.accuracy || Math.abs(x.t - 0.5) - Math.abs(y.t - 0.5))[0];
  let oneSe = '';
  if (mode === 'one-se') {
    if (!(Number.isInteger(heldOutSize) && heldOutSize > 0))
      throw new WeightscopeError('invalid-input', `the one-standard-error rule needs the held-out size, got ${heldOutSize}`);
    // Breiman's one-standard-error rule: accuracies closer than the held-out estimate's standard error are not
    // told apart; among them the point nearest 0.5 (farthest from both attacked endpoints) wins.
    const se = Math.sqrt((best.accuracy * (1 - best.accuracy)) / heldOutSize);
    const close = tried.filter((x) => x.accuracy >= best.accuracy - se - 1e-12);
    const pick = [...close].sort((x, y) => Math.abs(x.t - 0.5) - Math.abs(y.t - 0.5) || y.accuracy - x.accuracy || x.t - y.t)[0];
    oneSe =
      pick.t === best.t
        ? ''
        : `; t = ${best.t} scored ${pct(best.accuracy)}, within one standard error (${pct(se)} on ${heldOutSize} held-out samples), so the point nearer 0.5 is taken`;
    best = pick;
  }
  const within = best.accuracy >= base.reference - delta - 1e-12;
  return {
    t: best.t,
    accuracy: best.accuracy,
    reference: base.reference,
    delta,
    candidates: tried.map((x) => x.t),
    tried,
    reason:
      mode !== 'first' && within
        ? `t = ${best.t} has the best held-out clean accuracy after polishing (${pct(best.accuracy)}) of the ${tried.length} points nearest 0.5, within ${pct(delta)} of the endpoints' mean (${pct(base.reference)})${oneSe}`
        : `none of the ${tried.length} points nearest 0.5 reached ${pct(base.reference - delta)} held-out accuracy after polishing; t = ${best.t} has the best (${pct(best.accuracy)})`,
  };
}

export interface VerifiedSelection extends Selection {
  /** The points checked, best held-out accuracy first, and whether each passed. */
  readonly checked: readonly { readonly t: number; readonly accuracy: number; readonly pass: boolean }[];
}

/**
 * The least share of w(t) that the trained control points must make up for t to be a candidate of selectVerified:
 * where the endpoints' own weights are more than three quarters of the point, the unlearning on the curve has little
 * leverage (vit-fmnist-backdoor, quadratic Bezier: t = 0.1, trained weight 0.18, kept 2.55–9.6 % ASR over four curves,
 * t = 0.05 kept 87–92 %; t in [0.15, 0.85] stayed at 1.75–3.2 %; bench/repair.md §6).
 */
export const MIN_TRAINED_WEIGHT = 0.25;

/**
 * The rule on a path trained to unlearn reverse-engineered triggers (unlearn.ts): the interior points whose trained
 * share `trainedWeight(t)` is at least MIN_TRAINED_WEIGHT, by held-out clean accuracy (best first; ties nearest
 * 0.5), are checked in that order, at most `maxTries`, and the first whose own trigger reversal passes `verify` is
 * taken. Null when none passes (the caller falls back to the polishing rule). Clean data only: the check
 * reverse-engineers triggers from clean images.
 */
export async function selectVerified(
  rows: readonly SelectionInput[],
  delta: number,
  maxTries: number,
  trainedWeight: (t: number) => number,
  verify: (t: number) => Promise<boolean>,
): Promise<VerifiedSelection | null> {
  const base = selectT(rows, delta); // validates the rows and gives the reference
  if (!Number.isInteger(maxTries) || maxTries < 1)
    throw new WeightscopeError('invalid-input', `verification tries must be a positive integer, got ${maxTries}`);
  const order = rows
    .filter((r) => r.t > 0 && r.t < 1 && trainedWeight(r.t) >= MIN_TRAINED_WEIGHT - 1e-12)
    .sort((x, y) => y.accuracy - x.accuracy || Math.abs(x.t - 0.5) - Math.abs(y.t - 0.5) || x.t - y.t);
  const checked: { t: number; accuracy: number; pass: boolean }[] = [];
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  for (const r of order.slice(0, maxTries)) {
    const pass = await verify(r.t);
    checked.push({ t: r.t, accuracy: r.accuracy, pass });
    if (!pass) continue;
    const failed = checked.filter((c) => !c.pass).map((c) => c.t);
    return {
      t: r.t,
      accuracy: r.accuracy,
      reference: base.reference,
      delta,
      candidates: [r.t],
      checked,
      reason:
        `t = ${r.t} has the best held-out clean accuracy (${pct(r.accuracy)}; endpoints' mean ${pct(base.reference)}) among the points ` +
        `that are at least ${MIN_TRAINED_WEIGHT} trained curve and whose reverse-engineered trigger is no longer anomalous` +
        `${failed.length ? ` (t = ${failed.join(', ')} still showed it)` : ''}`,
    };
  }
  return null;
}
