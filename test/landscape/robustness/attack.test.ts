/**
 * Attacks from the engine's input gradients: the gradient against a closed form (softmax regression) and central
 * differences (the fmnist CNN and an MLP), PGD/FGSM's constraints and determinism, one model's robust accuracy and
 * input-Hessian top eigenvalue, and robustness along a path with its correlations (11 points).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelParams, connect } from '../../../src/landscape/connectivity/connect.js';
import { loadDataset, sliceBatch } from '../../../src/runtime/dataset.js';
import { createEngine } from '../../../src/runtime/engine.js';
import { createInputGradient } from '../../../src/landscape/robustness/input-gradient.js';
import { adversarialExamples, type AttackConfig } from '../../../src/landscape/robustness/attack.js';
import { attackModel } from '../../../src/landscape/robustness/attack-model.js';
import { correlate } from '../../../src/landscape/robustness/probe.js';
import { parseAttackOptions } from '../../../src/landscape/robustness/options.js';
import { specOf } from '../../../src/runtime/params.js';
import { Rng } from '../../../src/util/random.js';
import { softmaxRegression, softmaxRows } from '../hessian/softmax-model.js';
import { fixture } from '../../helpers/fixtures.js';
import { bnModel, C, HW, K } from '../connectivity/bn-model.js';
import { replaceInitializers, writeOnnxModel } from '../../../src/io/onnx-model.js';
import { writeSafetensors } from '../../../src/io/safetensors-writer.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

const FB = (f: string) => fixture('fmnist-backdoor', f);

test('input gradient of softmax regression = (1/B)·Wᵀ(p − onehot(y)) per row (closed form)', async () => {
  const Cl = 4,
    D = 6,
    B = 5;
  const rng = new Rng(5);
  const W = Float32Array.from({ length: Cl * D }, () => rng.normal());
  const b = Float32Array.from({ length: Cl }, () => rng.normal() * 0.2);
  const x = Float32Array.from({ length: B * D }, () => rng.normal());
  const y = BigInt64Array.from({ length: B }, () => BigInt(rng.int(Cl)));
  const specs = [specOf('W', [Cl, D]), specOf('b', [Cl])];
  const ig = await createInputGradient(softmaxRegression(W, b, Cl, D), specs, { lanes: 1 });
  const { grad, loss } = await ig.batch(
    0,
    new Map([
      ['W', W],
      ['b', b],
    ]),
    x,
    y,
    [D],
  );
  const p = softmaxRows(W, b, x, B, Cl, D);
  let want = 0;
  for (let n = 0; n < B; n++) {
    want -= Math.log(p[n * Cl + Number(y[n])]) / B;
    for (let i = 0; i < D; i++) {
      let g = 0;
      for (let k = 0; k < Cl; k++) g += W[k * D + i] * (p[n * Cl + k] - (Number(y[n]) === k ? 1 : 0));
      assert.ok(Math.abs(grad[n * D + i] - g / B) < 1e-6, `x[${n}, ${i}]: ${grad[n * D + i]} vs ${g / B}`);
    }
  }
  assert.ok(Math.abs(loss - want) < 1e-6);
});

/**
 * fmnist-backdoor's CNN (conv 1→8, ReLU, max-pool 2, conv 8→16, ReLU, max-pool 2, fc 784→64, ReLU, fc 64→10; 3×3
 * convolutions with padding 1) in float64: the mean cross-entropy of a batch, for central differences far below
 * float32's resolution.
 */
