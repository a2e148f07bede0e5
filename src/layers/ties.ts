/**
 * Constant-folded tied copies in ONNX exports: PyTorch folds `lm_head.weight = wte.weight` into a transposed
 * initializer (gpt2-tiny's `onnx::MatMul_572` = wteᵀ). It has the same singular values as the original, so it is
 * reported once. Only exact value equality counts.
 */
import type { LayerPlan } from './types.js';

/** Candidates an extra may copy: named layers of the same shape or the transposed shape. */
export function tieCandidates(extra: LayerPlan, layers: readonly LayerPlan[]): LayerPlan[] {
  const s = extra.shape;
  return layers.filter((l) => {
    if (l.extra || l.shape.length !== s.length) return false;
    if (l.shape.every((d, i) => d === s[i])) return true;
    return s.length === 2 && l.shape[0] === s[1] && l.shape[1] === s[0];
  });
}

/** Whether `a` (shape sa) equals `b` (shape sb) exactly, or, for 2-D, equals bᵀ. */
export function isExactCopy(a: Float64Array, sa: readonly number[], b: Float64Array, sb: readonly number[]): boolean {
  if (a.length !== b.length || sa.length !== sb.length) return false;
  if (sa.every((d, i) => d === sb[i])) {
    let same = true;
    for (let i = 0; i < a.length && same; i++) same = Object.is(a[i], b[i]) || a[i] === b[i];
    if (same) return true;
  }
  if (sa.length !== 2 || sa[0] !== sb[1] || sa[1] !== sb[0]) return false;
  const [r, c] = sa;
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) if (a[i * c + j] !== b[j * r + i]) return false;
  }
  return true;
}
