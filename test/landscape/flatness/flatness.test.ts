/**
 * Local entropy (src/landscape/flatness): mlp48 against shared/reference/local_entropy.json (K = 4000 in PyTorch),
 * the whole pipeline against the closed form of a model whose loss is exactly quadratic (a linear model under MSE:
 * F = −L − ½ log det(I + H/γ) + ½ gᵀ(γI + H)⁻¹g), the batched copies against one-by-one engine passes (MLP with a
 * split first layer, CNN with a split Conv, padding draws), the estimator, and the option checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { parseCriterion } from '../../../src/graph/criteria.js';
import { buildLossGraph } from '../../../src/graph/index.js';
import { readOnnxModel } from '../../../src/io/onnx-model.js';
import { flatness, flatnessOnFiles, flatnessParams, parseFlatnessOptions, perturbedLosses } from '../../../src/landscape/flatness/run.js';
import { localEntropyEstimate } from '../../../src/landscape/flatness/estimate.js';
import { copyable, perturbedLossGraph } from '../../../src/landscape/flatness/perturbed.js';
import { hessianBatches } from '../../../src/landscape/hessian/run.js';
import { loadDataset, makeDataset } from '../../../src/runtime/dataset.js';
import { createEngine } from '../../../src/runtime/engine.js';
import { fixture, SHARED } from '../../helpers/fixtures.js';
import { mulberry32 } from '../../helpers/random.js';
import { softmaxRegression } from '../hessian/softmax-model.js';

const ref = JSON.parse(readFileSync(`${SHARED}/reference/local_entropy.json`, 'utf8')) as {
  rows: { gamma: number; local_entropy: number; stderr: number; loss: number; second_order: number }[];
};

test('mlp48, K = 1000: within 4 combined standard errors of the reference at every γ; at γ = 1e5 within 3 of the second-order value', async () => {
  const r = await flatnessOnFiles(fixture('fmnist-hessian', 'mlp48.onnx'), fixture('fmnist-hessian', 'batch.safetensors'), {
    draws: 1000,
    seed: 7,
    traceMinIter: 100,
    traceMaxIter: 100,
  });
  assert.equal(r.num_params, 38170);
  assert.equal(r.samples, 1000);
  assert.deepEqual(r.split_layers, ['layers.0.weight']);
  assert.ok(Math.abs(r.loss - ref.rows[0].loss) < 1e-6, `loss ${r.loss}`);
  for (const [i, row] of r.rows.entries()) {
    const e = ref.rows[i];
    assert.equal(row.gamma, e.gamma);
    const z = (row.local_entropy - e.local_entropy) / Math.hypot(row.stderr, e.stderr);
    assert.ok(
      Math.abs(z) < 4,
      `γ = ${row.gamma}: ${row.local_entropy} ± ${row.stderr} vs ${e.local_entropy} ± ${e.stderr} (z = ${z.toFixed(2)})`,
    );
    // K = 1000 against the reference's 4000: the standard error scales as 1/√K.
    assert.ok(row.stderr > 1.4 * e.stderr && row.stderr < 2.8 * e.stderr, `stderr ${row.stderr} vs ${e.stderr}`);
    assert.ok(row.mean_perturbed_loss >= -row.local_entropy - 1e-12, 'Jensen: mean loss ≥ −F');
  }
  const last = r.rows[2];
  const z = (last.local_entropy - last.second_order!) / last.stderr;
  assert.ok(Math.abs(z) < 3, `γ = 1e5: ${last.local_entropy} vs second order ${last.second_order} (z = ${z.toFixed(2)})`);
  // The trace is Hutchinson's over 100 probes: the exact one (reference.json, 51.589) within 3 of its standard errors.
  assert.ok(Math.abs(r.trace.value! - 51.5887525) < 3 * r.trace.stderr!, `trace ${r.trace.value} ± ${r.trace.stderr}`);
  assert.equal(r.trace.probes, 100);
});

// ---------- an exactly quadratic loss: z = Wx + b under MSE ----------

test('linear model under MSE (loss exactly quadratic): the estimate equals the Gaussian closed form at γ = 2, 20, 200', async () => {
  const C = 3,
    D = 4,
    N = 64;
  const r = mulberry32(3);
  const u = () => 2 * r() - 1;
  const W = Float32Array.from({ length: C * D }, () => 0.8 * u());
  const b = Float32Array.from({ length: C }, () => 0.3 * u());
  const x = Float32Array.from({ length: N * D }, u);
  const y = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % C));
  const model = softmaxRegression(W, b, C, D);
  const dataset = makeDataset({ type: 'float32', data: x, dims: [N, D] }, y);
  const criterion = parseCriterion('mse');
  const engine = await createEngine(model, { loss: 'classification', criterion });
  const gammas = [2, 20, 200];
  const res = await flatness({ engine, model, dataset }, { gamma: gammas, draws: 3000, seed: 1, criterion: 'mse', trace: 'exact' });

  // Closed form: S = X̃ᵀX̃/N (x̃ = [x, 1]); H = 2S per class block; g_c = (2/N) Σ r_ic x̃_i.
  const A = D + 1;
  const S = Matrix.zeros(A, A);
  const g = Array.from({ length: C }, () => new Float64Array(A));
  let L = 0;
  for (let i = 0; i < N; i++) {
    const xt = [...Array.from(x.subarray(i * D, (i + 1) * D)), 1];
    for (let a = 0; a < A; a++) for (let c = 0; c < A; c++) S.set(a, c, S.get(a, c) + (xt[a] * xt[c]) / N);
    for (let c = 0; c < C; c++) {
      let z = b[c];
      for (let j = 0; j < D; j++) z += W[c * D + j] * xt[j];
      const res_ = z - (Number(y[i]) === c ? 1 : 0);
      L += (res_ * res_) / N;
      for (let a = 0; a < A; a++) g[c][a] += (2 * res_ * xt[a]) / N;
    }
  }
  const eig = new EigenvalueDecomposition(S, { assumeSymmetric: true });
  const lam = eig.realEigenvalues;
  const U = eig.eigenvectorMatrix;
  assert.ok(Math.abs(res.loss - L) < 1e-5 * L);
  assert.ok(Math.abs(res.trace.value! - C * 2 * S.trace()) < 1e-4 * C * 2 * S.trace(), `exact trace ${res.trace.value}`);
  for (const [k, gamma] of gammas.entries()) {
    let F = -L;
    for (let j = 0; j < A; j++) {
      F -= (C / 2) * Math.log(1 + (2 * lam[j]) / gamma);
      for (let c = 0; c < C; c++) {
        let p = 0;
        for (let a = 0; a < A; a++) p += U.get(a, j) * g[c][a];
        F += (0.5 * p * p) / (gamma + 2 * lam[j]);
      }
    }
    const row = res.rows[k];
    const z = (row.local_entropy - F) / row.stderr;
    assert.ok(Math.abs(z) < 4, `γ = ${gamma}: ${row.local_entropy} ± ${row.stderr} vs closed form ${F} (z = ${z.toFixed(2)})`);
    // The second-order value is −L − tr(H)/(2γ), exactly (exact trace).
    assert.ok(Math.abs(row.second_order! - (-L - (C * S.trace()) / gamma)) < 1e-5);
  }
  // At γ = 2 the quadratic picture is off by far more than the noise: the closed form and the estimate agree, not it.
  const low = res.rows[0];
  assert.ok(Math.abs(low.local_entropy - low.second_order!) > 20 * low.stderr, `γ = 2: ${low.local_entropy} vs ${low.second_order}`);
  await engine.dispose();
});

test('batched copies equal one-by-one engine passes (MLP: split Gemm; CNN: split Conv; draws not a multiple of the run size)', async () => {
  for (const [name, modelPath, dataPath, samples] of [
    ['mlp48', fixture('fmnist-hessian', 'mlp48.onnx'), fixture('fmnist-hessian', 'batch.safetensors'), 300],
    ['cnn', fixture('fmnist-backdoor', 'model_a.onnx'), fixture('fmnist-backdoor', 'clean_subset.safetensors'), 64],
  ] as const) {
    const model = await readOnnxModel(modelPath);
    const dataset = await loadDataset(dataPath);
    const params = flatnessParams(model, buildLossGraph(model, { loss: 'classification' }));
    const engine = await createEngine(modelPath, { loss: 'classification', params });
    const o = parseFlatnessOptions({ gamma: [1e2, 1e4], draws: 7, drawsPerRun: 3, samples, batchSize: Math.ceil(samples / 2), seed: 5 });
    const batches = hessianBatches(dataset, o);
    const batched = await perturbedLosses({ engine, model, dataset }, o, batches);
    const single = await perturbedLosses({ engine, model, dataset }, o, batches, { oneByOne: true });
    assert.equal(batched.drawsPerRun, 3);
    assert.equal(batched.split.length, 1, `${name}: split ${batched.split}`);
    assert.equal(single.drawsPerRun, 1);
    for (let i = 0; i < batched.losses.length; i++) {
      assert.ok(
        Math.abs(batched.losses[i] - single.losses[i]) < 2e-5 * Math.abs(single.losses[i]),
        `${name} [${i}]: ${batched.losses[i]} vs ${single.losses[i]}`,
      );
    }
    // The noise depends on the seed only: another run size gives the same losses.
    const other = await perturbedLosses({ engine, model, dataset }, { ...o, drawsPerRun: 5 }, batches);
    for (let i = 0; i < other.losses.length; i++)
      assert.ok(Math.abs(other.losses[i] - batched.losses[i]) < 2e-5 * Math.abs(batched.losses[i]));
    // Small γ perturbs more: the mean perturbed loss rises.
    const mean = (g: number) => Array.from({ length: 7 }, (_, k) => batched.losses[k * 2 + g]).reduce((a, v) => a + v, 0);
    assert.ok(mean(0) > mean(1), name);
    await engine.dispose();
  }
});

test('estimator: log-mean-exp and its delta-method standard error; NaN and all-infinite losses are refused', () => {
  const e = localEntropyEstimate([1, 2, 3]);
  const m = (Math.exp(-1) + Math.exp(-2) + Math.exp(-3)) / 3;
  assert.ok(Math.abs(e.local_entropy - Math.log(m)) < 1e-15);
  const sd = Math.sqrt(((Math.exp(-1) - m) ** 2 + (Math.exp(-2) - m) ** 2 + (Math.exp(-3) - m) ** 2) / 2);
  assert.ok(Math.abs(e.stderr - sd / (Math.sqrt(3) * m)) < 1e-15);
  assert.equal(e.mean_perturbed_loss, 2);
  // Huge losses do not underflow to −∞.
  assert.ok(Math.abs(localEntropyEstimate([1000, 1000]).local_entropy + 1000) < 1e-12);
  assert.throws(() => localEntropyEstimate([1, NaN]), /NaN/);
  assert.throws(() => localEntropyEstimate([Infinity, Infinity]), /raise gamma/);
  assert.throws(() => localEntropyEstimate([1]), /at least 2 draws/);
});

test('options: bad γ, too few draws, an unbounded job and a criterion the engine does not use are refused', async () => {
  assert.throws(() => parseFlatnessOptions({ gamma: [0] }), /gamma/);
  assert.throws(() => parseFlatnessOptions({ gamma: [] }), /gamma/);
  assert.throws(() => parseFlatnessOptions({ draws: 1 }), /draws/);
  assert.throws(() => parseFlatnessOptions({ draws: 1_000_000, gamma: [1, 2, 3, 4, 5] }), /loss evaluations/);
  assert.throws(() => parseFlatnessOptions({ criterion: 'hinge' }), /criterion/);
  assert.throws(() => parseFlatnessOptions({ draws: 10, extra: 1 }), /extra/);
  const model = softmaxRegression(new Float32Array(6), new Float32Array(2), 2, 3);
  const engine = await createEngine(model, { loss: 'classification' });
  const dataset = makeDataset({ type: 'float32', data: new Float32Array(6), dims: [2, 3] }, BigInt64Array.of(0n, 1n));
  await assert.rejects(flatness({ engine, model, dataset }, { criterion: 'mse', draws: 2 }), /criterion ce differs/);
  await assert.rejects(flatness({ engine, model, dataset }, { draws: 2, samples: 5 }), /asked for 5 samples/);
  await engine.dispose();
});

test('perturbed copies: a graph with control-flow bodies is not copied, bad run sizes and name clashes are refused', () => {
  const model = softmaxRegression(new Float32Array(6), new Float32Array(2), 2, 3);
  const lg = buildLossGraph(model, { loss: 'classification' });
  assert.ok(copyable(lg));
  const pg = perturbedLossGraph(lg, 2, 3);
  assert.deepEqual(pg.split, ['W']);
  assert.deepEqual(
    pg.model.graph!.output!.map((o) => o.name),
    ['ws_losses'],
  );
  assert.throws(() => perturbedLossGraph(lg, 0, 3), /positive integers/);
  const withBody = {
    ...lg,
    graph: {
      ...lg.graph,
      nodes: [
        ...lg.graph.nodes,
        { name: 'if', opType: 'If', domain: '', inputs: ['c'], outputs: ['o'], attrs: [{ name: 'then_branch', g: {} }] },
      ],
    },
  };
  assert.ok(!copyable(withBody));
  assert.throws(() => perturbedLossGraph(withBody, 1, 1), /control-flow subgraphs/);
  const clash = { ...lg, graph: { ...lg.graph, values: new Map([...lg.graph.values, ['ws_noise.W', { dtype: 1, shape: [1] }]]) } };
  assert.throws(() => perturbedLossGraph(clash, 1, 1), /already has a value named 'ws_noise.W'/);
});
