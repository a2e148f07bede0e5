/**
 * The four training criteria (src/graph/criteria.ts): their graphs differentiated by the engine's own rules, first
 * and second order, against (1) central differences in float64 (the rules harness, classification and LM-shaped
 * logits), and (2) closed forms on a softmax-regression model run by the engine in float32 (gradient, Hv, the
 * graph's loss and the forward pass's float64 loss). The closed forms are themselves checked against central
 * differences of the closed-form loss, so a wrong derivation cannot pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CE,
  criterionRow,
  criterionSpec,
  CriterionSchema,
  meanCriterion,
  parseCriterion,
  type Criterion,
} from '../../src/graph/criteria.js';
import { createEngine } from '../../src/runtime/engine.js';
import { makeDataset, sliceBatch } from '../../src/runtime/dataset.js';
import { mulberry32 } from '../helpers/random.js';
import { softmaxRegression } from '../landscape/hessian/softmax-model.js';
import { checkCase } from './check.js';

const CRITERIA = ['ce', 'ls:0.1', 'ls:0.35', 'focal:0', 'focal:1', 'focal:2', 'focal:2.5', 'mse'];

test('criterion specs: parse, print back, and refuse bad ones with a clear message', () => {
  for (const s of CRITERIA) assert.equal(criterionSpec(parseCriterion(s)), s);
  assert.deepEqual(parseCriterion(' ls:0.2 '), { kind: 'ls', alpha: 0.2 });
  for (const [bad, msg] of [
    ['xent', /ce, ls:ALPHA, focal:GAMMA or mse/],
    ['ls:1', /\[0, 1\)/],
    ['ls:-0.1', /\[0, 1\)/],
    ['ls:', /label smoothing α must be a number, got ""/],
    ['focal:abc', /focal γ must be a number, got "abc"/],
    ['focal:-1', /\[0, 100\]/],
    ['mse:2', /ce, ls:ALPHA/],
  ] as const) {
    assert.throws(
      () => parseCriterion(bad),
      (e: Error & { code?: string }) => e.code === 'invalid-input' && msg.test(e.message),
      bad,
    );
    const r = CriterionSchema.safeParse(bad);
    assert.ok(!r.success && msg.test(r.error.issues[0].message), bad);
  }
});

for (const spec of CRITERIA) {
  test(`${spec}: graph gradient and Hv against central differences (float64; [4,5] and LM-shaped [2,3,5] logits)`, async () => {
    const c = parseCriterion(spec);
    await checkCase({
      name: `${spec} [4,5]`,
      inputs: [
        { name: 'z', dims: [4, 5], data: Array.from({ length: 20 }, (_, i) => 2 * Math.sin(1.7 * i + 0.3)) },
        { name: 'y', dims: [4], int: [0, 3, 4, 1] },
      ],
      build: (b, [z, y]) => meanCriterion(b, z, y, c),
    });
    await checkCase({
      name: `${spec} [2,3,5]`,
      inputs: [
        { name: 'z', dims: [2, 3, 5], data: Array.from({ length: 30 }, (_, i) => 1.5 * Math.cos(0.9 * i)) },
        { name: 'y', dims: [2, 3], int: [2, 0, 4, 4, 1, 3] },
      ],
      build: (b, [z, y]) => meanCriterion(b, z, y, c),
    });
  });
}

// ---------- closed forms on softmax regression: z = W x + b ----------

const C = 4;
const D = 6;
const N = 40;

function softmax(z: Float64Array): Float64Array {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

/** ∂ℓ/∂z and the Hessian ∂²ℓ/∂z² (C×C, row-major) of one row, by hand. */
function rowDerivatives(c: Criterion, z: Float64Array, y: number): { g: Float64Array; H: Float64Array } {
  const p = softmax(z);
  const e = Float64Array.from({ length: C }, (_, k) => (k === y ? 1 : 0));
  const g = new Float64Array(C);
  const H = new Float64Array(C * C);
  const softmaxJac = (scale: number) => {
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) H[i * C + j] += scale * ((i === j ? p[i] : 0) - p[i] * p[j]);
  };
  if (c.kind === 'mse') {
    for (let k = 0; k < C; k++) {
      g[k] = 2 * (z[k] - e[k]);
      H[k * C + k] = 2;
    }
  } else if (c.kind === 'ce' || c.kind === 'ls') {
    const a = c.kind === 'ls' ? c.alpha : 0;
    for (let k = 0; k < C; k++) g[k] = p[k] - ((1 - a) * e[k] + a / C);
    softmaxJac(1);
  } else {
    // ℓ = −u^γ log s, s = p_y, u = 1 − s: ∂ℓ/∂z = (e − p)·f(s), f = γ u^(γ−1) s log s − u^γ;
    // ∂²ℓ/∂z² = −f·(diag p − ppᵀ) + f'(s)·s·(e − p)(e − p)ᵀ, f' = γ[u^(γ−1)(log s + 2) − (γ−1) u^(γ−2) s log s].
    const G = c.gamma;
    const s = p[y];
    const u = 1 - s;
    const f = G === 0 ? -1 : G * u ** (G - 1) * s * Math.log(s) - u ** G;
    const fp = G === 0 ? 0 : G * (u ** (G - 1) * (Math.log(s) + 2) - (G === 1 ? 0 : (G - 1) * u ** (G - 2) * s * Math.log(s)));
    for (let k = 0; k < C; k++) g[k] = (e[k] - p[k]) * f;
    softmaxJac(-f);
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) H[i * C + j] += fp * s * (e[i] - p[i]) * (e[j] - p[j]);
  }
  return { g, H };
}

