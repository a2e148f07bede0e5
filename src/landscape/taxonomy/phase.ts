/**
 * The phase of a set of models in Yang et al.'s taxonomy (NeurIPS 2021; docs/science.md): global structure from
 * mode connectivity mc (< 0: a barrier on the trained curve), local structure from the Hessian (sharp / flat), and
 * for well-connected flat sets the similarity of the trained models (CKA of their softmax outputs):
 *
 *   I     poorly connected, sharp          III   poorly connected, flat
 *   II    well connected, sharp            IV-A  well connected, flat, dissimilar models
 *                                          IV-B  well connected, flat, similar models (the best test accuracy)
 *
 * The released code draws the boundaries by eye over heat maps; these thresholds are ours, named, configurable,
 * and the verdict always comes with the numbers it was read from.
 */
import { z } from 'zod';

export const PhaseThresholdsSchema = z
  .object({
    /** Poorly connected when the mean mc over the pairs is below −mcBarrier (percentage points of training error). */
    mcBarrier: z.number().min(0).max(100).default(2),
    /** Sharp when the mean top Hessian eigenvalue is above this. */
    sharpLambda: z.number().positive().default(1),
    /** Similar models (IV-B) when the mean CKA of their softmax outputs is at least this. */
    ckaSimilar: z.number().min(0).max(1).default(0.8),
  })
  .strict();
export type PhaseThresholds = z.output<typeof PhaseThresholdsSchema>;

export type Phase = 'I' | 'II' | 'III' | 'IV-A' | 'IV-B';

export interface PhaseEvidence {
  /** Mean over pairs of mc on training error (percentage points). */
  readonly mc: number;
  /** Mean over models of the top Hessian eigenvalue. */
  readonly lambdaMax: number;
  /** Mean over pairs of the CKA of the softmax outputs. */
  readonly cka: number;
}

export interface PhaseVerdict {
  readonly phase: Phase;
  readonly global: 'poorly-connected' | 'well-connected';
  readonly local: 'sharp' | 'flat';
  /** Only read for well-connected flat sets. */
  readonly similarity: 'similar' | 'dissimilar' | null;
  /** mc > mcBarrier: the trained curve is better than its endpoints (a low-energy path; phase II's signature). */
  readonly lowEnergyPath: boolean;
  /** One sentence per reading, with the numbers and thresholds. */
  readonly reasons: readonly string[];
}

const f = (x: number): string => (Math.abs(x) >= 100 || (Math.abs(x) < 0.01 && x !== 0) ? x.toExponential(2) : x.toFixed(3));

export function classifyPhase(e: PhaseEvidence, t: PhaseThresholds): PhaseVerdict {
  const connected = e.mc >= -t.mcBarrier;
  const sharp = e.lambdaMax > t.sharpLambda;
  const reasons = [
    connected
      ? `well connected: mean mc ${f(e.mc)} ≥ ${-t.mcBarrier} (no barrier on the trained curves)`
      : `poorly connected: mean mc ${f(e.mc)} < ${-t.mcBarrier} (the trained curves cross a barrier)`,
    sharp ? `sharp: mean λ_max ${f(e.lambdaMax)} > ${t.sharpLambda}` : `flat: mean λ_max ${f(e.lambdaMax)} ≤ ${t.sharpLambda}`,
  ];
  let similarity: PhaseVerdict['similarity'] = null;
  let phase: Phase;
  if (!connected) phase = sharp ? 'I' : 'III';
  else if (sharp) phase = 'II';
  else {
    similarity = e.cka >= t.ckaSimilar ? 'similar' : 'dissimilar';
    reasons.push(
      similarity === 'similar'
        ? `similar models: mean CKA ${f(e.cka)} ≥ ${t.ckaSimilar}`
        : `dissimilar models: mean CKA ${f(e.cka)} < ${t.ckaSimilar}`,
    );
    phase = similarity === 'similar' ? 'IV-B' : 'IV-A';
  }
  const lowEnergyPath = e.mc > t.mcBarrier;
  if (lowEnergyPath) reasons.push(`low-energy path: mean mc ${f(e.mc)} > ${t.mcBarrier} (the curve beats its endpoints)`);
  return {
    phase,
    global: connected ? 'well-connected' : 'poorly-connected',
    local: sharp ? 'sharp' : 'flat',
    similarity,
    lowEnergyPath,
    reasons,
  };
}
