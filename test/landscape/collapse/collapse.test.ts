/**
 * Neural collapse (src/landscape/collapse): the NC numbers of two fixtures against shared/reference/neural_collapse.json
 * (float64 from PyTorch features), the fast C×C algebra against the d×d definition (ml-matrix SVD pseudo-inverse),
 * exact values on a perfectly collapsed simplex-ETF model, absent classes, both classifier layouts, and the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import onnxProto from 'onnx-proto';
import { collapse, collapseOnFiles } from '../../../src/landscape/collapse/run.js';
import { neuralCollapse, PINV_RTOL } from '../../../src/landscape/collapse/metrics.js';
import { makeDataset } from '../../../src/runtime/dataset.js';
import { fixture, SHARED } from '../../helpers/fixtures.js';
import { mulberry32 } from '../../helpers/random.js';

const { onnx } = onnxProto;
const ref = JSON.parse(readFileSync(`${SHARED}/reference/neural_collapse.json`, 'utf8')).cases as Record<string, Record<string, number>>;
const KEYS = ['nc1', 'nc2_etf', 'nc2_equinorm', 'nc2_equiangular', 'nc3', 'nc3_zhu'] as const;

for (const [name, model, data] of [
  ['fmnist-hessian/mlp48 on batch', ['fmnist-hessian', 'mlp48.onnx'], ['fmnist-hessian', 'batch.safetensors']],
  ['fmnist-backdoor/model_a on test_clean', ['fmnist-backdoor', 'model_a.onnx'], ['fmnist-backdoor', 'test_clean.safetensors']],
] as const) {
  test(`${name}: NC1–NC3 within 1e-6 relative of neural_collapse.json, NC4 exactly`, async () => {
    const e = ref[name];
    const r = await collapseOnFiles(fixture(...model), fixture(...data), { batchSize: 300 });
    for (const k of KEYS) {
      const v = r[k] as number;
      assert.ok(Math.abs(v - e[k]) <= 1e-6 * Math.abs(e[k]), `${k}: ${v} vs ${e[k]}`);
    }
    assert.equal(r.nc4, e.nc4_ncc_mismatch);
    assert.equal(r.num_classes, e.num_classes);
    assert.equal(r.feature_dim, e.feature_dim);
    assert.equal(r.samples, e.samples);
    assert.deepEqual(r.absent_classes, []);
    assert.equal(r.mean_cosines.length, 10);
    r.mean_cosines.forEach((row, i) => assert.ok(Math.abs(row[i] - 1) < 1e-12));
  });
}

// ---------- a one-layer head: logits = Relu(x)·B + b (MatMul layout) or Gemm(Relu(x), W, b, transB=1) ----------

function head(weight: number[], dims: [number, number], layout: 'matmul' | 'gemm', C: number, d: number): onnxProto.onnx.ModelProto {
  const vi = (name: string, shape: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: shape.map((v) => (typeof v === 'number' ? { dimValue: v } : { dimParam: v })) } } },
  });
  const nodes =
    layout === 'matmul'
      ? [
          { opType: 'Relu', input: ['x'], output: ['h'] },
          { opType: 'MatMul', input: ['h', 'B'], output: ['hb'] },
          { opType: 'Add', input: ['hb', 'bias'], output: ['logits'] },
        ]
      : [
          { opType: 'Relu', input: ['x'], output: ['h'] },
          {
            opType: 'Gemm',
            input: ['h', 'B', 'bias'],
            output: ['logits'],
            attribute: [
              { name: 'transB', type: 2, i: 1 },
              { name: 'alpha', type: 1, f: 2 },
            ],
          },
        ];
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'head',
      node: nodes,
      input: [vi('x', ['batch', d])],
      output: [vi('logits', ['batch', C])],
      initializer: [
        { name: 'B', dataType: 1, dims: dims, rawData: new Uint8Array(Float32Array.from(weight).buffer) },
        { name: 'bias', dataType: 1, dims: [C], rawData: new Uint8Array(new Float32Array(C).buffer) },
      ],
    },
  });
}

/** The definitions with d × d matrices: Σ_W, Σ_B, pinv by SVD with the relative cutoff. */
function bruteNc1(H: Float64Array, y: number[], n: number, d: number): number {
  const classes = [...new Set(y)].sort((a, b) => a - b);
  const C = classes.length;
  const muG = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) muG[j] += H[i * d + j] / n;
  const mu = new Map(
    classes.map((c) => {
      const idx = y.map((v, i) => (v === c ? i : -1)).filter((i) => i >= 0);
      const m = new Float64Array(d);
      for (const i of idx) for (let j = 0; j < d; j++) m[j] += H[i * d + j] / idx.length;
      return [c, m];
    }),
  );
  const Sw = Matrix.zeros(d, d);
  for (let i = 0; i < n; i++) {
    const m = mu.get(y[i])!;
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++) Sw.set(a, b, Sw.get(a, b) + ((H[i * d + a] - m[a]) * (H[i * d + b] - m[b])) / n);
  }
  const Sb = Matrix.zeros(d, d);
  for (const m of mu.values())
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) Sb.set(a, b, Sb.get(a, b) + ((m[a] - muG[a]) * (m[b] - muG[b])) / C);
  const svd = new SingularValueDecomposition(Sb);
  const s = svd.diagonal;
  const cut = PINV_RTOL * Math.max(...s);
  const pinv = Matrix.zeros(d, d);
  s.forEach((v, k) => {
    if (v <= cut) return;
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++)
        pinv.set(a, b, pinv.get(a, b) + (svd.rightSingularVectors.get(a, k) * svd.leftSingularVectors.get(b, k)) / v);
  });
  return Sw.mmul(pinv).trace() / C;
}