function cnnLoss64(w: ReadonlyMap<string, Float32Array>, x: ArrayLike<number>, y: BigInt64Array): number {
  const conv = (inp: Float64Array, cin: number, hw: number, W: Float32Array, b: Float32Array, cout: number) => {
    const out = new Float64Array(cout * hw * hw);
    for (let o = 0; o < cout; o++)
      for (let r = 0; r < hw; r++)
        for (let c = 0; c < hw; c++) {
          let s = b[o];
          for (let i = 0; i < cin; i++)
            for (let dr = -1; dr <= 1; dr++)
              for (let dc = -1; dc <= 1; dc++) {
                const rr = r + dr,
                  cc = c + dc;
                if (rr >= 0 && rr < hw && cc >= 0 && cc < hw)
                  s += W[((o * cin + i) * 3 + dr + 1) * 3 + dc + 1] * inp[(i * hw + rr) * hw + cc];
              }
          out[(o * hw + r) * hw + c] = Math.max(0, s);
        }
    return out;
  };
  const pool = (inp: Float64Array, ch: number, hw: number) => {
    const h = hw / 2;
    const out = new Float64Array(ch * h * h);
    for (let k = 0; k < ch; k++)
      for (let r = 0; r < h; r++)
        for (let c = 0; c < h; c++) {
          const at = (a: number, b: number) => inp[(k * hw + 2 * r + a) * hw + 2 * c + b];
          out[(k * h + r) * h + c] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
        }
    return out;
  };
  const fc = (inp: Float64Array, W: Float32Array, b: Float32Array, nout: number, relu: boolean) =>
    Float64Array.from({ length: nout }, (_, o) => {
      let s = b[o];
      for (let i = 0; i < inp.length; i++) s += W[o * inp.length + i] * inp[i];
      return relu ? Math.max(0, s) : s;
    });
  const g = (n: string) => w.get(n) as Float32Array;
  let loss = 0;
  for (let n = 0; n < y.length; n++) {
    const img = Float64Array.from({ length: 784 }, (_, i) => x[n * 784 + i]);
    const a = pool(conv(img, 1, 28, g('conv1.weight'), g('conv1.bias'), 8), 8, 28);
    const b = pool(conv(a, 8, 14, g('conv2.weight'), g('conv2.bias'), 16), 16, 14);
    const z = fc(fc(b, g('fc1.weight'), g('fc1.bias'), 64, true), g('fc2.weight'), g('fc2.bias'), 10, false);
    const m = Math.max(...z);
    loss += Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0)) + m - z[Number(y[n])];
  }
  return loss / y.length;
}

test('input gradients of the fmnist CNN pass central-difference checks in float64 (24 pixels, 2 dense directions); an MLP along random directions', async () => {
  const rng = new Rng(17);
  const m = await loadModelParams(FB('model_a.onnx'));
  const batch = sliceBatch(await loadDataset(FB('test_clean.safetensors')), 0, 4);
  // A little noise breaks the exact ties of flat background in max-pool windows, where the loss has no gradient
  // (only the subgradient that routes each window to its first maximum, PyTorch's and ours).
  const x = Float32Array.from(batch.x.data as Float32Array, (v) => v + 0.02 * rng.uniform());
  const y = batch.y!.data as BigInt64Array;
  const ig = await createInputGradient(m.model, m.specs, { lanes: 1 });
  const { grad, loss } = await ig.batch(0, m.values, x, y, [1, 28, 28]);
  assert.ok(Math.abs(cnnLoss64(m.values, x, y) - loss) < 1e-5, 'the float64 CNN is the model');
  const h = 1e-6;
  const x64 = Float64Array.from(x);
  for (let r = 0; r < 26; r++) {
    const d = new Float64Array(x.length);
    if (r < 24) d[rng.int(x.length)] = 1;
    else for (let i = 0; i < d.length; i++) d[i] = rng.normal();
    const fd =
      (cnnLoss64(
        m.values,
        x64.map((v, i) => v + h * d[i]),
        y,
      ) -
        cnnLoss64(
          m.values,
          x64.map((v, i) => v - h * d[i]),
          y,
        )) /
      (2 * h);
    let an = 0;
    for (let i = 0; i < x.length; i++) an += grad[i] * d[i];
    assert.ok(Math.abs(fd - an) <= 1e-3 * Math.abs(an) + 1e-7, `CNN direction ${r}: finite difference ${fd} vs gradient ${an}`);
  }

  const mlp = await loadModelParams(fixture('surface-mlp', 'm1.onnx'));
  const mb = sliceBatch(await loadDataset(fixture('surface-mlp', 'test.safetensors')), 0, 8);
  const xm = mb.x.data as Float32Array;
  const ym = mb.y!.data as BigInt64Array;
  const mig = await createInputGradient(mlp.model, mlp.specs, { lanes: 1 });
  const gm = (await mig.batch(0, mlp.values, xm, ym, [1, 28, 28])).grad;
  const hm = 1e-3; // float32 loss: h far above its resolution, far below the image scale
  for (let r = 0; r < 3; r++) {
    const d = Float32Array.from(xm, () => rng.normal());
    const at = async (s: number) =>
      (
        await mig.batch(
          0,
          mlp.values,
          Float32Array.from(xm, (v, i) => v + s * hm * d[i]),
          ym,
          [1, 28, 28],
        )
      ).loss;
    const fd = ((await at(1)) - (await at(-1))) / (2 * hm);
    let an = 0;
    for (let i = 0; i < xm.length; i++) an += gm[i] * d[i];
    assert.ok(Math.abs(fd - an) <= 0.02 * Math.abs(an) + 1e-4, `MLP direction ${r}: finite difference ${fd} vs gradient ${an}`);
  }
});