interface Problem {
  W: Float64Array;
  b: Float64Array;
  x: Float64Array;
  y: number[];
}

function problem(seed: number): Problem {
  const r = mulberry32(seed);
  const u = () => 2 * r() - 1;
  return {
    W: Float64Array.from({ length: C * D }, () => 1.5 * u()),
    b: Float64Array.from({ length: C }, () => 0.5 * u()),
    x: Float64Array.from({ length: N * D }, u),
    y: Array.from({ length: N }, (_, i) => (i * 7 + 3) % C),
  };
}

function logitsOf(P: Problem, W: ArrayLike<number>, b: ArrayLike<number>, s: number): Float64Array {
  const z = new Float64Array(C);
  for (let k = 0; k < C; k++) {
    let v = b[k];
    for (let i = 0; i < D; i++) v += W[k * D + i] * P.x[s * D + i];
    z[k] = v;
  }
  return z;
}

function meanLoss(c: Criterion, P: Problem, W: ArrayLike<number>, b: ArrayLike<number>): number {
  let L = 0;
  for (let s = 0; s < N; s++) L += criterionRow(c, logitsOf(P, W, b, s), 0, C, P.y[s]);
  return L / N;
}

/** Closed-form mean gradient and Hv (direction vW, vb) of the criterion over the N samples, float64. */
function closedForm(
  c: Criterion,
  P: Problem,
  vW: Float64Array,
  vb: Float64Array,
): { gW: Float64Array; gb: Float64Array; hW: Float64Array; hb: Float64Array } {
  const gW = new Float64Array(C * D),
    gb = new Float64Array(C),
    hW = new Float64Array(C * D),
    hb = new Float64Array(C);
  for (let s = 0; s < N; s++) {
    const { g, H } = rowDerivatives(c, logitsOf(P, P.W, P.b, s), P.y[s]);
    const dz = logitsOf(P, vW, vb, s);
    for (let k = 0; k < C; k++) {
      let hz = 0;
      for (let j = 0; j < C; j++) hz += H[k * C + j] * dz[j];
      gb[k] += g[k] / N;
      hb[k] += hz / N;
      for (let i = 0; i < D; i++) {
        gW[k * D + i] += (g[k] * P.x[s * D + i]) / N;
        hW[k * D + i] += (hz * P.x[s * D + i]) / N;
      }
    }
  }
  return { gW, gb, hW, hb };
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

for (const spec of CRITERIA) {
  test(`${spec}: softmax regression — engine gradient, Hv and loss equal the closed forms (which equal central differences)`, async () => {
    const c = parseCriterion(spec);
    const P = problem(11);
    const r = mulberry32(5);
    const vW = Float64Array.from({ length: C * D }, () => 2 * r() - 1);
    const vb = Float64Array.from({ length: C }, () => 2 * r() - 1);
    const cf = closedForm(c, P, vW, vb);

    // The closed forms against central differences of the float64 loss (and of the closed-form gradient).
    const eps = 1e-6;
    const fdW = cf.gW.map((_, j) => {
      const p = Float64Array.from(P.W),
        m = Float64Array.from(P.W);
      p[j] += eps;
      m[j] -= eps;
      return (meanLoss(c, P, p, P.b) - meanLoss(c, P, m, P.b)) / (2 * eps);
    });
    assert.ok(relErr(cf.gW, fdW) < 1e-7, `closed-form gradient vs differences: ${relErr(cf.gW, fdW)}`);
    const shifted = (sgn: number) =>
      closedForm(c, { ...P, W: P.W.map((w, j) => w + sgn * eps * vW[j]), b: P.b.map((w, j) => w + sgn * eps * vb[j]) }, vW, vb);
    const [gp, gm] = [shifted(1), shifted(-1)];
    const fdHW = gp.gW.map((v, j) => (v - gm.gW[j]) / (2 * eps));
    const fdHb = gp.gb.map((v, j) => (v - gm.gb[j]) / (2 * eps));
    assert.ok(
      relErr(cf.hW, fdHW) < 1e-6 && relErr(cf.hb, fdHb) < 1e-6,
      `closed-form Hv vs differences: ${relErr(cf.hW, fdHW)}, ${relErr(cf.hb, fdHb)}`,
    );

    // The engine (float32 graphs from the engine's rules) against the closed forms.
    const engine = await createEngine(softmaxRegression(Float32Array.from(P.W), Float32Array.from(P.b), C, D), {
      loss: 'classification',
      criterion: c,
    });
    try {
      assert.equal(criterionSpec(engine.criterion), spec);
      const ds = makeDataset({ type: 'float32', data: Float32Array.from(P.x), dims: [N, D] }, BigInt64Array.from(P.y, BigInt));
      const batch = sliceBatch(ds, 0, N);
      const params = engine.initialParams();
      const L = meanLoss(c, P, Float32Array.from(P.W), Float32Array.from(P.b));
      const gr = await engine.grad(params, batch);
      assert.ok(Math.abs(gr.loss - L) < 2e-6 * Math.max(1, Math.abs(L)), `graph loss ${gr.loss} vs ${L}`);
      const fwd = await engine.loss(params, batch);
      assert.ok(Math.abs(fwd - L) < 2e-6 * Math.max(1, Math.abs(L)), `forward loss ${fwd} vs ${L}`);
      assert.ok(relErr(gr.grads.get('W')!, cf.gW) < 2e-5, `∂L/∂W: ${relErr(gr.grads.get('W')!, cf.gW)}`);
      assert.ok(relErr(gr.grads.get('b')!, cf.gb) < 2e-5, `∂L/∂b: ${relErr(gr.grads.get('b')!, cf.gb)}`);
      const hv = await engine.hvp(
        params,
        batch,
        new Map([
          ['W', Float32Array.from(vW)],
          ['b', Float32Array.from(vb)],
        ]),
      );
      assert.ok(relErr(hv.hv.get('W')!, cf.hW) < 5e-5, `(Hv)_W: ${relErr(hv.hv.get('W')!, cf.hW)}`);
      assert.ok(relErr(hv.hv.get('b')!, cf.hb) < 5e-5, `(Hv)_b: ${relErr(hv.hv.get('b')!, cf.hb)}`);
    } finally {
      await engine.dispose();
    }
  });
}

test('criteria differ from each other where they should, and ls:0 / focal:0 are cross-entropy', () => {
  const z = Float64Array.of(2, -1, 0.5, 0.1);
  const ce = criterionRow(CE, z, 0, 4, 2);
  assert.equal(criterionRow(parseCriterion('ls:0'), z, 0, 4, 2), ce);
  assert.equal(criterionRow(parseCriterion('focal:0'), z, 0, 4, 2), ce);
  // label smoothing = (1−α)·CE + α·mean_k(−log p_k), torch's definition
  const logp = [...z].map((v) => v - Math.log([...z].reduce((a, w) => a + Math.exp(w), 0)));
  const ls = criterionRow(parseCriterion('ls:0.2'), z, 0, 4, 2);
  assert.ok(Math.abs(ls - (0.8 * ce + 0.2 * -(logp.reduce((a, v) => a + v, 0) / 4))) < 1e-14);
  // focal down-weights: (1 − p_y)^γ < 1
  assert.ok(criterionRow(parseCriterion('focal:2'), z, 0, 4, 2) < ce);
  // MSE on the logits: Σ (z − e)²
  assert.equal(criterionRow(parseCriterion('mse'), z, 0, 4, 2), 4 + 1 + 0.25 + 0.01);
});
