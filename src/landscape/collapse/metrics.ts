/**
 * Neural-collapse metrics (Papyan, Han & Donoho 2020; Zhu et al. 2021; Zhou, Zhu et al. 2022) of last-layer
 * features, in float64, with the definitions of docs/science.md (and shared/reference/neural_collapse.json):
 * C present classes, N samples, μ_c the class means, μ_G the mean over all N samples, M = [μ_c − μ_G] (C × d).
 *
 *   nc1 = tr(Σ_W Σ_B⁺)/C     Σ_W within-class covariance (1/N), Σ_B = (1/C) MᵀM, ⁺ dropping singular values
 *                            below 1e-10·σ_max
 *   nc2_etf, nc2_equinorm, nc2_equiangular, nc3, nc3_zhu, nc4 — see the fields of NeuralCollapse
 *
 * Cost O(N·d·C + C³): Σ_W (d × d) is never formed. With M = U S Vᵀ and G = MMᵀ, Σ_B⁺ = C·M⁺M⁺ᵀ and M⁺ = MᵀG⁺, so
 * tr(Σ_W Σ_B⁺)/C = tr(G⁺ A G⁺) with A = M Σ_W Mᵀ = (1/N) Σ_i z_i z_iᵀ, z_i = M(h_i − μ_{y_i}) ∈ R^C; G's
 * eigenvalues are C times Σ_B's nonzero ones, so the same relative cutoff applies to them. One pass over the
 * features computes M·h_i for every sample, which gives z_i and the nearest class mean (argmin_c ‖μ_c‖² − 2μ_c·h_i).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { WeightscopeError } from '../../errors.js';

/** Singular values of Σ_B below this share of the largest are dropped from its pseudo-inverse. */
export const PINV_RTOL = 1e-10;

export interface CollapseInput {
  /** Features [N × d], row-major (float32 from the network, or float64). */
  readonly features: Float32Array | Float64Array;
  readonly n: number;
  readonly d: number;
  /** Class of each sample, in [0, classes). */
  readonly labels: ArrayLike<number>;
  /** The network's prediction (argmax of its logits) per sample. */
  readonly predictions: ArrayLike<number>;
  /** Number of classes of the head (logits width). */
  readonly classes: number;
  /** The classifier applied to the features, [classes × d] row-major, or null when unknown. */
  readonly weight: Float64Array | null;
  /** Called with the samples done every ROWS_PER_TICK samples of the O(N·(d + C)·C) pass (a caller may throw to stop). */
  readonly onRows?: (done: number) => void;
}

/** Samples between onRows calls. */
const ROWS_PER_TICK = 1024;

export interface NeuralCollapse {
  /** Present classes (those with samples) and the ones absent from the data (left out of every metric). */
  readonly num_classes: number;
  readonly absent_classes: number[];
  readonly class_counts: number[];
  readonly samples: number;
  readonly feature_dim: number;
  /** tr(Σ_W Σ_B⁺)/C: within-class variability against between-class (0 = full collapse). */
  readonly nc1: number;
  /** ‖G/‖G‖_F − (I − 11ᵀ/C)/√(C−1)‖_F, G = MMᵀ: distance of the centred means' Gram matrix from a simplex ETF. */
  readonly nc2_etf: number;
  /** std/mean of ‖M_c‖ (population std). */
  readonly nc2_equinorm: number;
  /** mean over c ≠ c′ of |cos(M_c, M_c′) + 1/(C−1)|. */
  readonly nc2_equiangular: number;
  /** ‖W/‖W‖_F − M/‖M‖_F‖²_F (Papyan): classifier rows aligned with the centred means; null without W. */
  readonly nc3: number | null;
  /** ‖WMᵀ/‖WMᵀ‖_F − (I − 11ᵀ/C)/√(C−1)‖_F (Zhu et al.); null without W. */
  readonly nc3_zhu: number | null;
  /** Share of samples whose nearest class mean (Euclidean) differs from the network's argmax. */
  readonly nc4: number;
  /** Share of samples the network classifies as their label, and the nearest-class-mean classifier's share. */
  readonly accuracy: number;
  readonly ncc_accuracy: number;
  /** cos(M_c, M_c′) for the present classes (C × C, rows in class order), for a heat map. */
  readonly mean_cosines: number[][];
  /** Σ_B's numerical rank after the cutoff: at most C − 1, since Σ_c n_c (μ_c − μ_G) = 0. */
  readonly between_rank: number;
}

const frob = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
};