test('PGD / FGSM: examples stay in the ε-ball and [0, 1], do not depend on the lanes, and lower accuracy (model_a, 200 images, ε = 0.1)', async () => {
  const m = await loadModelParams(FB('model_a.onnx'));
  const ds = await loadDataset(FB('test_clean.safetensors'));
  const part = sliceBatch(ds, 0, 200);
  const sub = { n: 200, x: part.x, y: part.y!.data as BigInt64Array };
  const cfg: AttackConfig = { kind: 'pgd', eps: 0.1, steps: 10, alpha: 0.025, randomStart: true, clip: [0, 1], seed: 3, batchSize: 64 };
  const one = await adversarialExamples(await createInputGradient(m.model, m.specs, { lanes: 1 }), m.values, sub, cfg);
  const two = await adversarialExamples(await createInputGradient(m.model, m.specs, { lanes: 2 }), m.values, sub, cfg);
  assert.deepEqual(one, two);
  const x0 = part.x.data as Float32Array;
  let moved = 0;
  for (let i = 0; i < x0.length; i++) {
    assert.ok(one[i] >= 0 && one[i] <= 1 && Math.abs(one[i] - x0[i]) <= 0.1 + 1e-7, `pixel ${i}: ${x0[i]} → ${one[i]}`);
    if (one[i] !== x0[i]) moved++;
  }
  assert.ok(moved > x0.length / 2);
  const engine = await createEngine(m.model, { loss: 'classification', params: m.specs.map((s) => s.name) });
  const acc = async (x: Float32Array) => {
    const logits = (await engine.logits(m.values, { type: 'float32', data: x, dims: part.x.dims })).data as Float32Array;
    let ok = 0;
    for (let n = 0; n < 200; n++) {
      let arg = 0;
      for (let k = 1; k < 10; k++) if (logits[n * 10 + k] > logits[n * 10 + arg]) arg = k;
      if (BigInt(arg) === sub.y[n]) ok++;
    }
    return ok / 200;
  };
  const fgsm = await adversarialExamples(await createInputGradient(m.model, m.specs, { lanes: 1 }), m.values, sub, {
    ...cfg,
    kind: 'fgsm',
    steps: 1,
    alpha: 0.1,
    randomStart: false,
  });
  // FGSM moves every pixel by exactly ε unless the range or a zero gradient stops it.
  for (let i = 0; i < x0.length; i++)
    assert.ok(Math.abs(Math.abs(fgsm[i] - x0[i]) - 0.1) < 1e-6 || fgsm[i] === 0 || fgsm[i] === 1 || fgsm[i] === x0[i]);
  const [clean, pgdAcc, fgsmAcc] = [await acc(x0), await acc(one), await acc(fgsm)];
  assert.ok(clean > 0.8 && pgdAcc < 0.1 && pgdAcc <= fgsmAcc && fgsmAcc < clean, `clean ${clean}, FGSM ${fgsmAcc}, PGD ${pgdAcc}`);
});