function randomProblem(seed: number, n: number, d: number, K: number, skip: number | null) {
  const r = mulberry32(seed);
  const centers = Array.from({ length: K }, () => Array.from({ length: d }, () => 3 * r()));
  const y: number[] = [];
  const H = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let c = Math.floor(r() * r() * K); // unbalanced
    if (c === skip) c = (c + 1) % K;
    y.push(c);
    for (let j = 0; j < d; j++) H[i * d + j] = centers[c][j] + 0.7 * r();
  }
  return { y, H };
}

test('the C×C route to NC1 equals tr(Σ_W Σ_B⁺)/C with d×d matrices (unbalanced, an absent class, d < C and d > C)', () => {
  for (const [seed, n, d, K] of [
    [1, 300, 12, 5],
    [2, 200, 3, 6],
    [3, 150, 20, 4],
  ] as const) {
    const { y, H } = randomProblem(seed, n, d, K, 1);
    const r = neuralCollapse({ features: H, n, d, labels: y, predictions: y, classes: K, weight: null });
    const brute = bruteNc1(H, y, n, d);
    assert.ok(Math.abs(r.nc1 - brute) <= 1e-9 * brute, `seed ${seed}: ${r.nc1} vs ${brute}`);
    assert.deepEqual(r.absent_classes, [1]);
    assert.equal(r.num_classes, K - 1);
    assert.equal(r.between_rank, Math.min(d, K - 2)); // Σ n_c (μ_c − μ_G) = 0: rank ≤ C − 1, C = K − 1 present
    assert.equal(
      r.class_counts.reduce((a, b) => a + b, 0),
      n,
    );
    assert.equal(r.nc3, null);
  }
});

test('a perfectly collapsed simplex ETF with the classifier aligned: every NC metric is 0; both head layouts agree', async () => {
  // C = 3 class means on an equilateral triangle in R^3 (centred means sum to 0, equal norms, cos = −1/2), shifted by
  // a positive offset so the head's Relu is the identity; W = the centred means (self-duality).
  const C = 3,
    d = 3,
    per = 4;
  const M = [
    [2, -1, -1],
    [-1, 2, -1],
    [-1, -1, 2],
  ];
  const x = new Float32Array(C * per * d);
  const y = new BigInt64Array(C * per);
  for (let c = 0; c < C; c++)
    for (let k = 0; k < per; k++) {
      y[c * per + k] = BigInt(c);
      for (let j = 0; j < d; j++) x[(c * per + k) * d + j] = M[c][j] + 5;
    }
  const ds = makeDataset({ type: 'float32', data: x, dims: [C * per, d] }, y);
  const gemm = await collapse({ model: head(M.flat(), [C, d], 'gemm', C, d), dataset: ds });
  const matmul = await collapse({
    model: head(
      [0, 1, 2].flatMap((j) => M.map((row) => row[j])),
      [d, C],
      'matmul',
      C,
      d,
    ),
    dataset: ds,
  });
  for (const r of [gemm, matmul]) {
    for (const k of [...KEYS, 'nc4'] as const) assert.ok(Math.abs(r[k] as number) < 1e-12, `${k} = ${r[k]}`);
    assert.equal(r.accuracy, 1);
    assert.equal(r.features, 'h');
    assert.equal(r.between_rank, 2);
    assert.ok(Math.abs(r.mean_cosines[0][1] + 0.5) < 1e-12);
  }
  assert.deepEqual(gemm.classifier, { node: 'Gemm_1', weight: 'B' });
  assert.deepEqual(matmul.classifier, { node: 'MatMul_1', weight: 'B' });
});

