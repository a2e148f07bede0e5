/**
 * Linear CKA (Kornblith et al. 2019) between two representations of the same n inputs, X [n×p] and Y [n×q]
 * (row-major), in the feature-space form ‖YcᵀXc‖²_F / (‖XcᵀXc‖_F ‖YcᵀYc‖_F) with column-centred Xc, Yc — equal
 * to the biased-HSIC form on centred Gram matrices that Yang et al. (2021) use, at O(n·p·q) instead of O(n²).
 */
export function linearCka(X: Float64Array, Y: Float64Array, n: number, p: number, q: number): number {
  const Xc = centerColumns(X, n, p);
  const Yc = centerColumns(Y, n, q);
  const xy = frobeniusSq(crossProduct(Yc, Xc, n, q, p));
  const xx = Math.sqrt(frobeniusSq(crossProduct(Xc, Xc, n, p, p)));
  const yy = Math.sqrt(frobeniusSq(crossProduct(Yc, Yc, n, q, q)));
  return xy / (xx * yy);
}

function centerColumns(A: Float64Array, n: number, d: number): Float64Array {
  const out = Float64Array.from(A);
  for (let j = 0; j < d; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += A[i * d + j];
    m /= n;
    for (let i = 0; i < n; i++) out[i * d + j] -= m;
  }
  return out;
}

/** AᵀB for A [n×a], B [n×b] → [a×b]. */
function crossProduct(A: Float64Array, B: Float64Array, n: number, a: number, b: number): Float64Array {
  const out = new Float64Array(a * b);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < a; r++) {
      const ar = A[i * a + r];
      if (ar === 0) continue;
      const o = r * b;
      for (let c = 0; c < b; c++) out[o + c] += ar * B[i * b + c];
    }
  }
  return out;
}

function frobeniusSq(A: Float64Array): number {
  let s = 0;
  for (let i = 0; i < A.length; i++) s += A[i] * A[i];
  return s;
}

/** ‖θ_a − θ_b‖₂ over matching parameter vectors. */
export function l2Distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`parameter vectors differ in length: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}