test('attack model_a (ε = 0.1, PGD 10 steps, 500 test images): robust accuracy reported; input-Hessian λmax by Lanczos = by long power iteration', async () => {
  const inputs = { model: FB('model_a.onnx'), data: FB('test_clean.safetensors') };
  const r = await attackModel(inputs, { samples: 500, hessianSamples: 200 });
  assert.equal(r.samples, 500);
  assert.equal(r.clean.n, 500);
  console.log(
    `model_a, 500 test images: clean ${(100 * r.clean.accuracy).toFixed(2)}%, PGD ε=0.1 robust accuracy ${(100 * r.adversarial.accuracy).toFixed(2)}%, input-Hessian λmax ${r.inputHessian?.topEigenvalue} (${r.inputHessian?.iterations} Hv)`,
  );
  assert.ok(r.clean.accuracy > 0.85 && r.adversarial.accuracy < 0.1 && r.adversarial.loss > r.clean.loss + 2);
  const lam = r.inputHessian?.topEigenvalue ?? NaN;
  assert.ok((r.inputHessian?.residual ?? 1) < 1e-3 * lam);
  const p = await attackModel(inputs, {
    samples: 200,
    hessianSamples: 200,
    hessianMethod: 'power',
    hessianMaxIter: 400,
    hessianTol: 1e-9,
    steps: 1,
  });
  assert.ok(
    Math.abs(lam - (p.inputHessian?.topEigenvalue ?? 0)) < 0.005 * lam,
    `Lanczos ${lam} vs power iteration ${p.inputHessian?.topEigenvalue} (${p.inputHessian?.iterations} steps)`,
  );
});

test('connect --attack on the straight line model_a → model_b: 11 points of clean/adversarial metrics and λmax, and their correlations', async () => {
  const { result } = await connect(
    {
      modelA: FB('model_a.onnx'),
      modelB: FB('model_b.onnx'),
      data: FB('clean_subset.safetensors'),
      evalData: [{ name: 'test', path: FB('test_clean.safetensors') }],
    },
    { epochs: 0, attack: { samples: 100, hessianSamples: 100, hessianMaxIter: 8 } },
  );
  const rob = result.robustness!;
  assert.equal(rob.set, 'test');
  assert.equal(rob.along.length, 11);
  assert.deepEqual(
    rob.along.map((r) => r.t),
    result.along.map((r) => r.t),
  );
  for (const r of rob.along) {
    assert.ok(r.adversarial.accuracy <= r.clean.accuracy);
    assert.ok(r.inputHessian !== null && r.inputHessian.topEigenvalue > 0);
  }
  const lam = rob.along.map((r) => r.inputHessian!.topEigenvalue);
  assert.deepEqual(
    rob.correlation!.adversarialLoss,
    correlate(
      rob.along.map((r) => r.adversarial.loss),
      lam,
    ),
  );
  assert.deepEqual(
    rob.correlation!.robustError,
    correlate(
      rob.along.map((r) => 1 - r.adversarial.accuracy),
      lam,
    ),
  );
  assert.ok(rob.correlation!.adversarialLoss.pearson !== null && Math.abs(rob.correlation!.adversarialLoss.pearson) <= 1);
  console.log(
    'along t: adv loss',
    rob.along.map((r) => r.adversarial.loss.toFixed(3)).join(' '),
    '| λmax',
    lam.map((v) => v.toFixed(3)).join(' '),
    '| corr',
    JSON.stringify(rob.correlation),
  );
});