test('NC3 uses the classifier rows as the head applies them (MatMul [d, C] transposed; Gemm alpha), absent rows left out', async () => {
  const C = 4,
    d = 5,
    n = 120;
  const { y, H } = randomProblem(7, n, d, C, 2);
  const r = mulberry32(9);
  const W = Array.from({ length: C * d }, () => r() - 0.5); // [C, d]
  const ds = makeDataset({ type: 'float32', data: Float32Array.from(H), dims: [n, d] }, BigInt64Array.from(y, BigInt));
  const viaGemm = await collapse({ model: head(W, [C, d], 'gemm', C, d), dataset: ds });
  const Wt = Array.from({ length: d * C }, (_, k) => W[(k % C) * d + Math.floor(k / C)]);
  const viaMatMul = await collapse({ model: head(Wt, [d, C], 'matmul', C, d), dataset: ds });
  const direct = neuralCollapse({
    features: Float64Array.from(Float32Array.from(H)),
    n,
    d,
    labels: y,
    predictions: y,
    classes: C,
    weight: Float64Array.from(Float32Array.from(W)),
  });
  for (const k of ['nc3', 'nc3_zhu'] as const) {
    assert.ok(Math.abs(viaGemm[k]! - direct[k]!) < 1e-9, `${k} gemm ${viaGemm[k]} vs ${direct[k]}`);
    assert.ok(Math.abs(viaMatMul[k]! - direct[k]!) < 1e-9, `${k} matmul ${viaMatMul[k]} vs ${direct[k]}`);
  }
  assert.deepEqual(viaGemm.absent_classes, [2]);
  // --features naming another value: no classifier reads it, so no NC3; the others still come out.
  const named = await collapse({ model: head(W, [C, d], 'gemm', C, d), dataset: ds }, { features: 'x' });
  assert.equal(named.nc3, null);
  assert.equal(named.classifier, null);
  assert.ok(named.nc1 > 0);
});

test('refusals: a language model, a head wider than maxClasses, no labels, unknown features, labels outside the head', async () => {
  const lm = fixture('gpt2-tiny', 'onnx', 'model.onnx');
  await assert.rejects(collapseOnFiles(lm, fixture('gpt2-tiny', 'lm_batch.safetensors')), /labels y/);
  await assert.rejects(collapseOnFiles(lm, fixture('fmnist-hessian', 'batch.safetensors')), /language model's head is not a classifier/);
  const mlp = fixture('fmnist-hessian', 'mlp48.onnx');
  const data = fixture('fmnist-hessian', 'batch.safetensors');
  await assert.rejects(collapseOnFiles(mlp, data, { maxClasses: 5 }), /10 outputs: a vocabulary-sized/);
  await assert.rejects(collapseOnFiles(mlp, data, { features: 'nope' }), /no value named 'nope'/);
  await assert.rejects(collapseOnFiles(mlp, data, { features: 'logits' }), /is the logits/);
  await assert.rejects(collapseOnFiles(mlp, data, { samples: 5000 }), /asked for 5000 samples/);
  await assert.rejects(collapseOnFiles(mlp, data, { batchSize: 0 }), /invalid collapse options: batchSize/);
  const ds = makeDataset({ type: 'float32', data: new Float32Array(2 * 3), dims: [2, 3] }, BigInt64Array.of(0n, 7n));
  await assert.rejects(
    collapse({ model: head(Array(12).fill(0.1), [4, 3], 'gemm', 4, 3), dataset: ds }),
    /label y\[1\] = 7 is outside the model's 4 classes/,
  );
  const one = makeDataset({ type: 'float32', data: new Float32Array(2 * 3), dims: [2, 3] }, BigInt64Array.of(1n, 1n));
  await assert.rejects(collapse({ model: head(Array(12).fill(0.1), [4, 3], 'gemm', 4, 3), dataset: one }), /at least 2 classes/);
});

test('the metrics pass reports every 1024 samples, and a caller that throws there stops it (how a job is cancelled)', () => {
  const { y, H } = randomProblem(4, 3000, 8, 5, null);
  const seen: number[] = [];
  const r = neuralCollapse({
    features: H,
    n: 3000,
    d: 8,
    labels: y,
    predictions: y,
    classes: 5,
    weight: null,
    onRows: (i) => seen.push(i),
  });
  assert.deepEqual(seen, [1024, 2048]);
  assert.ok(r.nc1 > 0);
  assert.throws(
    () =>
      neuralCollapse({
        features: H,
        n: 3000,
        d: 8,
        labels: y,
        predictions: y,
        classes: 5,
        weight: null,
        onRows: () => {
          throw new Error('stop');
        },
      }),
    /stop/,
  );
});
