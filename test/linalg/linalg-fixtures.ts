/**
 * Test matrices for the linalg tests: a seeded Gaussian generator and matrices with known singular values
 * (W = U·diag(s)·Vᵀ, U and V orthogonal as products of Householder reflections).
 */

/** Deterministic standard normals (xorshift32 + Box–Muller). */
export function gaussian(len: number, seed = 12345): Float64Array {
  let x = seed >>> 0 || 1;
  const uni = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return (x + 0.5) / 4294967296;
  };
  const out = new Float64Array(len);
  for (let i = 0; i < len; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uni()));
    const t = 2 * Math.PI * uni();
    out[i] = r * Math.cos(t);
    if (i + 1 < len) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** n×n orthogonal matrix (row-major): product of `count` Householder reflections I − 2vvᵀ/vᵀv. */
export function orthogonal(n: number, seed: number, count = 4): Float64Array {
  const Q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Q[i * n + i] = 1;
  for (let h = 0; h < count; h++) {
    const v = gaussian(n, seed + 7919 * h);
    let vv = 0;
    for (const t of v) vv += t * t;
    // Q ← Q·H: each row q ← q − 2(q·v)/vv · v.
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += Q[r * n + c] * v[c];
      const f = (2 * s) / vv;
      for (let c = 0; c < n; c++) Q[r * n + c] -= f * v[c];
    }
  }
  return Q;
}

/** rows×cols matrix with singular values s (length ≤ min(rows, cols)): U[:, :k]·diag(s)·V[:, :k]ᵀ. */
export function withSingularValues(rows: number, cols: number, s: number[], seed = 99): Float64Array {
  const U = orthogonal(rows, seed);
  const V = orthogonal(cols, seed + 1);
  const W = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let acc = 0;
      for (let k = 0; k < s.length; k++) acc += U[r * rows + k] * s[k] * V[c * cols + k];
      W[r * cols + c] = acc;
    }
  }
  return W;
}

/** Largest |a[i] − b[i]| divided by max |b|. */
export function maxRelDiff(a: Float64Array, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}
