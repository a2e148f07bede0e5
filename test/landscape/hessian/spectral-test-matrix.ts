import { Rng } from '../../../src/util/random.js';

/** A dense symmetric matrix with a chosen spectrum: Q diag(λ) Qᵀ, Q a product of random Householder reflections. */
export function matrixWithSpectrum(lambdas: number[], seed: number): Float64Array {
  const n = lambdas.length;
  const rng = new Rng(seed);
  const H = new Float64Array(n * n);
  for (let i = 0; i < n; i++) H[i * n + i] = lambdas[i];
  for (let r = 0; r < 3; r++) {
    const u = new Float64Array(n);
    let s = 0;
    for (let i = 0; i < n; i++) {
      u[i] = rng.normal();
      s += u[i] * u[i];
    }
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < n; i++) u[i] *= inv;
    // H ← (I − 2uuᵀ) H (I − 2uuᵀ)
    const Hu = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let t = 0;
      for (let j = 0; j < n; j++) t += H[i * n + j] * u[j];
      Hu[i] = t;
    }
    let uHu = 0;
    for (let i = 0; i < n; i++) uHu += u[i] * Hu[i];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[i * n + j] += -2 * u[i] * Hu[j] - 2 * Hu[i] * u[j] + 4 * uHu * u[i] * u[j];
  }
  return H;
}
