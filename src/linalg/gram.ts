/**
 * The smaller Gram matrix of a real matrix W (rows×cols, row-major): G = WᵀW when cols ≤ rows, else WWᵀ,
 * so n = min(rows, cols). Its eigenvalues are the squared singular values of W.
 * Two paths with one result (up to summation order): BLAS `dsyrk_` through koffi, or a blocked pure-TS product.
 */
import { WeightscopeError } from '../errors.js';
import { nativeLinalg } from './native.js';

export type GramBackend = 'auto' | 'blas' | 'ts';

export interface GramResult {
  /** n×n, full symmetric storage (both triangles filled). */
  G: Float64Array;
  n: number;
}

export function checkMatrix(W: Float64Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new WeightscopeError('shape-mismatch', `matrix shape must be positive integers, got ${rows}×${cols}`);
  }
  if (W.length !== rows * cols) {
    throw new WeightscopeError('shape-mismatch', `matrix ${rows}×${cols} needs ${rows * cols} values, got ${W.length}`);
  }
}

export function gram(W: Float64Array, rows: number, cols: number, opts: { backend?: GramBackend } = {}): GramResult {
  checkMatrix(W, rows, cols);
  const acc = new GramAccumulator(rows, cols, opts.backend ?? 'auto');
  acc.add(W, Math.max(cols, rows));
  return acc.finish();
}

/** Copy the lower triangle (row-major) onto the upper one. */
function mirrorLower(G: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = i + 1; j < n; j++) G[ri + j] = G[j * n + i];
  }
}

/**
 * The smaller Gram matrix of a rows×cols W built from panels, so that W never has to be whole in float64 (a
 * BF16 tensor is widened one panel at a time). The sum is accumulated in float64 whatever the stored dtype: a
 * float32 Gram would lose the eigenvalues below ~1e-7·λmax (its unit roundoff times ‖W‖²), and the power-law xmin
 * can land there. Panels: for a tall W (cols ≤ rows, G = WᵀW) consecutive rows, b×cols row-major; for a wide W
 * (G = WWᵀ) consecutive columns, rows×b row-major.
 */
export class GramAccumulator {
  readonly n: number;
  readonly wide: boolean;
  readonly G: Float64Array;
  readonly blas: boolean;
  /** Multiply-adds so far (n(n+1)/2 per panel row): the flop count is twice that. */
  madds = 0;
  readonly #cols: number;

  constructor(rows: number, cols: number, backend: GramBackend = 'auto') {
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
      throw new WeightscopeError('shape-mismatch', `matrix shape must be positive integers, got ${rows}×${cols}`);
    }
    const lib = backend === 'ts' ? null : nativeLinalg();
    if (backend === 'blas' && !lib?.dsyrk) {
      throw new WeightscopeError('device-unavailable', 'BLAS dsyrk_ is not available (see lapackStatus())');
    }
    this.blas = !!lib?.dsyrk;
    this.wide = cols > rows;
    this.n = this.wide ? rows : cols;
    this.#cols = cols;
    this.G = new Float64Array(this.n * this.n);
  }

  /** Adds one panel of b rows (tall W) or b columns (wide W). */
  add(panel: Float64Array, b: number): void {
    const n = this.n;
    if (!Number.isInteger(b) || b < 0 || panel.length < n * b) {
      throw new WeightscopeError(
        'shape-mismatch',
        `Gram panel of ${b} ${this.wide ? 'columns' : 'rows'} needs ${n * b} values, got ${panel.length}`,
      );
    }
    if (b === 0) return;
    this.madds += ((n * (n + 1)) / 2) * b;
    if (this.blas) {
      // Fortran sees the row-major panel transposed. Tall: panel = Pᵀ (cols×b, lda = cols), G += Pᵀ(Pᵀ)ᵀ → 'N'.
      // Wide: panel = Pᵀ (b×rows, lda = b), G += (Pᵀ)ᵀPᵀ → 'T'. Column-major upper = row-major lower.
      const lib = nativeLinalg()!;
      lib.dsyrk!(
        'U',
        this.wide ? 'T' : 'N',
        Int32Array.of(n),
        Int32Array.of(b),
        Float64Array.of(1),
        panel,
        Int32Array.of(this.wide ? b : this.#cols),
        Float64Array.of(1),
        this.G,
        Int32Array.of(n),
        1,
        1,
      );
      return;
    }
    // TS: G += A·Aᵀ with A (n×b) holding the vectors whose dot products we need as contiguous rows.
    accumulateTs(this.wide ? panel : transpose(panel.subarray(0, b * n), b, n), n, b, this.G);
  }

  /** G with both triangles filled. */
  finish(): GramResult {
    mirrorLower(this.G, this.n);
    return { G: this.G, n: this.n };
  }
}