test('correlate: Pearson and Spearman by hand; constant input gives null; attack options are validated', () => {
  const c = correlate([1, 2, 3, 4], [2, 4, 5, 9]);
  // Pearson: Σdxdy = 11, Σdx² = 5, Σdy² = 26.
  assert.ok(Math.abs((c.pearson ?? 0) - 11 / Math.sqrt(5 * 26)) < 1e-12);
  assert.equal(c.spearman.value, 1);
  assert.deepEqual(correlate([1, 1, 1], [1, 2, 3]), { pearson: null, spearman: { value: null, p: null } });
  assert.throws(() => parseAttackOptions({ eps: -1 }), /invalid attack options: eps/);
  assert.throws(() => parseAttackOptions({ clip: [1, 0] }), /clip/);
  assert.throws(() => parseAttackOptions({ attack: 'cw' as 'pgd' }), /attack/);
});

test('attack: bad inputs give clear errors', async () => {
  await assert.rejects(
    attackModel({ model: FB('model_a.onnx'), data: FB('test_clean.safetensors') }, { samples: 5000 }),
    /asked to attack 5000 samples, the data has 2000/,
  );
  await assert.rejects(
    attackModel({ model: fixture('gpt2-tiny', 'onnx', 'model.onnx'), data: fixture('gpt2-tiny', 'lm_batch.safetensors') }),
    /needs float inputs with labels y/,
  );
});

test('attack a BatchNorm model as it is: its own running statistics (clean accuracy = onnxruntime on the file), inputs unbounded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-attack-bn-'));
  try {
    const rng = new Rng(4);
    const rand = (n: number, s = 1, o = 0) => Float32Array.from({ length: n }, () => o + s * rng.normal());
    const base = bnModel({
      'bn1.weight': rand(C, 0.3, 1),
      'bn1.bias': rand(C, 0.3),
      'bn2.weight': rand(C, 0.3, 1),
      'bn2.bias': rand(C, 0.3),
      'fc.weight': rand(K * C * HW, 0.3),
      'fc.bias': rand(K, 0.1),
    });
    // Running statistics far from (0, 1): recomputing them on the data would change every prediction.
    const model = replaceInitializers(
      base,
      new Map([
        ['bn1.running_mean', rand(C, 0.5, 0.3)],
        ['bn1.running_var', rand(C, 0.2, 2).map(Math.abs)],
        ['bn2.running_mean', rand(C, 0.5)],
        ['bn2.running_var', rand(C, 0.2, 0.5).map(Math.abs)],
      ]),
    );
    const path = join(dir, 'bn.onnx');
    await writeOnnxModel(path, model);
    const N = 64;
    const x = rand(N * C * HW);
    const session = await ort.InferenceSession.create(path);
    const logits = (await session.run({ x: new ort.Tensor('float32', x, [N, C, 4, 4]) })).logits.data as Float32Array;
    // Labels = the model's own predictions, except every fourth: clean accuracy is exactly 75%.
    const y = BigInt64Array.from({ length: N }, (_, n) => {
      let arg = 0;
      for (let k = 1; k < K; k++) if (logits[n * K + k] > logits[n * K + arg]) arg = k;
      return BigInt(n % 4 === 0 ? (arg + 1) % K : arg);
    });
    const data = join(dir, 'data.safetensors');
    await writeSafetensors(data, [
      { name: 'x', dtype: 'F32', shape: [N, C, 4, 4], data: new Uint8Array(x.buffer) },
      { name: 'y', dtype: 'I64', shape: [N], data: new Uint8Array(y.buffer) },
    ]);
    const r = await attackModel({ model: path, data }, { eps: 0.5, clip: null, hessianSamples: 64 });
    assert.equal(r.clean.accuracy, 0.75);
    assert.ok(r.adversarial.accuracy < 0.75 && r.inputHessian !== null && r.inputHessian.topEigenvalue > 0, JSON.stringify(r.adversarial));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
