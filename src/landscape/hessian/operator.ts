/**
 * The Hessian as a linear operator: the algorithms here only need v ↦ Hv on a flat float64 vector of all
 * parameters (or of the input, for the input Hessian). Where Hv comes from (one batch, many batches, a GPU) is
 * the caller's business.
 */
export interface HvOperator {
  readonly dim: number;
  apply(v: Float64Array): Promise<Float64Array>;
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: Float64Array): number {
  return Math.sqrt(dot(a, a));
}

/** PyHessian's normalisation: v / (‖v‖ + 1e-6). The epsilon is kept so iteration counts match theirs. */
export function normalizePyHessian(v: Float64Array): Float64Array {
  const s = 1 / (norm(v) + 1e-6);
  for (let i = 0; i < v.length; i++) v[i] *= s;
  return v;
}

/** a ← a − c·b */
export function axpyInPlace(a: Float64Array, c: number, b: Float64Array): void {
  for (let i = 0; i < a.length; i++) a[i] -= c * b[i];
}

/** One Gram–Schmidt pass of w against each basis vector (assumed orthonormal), in place. */
export function orthogonalizeInPlace(w: Float64Array, basis: readonly Float64Array[]): void {
  for (const u of basis) axpyInPlace(w, dot(w, u), u);
}

/** An explicit symmetric matrix as an operator (tests and small problems). */
export function denseOperator(H: Float64Array, n: number): HvOperator {
  return {
    dim: n,
    async apply(v) {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        const o = i * n;
        for (let j = 0; j < n; j++) s += H[o + j] * v[j];
        out[i] = s;
      }
      return out;
    },
  };
}