/** ‖X/‖X‖_F − (I − 11ᵀ/C)/√(C−1)‖_F for a C × C matrix X. */
function etfDistance(X: Float64Array, C: number): number {
  const nx = frob(X);
  const k = 1 / Math.sqrt(C - 1);
  let s = 0;
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) {
      const e = ((i === j ? 1 : 0) - 1 / C) * k;
      s += (X[i * C + j] / nx - e) ** 2;
    }
  }
  return Math.sqrt(s);
}

export function neuralCollapse(inp: CollapseInput): NeuralCollapse {
  const { features: H, n: N, d, labels, predictions, classes: K } = inp;
  if (H.length !== N * d) throw new WeightscopeError('shape-mismatch', `features hold ${H.length} values, not ${N} × ${d}`);
  if (labels.length !== N || predictions.length !== N)
    throw new WeightscopeError('shape-mismatch', `${N} samples but ${labels.length} labels and ${predictions.length} predictions`);
  if (inp.weight && inp.weight.length !== K * d)
    throw new WeightscopeError('shape-mismatch', `classifier has ${inp.weight.length} values, not ${K} × ${d}`);

  // Class sums in float64; present classes get dense indices.
  const counts = new Array<number>(K).fill(0);
  const sums = new Float64Array(K * d);
  const global = new Float64Array(d);
  for (let i = 0; i < N; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < K))
      throw new WeightscopeError('invalid-input', `label ${y} of sample ${i} is outside the head's ${K} classes`);
    counts[y]++;
    const o = y * d,
      r = i * d;
    for (let j = 0; j < d; j++) sums[o + j] += H[r + j];
  }
  const present = counts.map((c, k) => (c > 0 ? k : -1)).filter((k) => k >= 0);
  const absent = counts.map((c, k) => (c === 0 ? k : -1)).filter((k) => k >= 0);
  const C = present.length;
  if (C < 2) throw new WeightscopeError('invalid-input', `neural collapse needs samples of at least 2 classes; the data has ${C}`);
  const dense = new Int32Array(K).fill(-1);
  present.forEach((k, c) => (dense[k] = c));
  for (const k of present) for (let j = 0; j < d; j++) global[j] += sums[k * d + j];
  for (let j = 0; j < d; j++) global[j] /= N;
  const mu = new Float64Array(C * d);
  const M = new Float64Array(C * d);
  present.forEach((k, c) => {
    for (let j = 0; j < d; j++) {
      mu[c * d + j] = sums[k * d + j] / counts[k];
      M[c * d + j] = mu[c * d + j] - global[j];
    }
  });

  // G = MMᵀ; Mμ_c (C × C); ‖μ_c‖².
  const G = new Float64Array(C * C);
  const Mmu = new Float64Array(C * C);
  const muSq = new Float64Array(C);
  for (let a = 0; a < C; a++) {
    for (let b = 0; b < C; b++) {
      let g = 0,
        m = 0;
      for (let j = 0; j < d; j++) {
        g += M[a * d + j] * M[b * d + j];
        m += M[a * d + j] * mu[b * d + j];
      }
      G[a * C + b] = g;
      Mmu[a * C + b] = m; // row a of M against μ_b
    }
    muSq[a] = frob(mu.subarray(a * d, (a + 1) * d)) ** 2;
  }

  // One pass: q = M·h_i → z_i = q − Mμ_{y_i} (accumulate A = Σ z zᵀ), nearest class mean, accuracy.
  const A = new Float64Array(C * C);
  const q = new Float64Array(C);
  const z = new Float64Array(C);
  let mismatch = 0,
    correct = 0,
    nccCorrect = 0;
  for (let i = 0; i < N; i++) {
    if (i % ROWS_PER_TICK === 0 && i > 0) inp.onRows?.(i);
    rowTimesRows(H, i * d, M, C, d, q);
    // h·μ_c = q_c + h·μ_G; argmin_c ‖h − μ_c‖² = argmin_c ‖μ_c‖² − 2 q_c (h·μ_G is common to all c).
    let best = 0,
      bestV = Infinity;
    for (let c = 0; c < C; c++) {
      const v = muSq[c] - 2 * q[c];
      if (v < bestV) {
        bestV = v;
        best = c;
      }
    }
    const y = dense[labels[i]];
    for (let a = 0; a < C; a++) z[a] = q[a] - Mmu[a * C + y];
    for (let a = 0; a < C; a++) for (let b = a; b < C; b++) A[a * C + b] += z[a] * z[b];
    const ncc = present[best];
    if (ncc !== predictions[i]) mismatch++;
    if (predictions[i] === labels[i]) correct++;
    if (ncc === labels[i]) nccCorrect++;
  }
  for (let a = 0; a < C; a++) {
    for (let b = a; b < C; b++) {
      A[a * C + b] /= N;
      A[b * C + a] = A[a * C + b];
    }
  }

  // NC1 = tr(G⁺ A G⁺) with G⁺ over eigenvalues ≥ PINV_RTOL·max (ml-matrix's symmetric eigendecomposition).
  const eig = new EigenvalueDecomposition(new Matrix(rows(G, C)), { assumeSymmetric: true });
  const vals = eig.realEigenvalues;
  const V = eig.eigenvectorMatrix;
  const top = Math.max(...vals.map(Math.abs));
  const Gp = new Float64Array(C * C);
  let rank = 0;
  vals.forEach((g, k) => {
    if (!(g > PINV_RTOL * top)) return;
    rank++;
    for (let a = 0; a < C; a++) for (let b = 0; b < C; b++) Gp[a * C + b] += (V.get(a, k) * V.get(b, k)) / g;
  });
  const GpA = matmul(Gp, A, C);
  const GpAGp = matmul(GpA, Gp, C);
  let nc1 = 0;
  for (let a = 0; a < C; a++) nc1 += GpAGp[a * C + a];

  // NC2 from G.
  const norms = Array.from({ length: C }, (_, c) => Math.sqrt(G[c * C + c]));
  const meanNorm = norms.reduce((s, v) => s + v, 0) / C;
  const stdNorm = Math.sqrt(norms.reduce((s, v) => s + (v - meanNorm) ** 2, 0) / C);
  const cos: number[][] = [];
  let angular = 0;
  for (let a = 0; a < C; a++) {
    cos.push([]);
    for (let b = 0; b < C; b++) {
      const v = G[a * C + b] / (norms[a] * norms[b]);
      cos[a].push(v);
      if (a !== b) angular += Math.abs(v + 1 / (C - 1));
    }
  }

  // NC3 against the classifier rows of the present classes.
  let nc3: number | null = null;
  let nc3Zhu: number | null = null;
  if (inp.weight) {
    const W = new Float64Array(C * d);
    present.forEach((k, c) => W.set(inp.weight!.subarray(k * d, (k + 1) * d), c * d));
    const nw = frob(W),
      nm = frob(M);
    let s = 0;
    for (let i = 0; i < W.length; i++) s += (W[i] / nw - M[i] / nm) ** 2;
    nc3 = s;
    const WM = new Float64Array(C * C);
    for (let a = 0; a < C; a++) {
      for (let b = 0; b < C; b++) {
        let v = 0;
        for (let j = 0; j < d; j++) v += W[a * d + j] * M[b * d + j];
        WM[a * C + b] = v;
      }
    }
    nc3Zhu = etfDistance(WM, C);
  }

  return {
    num_classes: C,
    absent_classes: absent,
    class_counts: present.map((k) => counts[k]),
    samples: N,
    feature_dim: d,
    nc1,
    nc2_etf: etfDistance(G, C),
    nc2_equinorm: stdNorm / meanNorm,
    nc2_equiangular: angular / (C * (C - 1)),
    nc3,
    nc3_zhu: nc3Zhu,
    nc4: mismatch / N,
    accuracy: correct / N,
    ncc_accuracy: nccCorrect / N,
    mean_cosines: cos,
    between_rank: rank,
  };
}