/** Row-major transpose (rows×cols → cols×rows), blocked for the cache. */
export function transpose(W: Float64Array, rows: number, cols: number): Float64Array {
  const T = new Float64Array(rows * cols);
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const o = r * cols;
        for (let c = c0; c < c1; c++) T[c * rows + r] = W[o + c];
      }
    }
  }
  return T;
}

export function gramTs(W: Float64Array, rows: number, cols: number): GramResult {
  checkMatrix(W, rows, cols);
  const acc = new GramAccumulator(rows, cols, 'ts');
  acc.add(W, Math.max(cols, rows));
  return acc.finish();
}

/**
 * Lower triangle of G (M×M) += A·Aᵀ for A (M×K, row-major). K is cut into panels and the triangle into 64×64
 * blocks so that two 64-row panels (2×128 KiB) stay in L2; inside, 4×4 register tiles (16 accumulators, 8 loads
 * per 16 multiply-adds).
 */
function accumulateTs(A: Float64Array, M: number, K: number, G: Float64Array): void {
  const KC = 256;
  const BB = 64;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const k1 = Math.min(K, k0 + KC);
    for (let ib = 0; ib < M; ib += BB) {
      const ie = Math.min(M, ib + BB);
      for (let jb = 0; jb <= ib; jb += BB) {
        const je = Math.min(M, jb + BB);
        for (let i = ib; i < ie; i += 4) {
          for (let j = jb; j < je && j <= i; j += 4) {
            if (i + 4 <= ie && j + 4 <= je) tile4x4(A, K, G, M, i, j, k0, k1);
            else tileEdge(A, K, G, M, i, Math.min(i + 4, ie), j, Math.min(j + 4, je), k0, k1);
          }
        }
      }
    }
  }
}

function tile4x4(A: Float64Array, K: number, G: Float64Array, M: number, i: number, j: number, k0: number, k1: number): void {
  const a0 = i * K,
    a1 = a0 + K,
    a2 = a1 + K,
    a3 = a2 + K;
  const b0 = j * K,
    b1 = b0 + K,
    b2 = b1 + K,
    b3 = b2 + K;
  let s00 = 0,
    s01 = 0,
    s02 = 0,
    s03 = 0,
    s10 = 0,
    s11 = 0,
    s12 = 0,
    s13 = 0;
  let s20 = 0,
    s21 = 0,
    s22 = 0,
    s23 = 0,
    s30 = 0,
    s31 = 0,
    s32 = 0,
    s33 = 0;
  for (let k = k0; k < k1; k++) {
    const x0 = A[a0 + k],
      x1 = A[a1 + k],
      x2 = A[a2 + k],
      x3 = A[a3 + k];
    const y0 = A[b0 + k],
      y1 = A[b1 + k],
      y2 = A[b2 + k],
      y3 = A[b3 + k];
    s00 += x0 * y0;
    s01 += x0 * y1;
    s02 += x0 * y2;
    s03 += x0 * y3;
    s10 += x1 * y0;
    s11 += x1 * y1;
    s12 += x1 * y2;
    s13 += x1 * y3;
    s20 += x2 * y0;
    s21 += x2 * y1;
    s22 += x2 * y2;
    s23 += x2 * y3;
    s30 += x3 * y0;
    s31 += x3 * y1;
    s32 += x3 * y2;
    s33 += x3 * y3;
  }
  // Upper entries of diagonal tiles are written too; mirrorLower overwrites them.
  let g = i * M + j;
  G[g] += s00;
  G[g + 1] += s01;
  G[g + 2] += s02;
  G[g + 3] += s03;
  g += M;
  G[g] += s10;
  G[g + 1] += s11;
  G[g + 2] += s12;
  G[g + 3] += s13;
  g += M;
  G[g] += s20;
  G[g + 1] += s21;
  G[g + 2] += s22;
  G[g + 3] += s23;
  g += M;
  G[g] += s30;
  G[g + 1] += s31;
  G[g + 2] += s32;
  G[g + 3] += s33;
}

function tileEdge(
  A: Float64Array,
  K: number,
  G: Float64Array,
  M: number,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  k0: number,
  k1: number,
): void {
  for (let i = i0; i < i1; i++) {
    for (let j = j0; j < j1 && j <= i; j++) {
      let s = 0;
      const a = i * K,
        b = j * K;
      for (let k = k0; k < k1; k++) s += A[a + k] * A[b + k];
      G[i * M + j] += s;
    }
  }
}
