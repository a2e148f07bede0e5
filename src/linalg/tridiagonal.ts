/**
 * Eigen-decomposition of a small symmetric tridiagonal matrix (Lanczos' T): implicit QL with Wilkinson shifts,
 * accumulating the rotations so Ritz vectors and SLQ weights (first components) come out too.
 * T = tridiag(alpha[0..m-1]; beta[1..m-1]); beta[0] is ignored.
 */
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
  // z is row-major here (z[i*m + j] = component i of vector j) while we rotate rows.
  const z = new Float64Array(m * m);
  for (let i = 0; i < m; i++) z[i * m + i] = 1;

  for (let l = 0; l < m; l++) {
    let iter = 0;
    for (;;) {
      let k = l;
      for (; k < m - 1; k++) {
        const dd = Math.abs(d[k]) + Math.abs(d[k + 1]);
        if (Math.abs(e[k]) <= Number.EPSILON * dd) break;
      }
      if (k === l) break;
      if (++iter > 60 * m) throw new Error('tridiagonalEigen: QL did not converge');
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[k] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = k - 1;
      for (; i >= l; i--) {
        let f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] -= p;
          e[k] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        for (let row = 0; row < m; row++) {
          const o = row * m;
          f = z[o + i + 1];
          z[o + i + 1] = s * z[o + i] + c * f;
          z[o + i] = c * z[o + i] - s * f;
        }
      }
      if (r === 0 && i >= l) continue;
      d[l] -= p;
      e[l] = g;
      e[k] = 0;
    }
  }

  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => d[a] - d[b]);
  const values = new Float64Array(m);
  const vectors = new Float64Array(m * m);
  order.forEach((src, j) => {
    values[j] = d[src];
    for (let i = 0; i < m; i++) vectors[j * m + i] = z[i * m + src];
  });
  return { values, vectors };
}