/**
 * q[a] = M_a · h for the row h = H[r .. r+d) and the C rows of M: four rows per pass over h, so each feature is
 * loaded once per four classes (the one O(N·d·C) product of the metrics).
 */
function rowTimesRows(H: Float32Array | Float64Array, r: number, M: Float64Array, C: number, d: number, q: Float64Array): void {
  let a = 0;
  for (; a + 4 <= C; a += 4) {
    const o0 = a * d,
      o1 = o0 + d,
      o2 = o1 + d,
      o3 = o2 + d;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    for (let j = 0; j < d; j++) {
      const h = H[r + j];
      s0 += M[o0 + j] * h;
      s1 += M[o1 + j] * h;
      s2 += M[o2 + j] * h;
      s3 += M[o3 + j] * h;
    }
    q[a] = s0;
    q[a + 1] = s1;
    q[a + 2] = s2;
    q[a + 3] = s3;
  }
  for (; a < C; a++) {
    const o = a * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += M[o + j] * H[r + j];
    q[a] = s;
  }
}

function rows(X: Float64Array, C: number): number[][] {
  return Array.from({ length: C }, (_, a) => Array.from(X.subarray(a * C, (a + 1) * C)));
}

/** X·Y for C × C row-major matrices (C is the class count: small). */
function matmul(X: Float64Array, Y: Float64Array, C: number): Float64Array {
  return Float64Array.from(new Matrix(rows(X, C)).mmul(new Matrix(rows(Y, C))).to1DArray());
}
