/**
 * Eigen-decomposition of a small symmetric tridiagonal matrix (Lanczos' T): implicit QL with Wilkinson shifts,
 * accumulating the rotations so Ritz vectors and SLQ weights (first components) come out too.
 * T = tridiag(alpha[0..m-1]; beta[1..m-1]); beta[0] is ignored. The QL iteration is shared with the eigenvalues-only
 * path of the pure-TypeScript symmetric eigensolver (eigh-ts.ts).
 */
import { WeightscopeError } from '../errors.js';

export interface TridiagonalEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Column-major m×m: vectors[j*m + i] is component i of eigenvector j (paired with values[j]). */
  vectors: Float64Array;
}

export function tridiagonalEigen(alpha: ArrayLike<number>, beta: ArrayLike<number>): TridiagonalEigen {
  const m = alpha.length;
  const d = Float64Array.from(alpha);
  const e = new Float64Array(m);
  for (let i = 1; i < m; i++) e[i - 1] = beta[i];
  // z is row-major here (z[i*m + j] = component i of vector j) while QL rotates it.
  const z = new Float64Array(m * m);
  for (let i = 0; i < m; i++) z[i * m + i] = 1;
  implicitQL(d, e, z);

  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => d[a] - d[b]);
  const values = new Float64Array(m);
  const vectors = new Float64Array(m * m);
  order.forEach((src, j) => {
    values[j] = d[src];
    for (let i = 0; i < m; i++) vectors[j * m + i] = z[i * m + src];
  });
  return { values, vectors };
}

/** √(a²+b²) without overflow or underflow in the squares. */
function pythag(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  if (x > y) {
    const t = y / x;
    return x * Math.sqrt(1 + t * t);
  }
  if (y === 0) return 0;
  const t = x / y;
  return y * Math.sqrt(1 + t * t);
}

/**
 * Implicit QL with Wilkinson shifts on the symmetric tridiagonal (d, e), in place. QL convention: e[i] couples d[i]
 * and d[i+1], e[n−1] = 0. d ends holding the eigenvalues, unsorted; e is destroyed. With `z` (row-major n×n) every
 * rotation is applied to its columns, so z = I on entry gives the eigenvectors as columns (z[i*n + j] = component i
 * of the vector of d[j]); without it only the eigenvalues are computed (the O(n²) path of the big-matrix backend).
 */
export function implicitQL(d: Float64Array, e: Float64Array, z: Float64Array | null = null): void {
  const n = d.length;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * 0.5 * dd) break;
      }
      if (m === l) break;
      if (++iter > 60) throw new WeightscopeError('numerical', `tridiagonal QL did not converge at eigenvalue ${l}`);
      // Wilkinson shift from the leading 2×2 block.
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = pythag(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let k = m - 1;
      let underflow = false;
      for (; k >= l; k--) {
        const f = s * e[k];
        const b = c * e[k];
        r = pythag(f, g);
        e[k + 1] = r;
        if (r === 0) {
          // Split: deflate and restart from l.
          d[k + 1] -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[k + 1] - p;
        r = (d[k] - g) * s + 2 * c * b;
        p = s * r;
        d[k + 1] = g + p;
        g = c * r - b;
        if (z !== null) {
          for (let o = 0; o < n * n; o += n) {
            const t = z[o + k + 1];
            z[o + k + 1] = s * z[o + k] + c * t;
            z[o + k] = c * z[o + k] - s * t;
          }
        }
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}
