/**
 * Data-parallel sharding of gradient/Hv calls (engine.ts `shards`): a batch cut into contiguous shards on parallel
 * lanes gives the unsharded result to float32 rounding, deterministically; small batches run whole; each lane keeps
 * its shard resident; and a model that may mix samples across the batch (separable.ts `batchCoupling`) is never
 * sharded by default — which matters, as sharding training-mode BatchNorm changes its gradient.
 */
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { openSafetensors } from '../../src/io/safetensors.js';
import { readOnnxModel, type ModelProto } from '../../src/io/onnx-model.js';
import { createEngine, type Engine } from '../../src/runtime/engine.js';
import { loadDataset, makeDataset, sliceBatch, type Dataset } from '../../src/runtime/dataset.js';
import type { ParamMap } from '../../src/runtime/params.js';
import { batchCoupling } from '../../src/runtime/separable.js';
import { residentStats, sessionsBuilt, shutdownRuntime } from '../../src/runtime/session.js';
import { trainModeModel } from '../../src/landscape/connectivity/bn.js';
import { bnModel, C, K } from '../landscape/connectivity/bn-model.js';
import { fixture } from '../helpers/fixtures.js';
import { isCode } from '../helpers/errors.js';
import { mulberry32 } from '../helpers/random.js';

// The default lane count is the intra-op thread count: pin it, so the default-sharding checks below mean the same on
// every machine (explicit `shards` do not depend on it).
process.env.WEIGHTSCOPE_THREADS = '2';

after(async () => {
  await shutdownRuntime();
});

// Every engine a test builds is disposed after it, pass or fail: sessions left cached would skew the next test's
// sessionsBuilt() counts.
const live: Engine[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((e) => e.dispose()));
});
async function engine(model: string | ModelProto, opts: Parameters<typeof createEngine>[1]): Promise<Engine> {
  const e = await createEngine(model, opts);
  live.push(e);
  return e;
}

const MLP = fixture('fmnist-hessian', 'mlp48.onnx');
const CNN = fixture('fmnist-backdoor', 'model_a.onnx');

const cache = new Map<string, Promise<Dataset>>();
function data(path: string): Promise<Dataset> {
  let d = cache.get(path);
  if (!d) cache.set(path, (d = loadDataset(path)));
  return d;
}

const bits = (m: ReadonlyMap<string, Float32Array>) =>
  [...m].map(([k, a]) => [k, Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')]);

/** ‖a − b‖ / ‖b‖ over all parameters. */
function relL2(a: ParamMap, b: ParamMap): number {
  let num = 0;
  let den = 0;
  for (const [k, y] of b) {
    const x = a.get(k) as Float32Array;
    assert.equal(x.length, y.length, k);
    for (let i = 0; i < y.length; i++) {
      num += (x[i] - y[i]) ** 2;
      den += y[i] ** 2;
    }
  }
  return Math.sqrt(num / den);
}

const direction = (e: Engine): ParamMap =>
  new Map(e.params.map((s) => [s.name, Float32Array.from({ length: s.size }, (_, i) => Math.sin(i + 1))]));

// Measured on this machine (2 cores): grad ≤ 2.1e-7, Hv ≤ 4e-7, loss ≤ 1.4e-7 relative; float32 rounding of a
// different summation order. 2e-6 leaves room for other CPUs' kernels while catching any wrong weighting or a
// shard that is dropped or doubled (≥ 1e-2).
const TOL = 2e-6;

async function agree(model: string, dataPath: string, size: number) {
  const batch = sliceBatch(await data(dataPath), 0, size);
  const one = await engine(model, { loss: 'classification', shards: 1 });
  const p = one.initialParams();
  const v = direction(one);
  const g1 = await one.grad(p, batch);
  const h1 = await one.hvp(p, batch, v);
  const worst = { loss: 0, grad: 0, hv: 0 };
  for (const shards of [2, 3]) {
    const e = await engine(model, { loss: 'classification', shards });
    const g = await e.grad(p, batch);
    const h = await e.hvp(p, batch, v);
    const lossRel = Math.abs(g.loss - g1.loss) / g1.loss;
    const gRel = relL2(g.grads, g1.grads);
    const hRel = relL2(h.hv, h1.hv);
    worst.loss = Math.max(worst.loss, lossRel, Math.abs(h.loss - h1.loss) / h1.loss);
    worst.grad = Math.max(worst.grad, gRel);
    worst.hv = Math.max(worst.hv, hRel);
    assert.ok(lossRel < TOL, `shards ${shards}: loss ${g.loss} vs ${g1.loss}`);
    assert.ok(gRel < TOL, `shards ${shards}: grad rel L2 ${gRel}`);
    assert.ok(hRel < TOL, `shards ${shards}: hv rel L2 ${hRel}`);
    // Deterministic: the same call again gives the same bits.
    const g2 = await e.grad(p, batch);
    const h2 = await e.hvp(p, batch, v);
    assert.equal(g2.loss, g.loss);
    assert.deepEqual(bits(g2.grads), bits(g.grads));
    assert.equal(h2.loss, h.loss);
    assert.deepEqual(bits(h2.hv), bits(h.hv));
  }
  return worst;
}

test('sharding: model_a (batch 128) with 2 and 3 shards equals 1 shard to float32 rounding, deterministically', async (t) => {
  const w = await agree(CNN, fixture('fmnist-backdoor', 'clean_subset.safetensors'), 128);
  t.diagnostic(`model_a worst rel: loss ${w.loss.toExponential(2)} grad ${w.grad.toExponential(2)} hv ${w.hv.toExponential(2)}`);
});

test('sharding: mlp48 (batch 200) with 2 and 3 shards equals 1 shard to float32 rounding, deterministically', async (t) => {
  const w = await agree(MLP, fixture('fmnist-hessian', 'batch.safetensors'), 200);
  t.diagnostic(`mlp48 worst rel: loss ${w.loss.toExponential(2)} grad ${w.grad.toExponential(2)} hv ${w.hv.toExponential(2)}`);
});

/** Sharded loss, gradient and Hv against a fixture's PyTorch grad_hvp.safetensors (relative L2). */
async function vsReference(model: string, dataPath: string, size: number, refPath: string, shards: number) {
  const e = await engine(model, { loss: 'classification', shards });
  const ref = await openSafetensors(refPath);
  try {
    const batch = sliceBatch(await data(dataPath), 0, size);
    const p = e.initialParams();
    const v: ParamMap = new Map();
    const rg: ParamMap = new Map();
    const rh: ParamMap = new Map();
    for (const s of e.params) {
      v.set(s.name, Float32Array.from(await ref.readFloat64(`v.${s.name}`)));
      rg.set(s.name, Float32Array.from(await ref.readFloat64(`grad.${s.name}`)));
      rh.set(s.name, Float32Array.from(await ref.readFloat64(`hv.${s.name}`)));
    }
    const g = await e.grad(p, batch);
    const h = await e.hvp(p, batch, v);
    return { loss: g.loss, refLoss: Number(ref.metadata.loss), grad: relL2(g.grads, rg), hv: relL2(h.hv, rh) };
  } finally {
    await ref.close();
  }
}

test('sharding: sharded engines equal the PyTorch references (model_a 128, mlp48 256) to 1e-4', async (t) => {
  const cases = [
    [CNN, fixture('fmnist-backdoor', 'clean_subset.safetensors'), 128, fixture('fmnist-backdoor', 'grad_hvp.safetensors'), 3],
    [MLP, fixture('fmnist-hessian', 'batch.safetensors'), 256, fixture('fmnist-hessian', 'grad_hvp.safetensors'), 2],
  ] as const;
  for (const [model, dataPath, size, refPath, shards] of cases) {
    const r = await vsReference(model, dataPath, size, refPath, shards);
    t.diagnostic(`${model.split('/').pop()} shards ${shards}: grad ${r.grad.toExponential(2)} hv ${r.hv.toExponential(2)}`);
    assert.ok(Math.abs(r.loss - r.refLoss) < 1e-5 * r.refLoss, `${r.loss} vs ${r.refLoss}`);
    assert.ok(r.grad < 1e-4, `grad rel L2 ${r.grad}`);
    assert.ok(r.hv < 1e-4, `hv rel L2 ${r.hv}`);
  }
});

test('sharding: a batch under 2·16 runs whole (no lane session, same bits); 32 and up builds the lanes', async () => {
  const ds = await data(fixture('fmnist-hessian', 'batch.safetensors'));
  const small = sliceBatch(ds, 0, 31);
  const one = await engine(MLP, { loss: 'classification', shards: 1 });
  const two = await engine(MLP, { loss: 'classification', shards: 2 });
  const p = one.initialParams();
  const v = direction(one);
  const g1 = await one.grad(p, small);
  const h1 = await one.hvp(p, small, v);
  const built = sessionsBuilt();
  const g2 = await two.grad(p, small);
  const h2 = await two.hvp(p, small, v);
  assert.equal(sessionsBuilt(), built, 'a whole-batch run reuses the unsharded sessions');
  assert.equal(g2.loss, g1.loss);
  assert.deepEqual(bits(g2.grads), bits(g1.grads));
  assert.equal(h2.loss, h1.loss);
  assert.deepEqual(bits(h2.hv), bits(h1.hv));
  // 32 samples: two shards of 16, on two new lane sessions (one per lane) for the gradient graph.
  await two.grad(p, sliceBatch(ds, 0, 32));
  assert.equal(sessionsBuilt(), built + 2);
});

test('sharding: an uneven split (50 in 3 shards: 16/17/17) and a growing shard count are right', async () => {
  const ds = await data(fixture('fmnist-hessian', 'batch.safetensors'));
  const one = await engine(MLP, { loss: 'classification', shards: 1 });
  const three = await engine(MLP, { loss: 'classification', shards: 3 });
  const p = one.initialParams();
  const v = direction(one);
  // 40 samples make 2 shards (3·16 > 40), then 50 make 3: the lanes must grow with them.
  for (const size of [40, 50]) {
    const b = sliceBatch(ds, 100, 100 + size);
    const g1 = await one.grad(p, b);
    const h1 = await one.hvp(p, b, v);
    const g3 = await three.grad(p, b);
    const h3 = await three.hvp(p, b, v);
    assert.ok(Math.abs(g3.loss - g1.loss) < TOL * g1.loss, `batch ${size}: loss ${g3.loss} vs ${g1.loss}`);
    assert.ok(relL2(g3.grads, g1.grads) < TOL, `batch ${size}: grad rel L2 ${relL2(g3.grads, g1.grads)}`);
    assert.ok(relL2(h3.hv, h1.hv) < TOL, `batch ${size}: hv rel L2 ${relL2(h3.hv, h1.hv)}`);
  }
});

const delta = (before: ReturnType<typeof residentStats>) => {
  const now = residentStats();
  return { uploads: now.uploads - before.uploads, reuses: now.reuses - before.reuses, resends: now.resends - before.resends };
};

test("sharding: each lane uploads its shard's x and y once, then reuses them; a new Batch uploads again", async () => {
  const ds = await data(fixture('fmnist-hessian', 'batch.safetensors'));
  const batch = sliceBatch(ds, 0, 200);
  const e = await engine(MLP, { loss: 'classification', shards: 2 });
  const p = e.initialParams();
  const v = direction(e);
  let before = residentStats();
  const g1 = await e.grad(p, batch);
  assert.deepEqual(delta(before), { uploads: 4, reuses: 0, resends: 0 }); // x and y of 2 shards
  before = residentStats();
  const g2 = await e.grad(p, batch);
  await e.hvp(p, batch, v); // the Hv sessions live in the same lane workers: same store
  await e.gradMean(p, [batch, batch]);
  assert.deepEqual(delta(before), { uploads: 0, reuses: 16, resends: 0 });
  assert.deepEqual(bits(g2.grads), bits(g1.grads));
  // The same rows in a new Batch: new arrays, so uploaded anew (and the same bits).
  const copy = sliceBatch(ds, 0, 200);
  before = residentStats();
  const gc = await e.grad(p, copy);
  assert.deepEqual(delta(before), { uploads: 4, reuses: 0, resends: 0 });
  assert.equal(gc.loss, g1.loss);
  assert.deepEqual(bits(gc.grads), bits(g1.grads));
});

test('sharding: gradMean and hvpMean over several batches equal the unsharded ones', async () => {
  const ds = await data(fixture('fmnist-hessian', 'batch.safetensors'));
  // Shard counts 2, 3, whole (20 < 32) and 3 again under shards: 3.
  const batches = [sliceBatch(ds, 0, 40), sliceBatch(ds, 40, 140), sliceBatch(ds, 140, 160), sliceBatch(ds, 160, 256)];
  const one = await engine(MLP, { loss: 'classification', shards: 1 });
  const three = await engine(MLP, { loss: 'classification', shards: 3 });
  const p = one.initialParams();
  const v = direction(one);
  const g1 = await one.gradMean(p, batches);
  const h1 = await one.hvpMean(p, batches, v);
  const g3 = await three.gradMean(p, batches);
  const h3 = await three.hvpMean(p, batches, v);
  assert.ok(Math.abs(g3.loss - g1.loss) < TOL * g1.loss, `loss ${g3.loss} vs ${g1.loss}`);
  assert.ok(relL2(g3.grads, g1.grads) < TOL, `gradMean rel L2 ${relL2(g3.grads, g1.grads)}`);
  assert.ok(relL2(h3.hv, h1.hv) < TOL, `hvpMean rel L2 ${relL2(h3.hv, h1.hv)}`);
  // The mean over the four batches is the gradient of the whole 256 (different rounding only).
  const whole = await one.grad(p, sliceBatch(ds, 0, 256));
  assert.ok(relL2(g3.grads, whole.grads) < TOL, `gradMean vs whole batch ${relL2(g3.grads, whole.grads)}`);
});

// ---- batchCoupling -------------------------------------------------------------------------------------------

test('batchCoupling: null for model_a, mlp48 and gpt2-tiny', async () => {
  assert.equal(batchCoupling(await readOnnxModel(CNN)), null);
  assert.equal(batchCoupling(await readOnnxModel(MLP)), null);
  assert.equal(batchCoupling(await readOnnxModel(fixture('gpt2-tiny', 'onnx', 'model.onnx'))), null);
});

// The op-by-op cases of batchCoupling, each checked against running two shards: test/graph/batch-axis.test.ts.

// ---- the guard on a training-mode BatchNorm model --------------------------------------------------------------

function bnNet() {
  const rnd = mulberry32(7);
  const r = (n: number, s: number, c = 0) => Float32Array.from({ length: n }, () => c + s * (rnd() * 2 - 1));
  const model = trainModeModel(
    bnModel({
      'bn1.weight': r(C, 0.2, 1),
      'bn1.bias': r(C, 0.2),
      'bn2.weight': r(C, 0.2, 1),
      'bn2.bias': r(C, 0.2),
      'fc.weight': r(K * C * 16, 0.3),
      'fc.bias': r(K, 0.1),
    }),
  ).model;
  const n = 64;
  const x = r(n * C * 16, 1.5, 0.3);
  const y = BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 7 + (i >> 3)) % K));
  const ds = makeDataset({ type: 'float32', data: x, dims: [n, C, 4, 4] }, y);
  return { model, batch: sliceBatch(ds, 0, n) };
}
const BN_PARAMS = ['bn1.weight', 'bn1.bias', 'bn2.weight', 'bn2.bias', 'fc.weight', 'fc.bias'];

test('sharding: a training-mode BatchNorm model is not sharded by default; forcing 2 shards changes its gradient', async (t) => {
  const { model, batch } = bnNet();
  assert.match(batchCoupling(model) ?? '', /ReduceMean node '.*' reduces over the batch axis/);
  const one = await engine(model, { loss: 'classification', params: BN_PARAMS, shards: 1 });
  const dflt = await engine(model, { loss: 'classification', params: BN_PARAMS });
  const forced = await engine(model, { loss: 'classification', params: BN_PARAMS, shards: 2 });
  const p = one.initialParams();
  const v = direction(one);
  const g1 = await one.grad(p, batch);
  const h1 = await one.hvp(p, batch, v);
  const built = sessionsBuilt();
  const gd = await dflt.grad(p, batch);
  const hd = await dflt.hvp(p, batch, v);
  assert.equal(sessionsBuilt(), built, 'the default engine builds no lane sessions');
  assert.equal(gd.loss, g1.loss);
  assert.deepEqual(bits(gd.grads), bits(g1.grads));
  assert.equal(hd.loss, h1.loss);
  assert.deepEqual(bits(hd.hv), bits(h1.hv));
  // Two shards of 32 normalise with each half's statistics: a different function, a different gradient.
  const gf = await forced.grad(p, batch);
  const diff = relL2(gf.grads, g1.grads);
  t.diagnostic(`BN forced 2 shards vs 1: grad rel L2 ${diff.toExponential(2)}`);
  assert.ok(diff > 1e-3, `forced sharding should change the BN gradient, rel L2 ${diff}`);
});

test('sharding: a separable model is sharded by default (the control for the BN test above)', async () => {
  const ds = await data(fixture('fmnist-hessian', 'batch.safetensors'));
  const e = await engine(MLP, { loss: 'classification' });
  const p = e.initialParams();
  await e.grad(p, sliceBatch(ds, 0, 20)); // builds the whole-batch session first
  const built = sessionsBuilt();
  await e.grad(p, sliceBatch(ds, 0, 64));
  assert.equal(sessionsBuilt(), built + 2, 'WEIGHTSCOPE_THREADS=2 → 2 lanes');
});

test('sharding: shards 0, 1.5, -1 or NaN is invalid input', async () => {
  for (const shards of [0, 1.5, -1, Number.NaN]) {
    await assert.rejects(
      createEngine(MLP, { loss: 'classification', shards }),
      isCode('invalid-input', /shards must be a positive integer/),
    );
  }
});

test('engines on the same graph share sessions: one engine disposed, the other still runs', async () => {
  const batch = sliceBatch(await loadDataset(fixture('fmnist-hessian', 'batch.safetensors')), 0, 64);
  const a = await createEngine(fixture('fmnist-hessian', 'mlp48.onnx'), { loss: 'classification', shards: 2 });
  const b = await createEngine(fixture('fmnist-hessian', 'mlp48.onnx'), { loss: 'classification', shards: 2 });
  const p = a.initialParams();
  const ga = await a.grad(p, batch);
  await b.grad(p, batch);
  await a.dispose();
  const gb = await b.grad(p, batch);
  assert.equal(gb.loss, ga.loss);
  for (const [k, v] of ga.grads) assert.deepEqual(gb.grads.get(k), v, k);
  assert.ok(Number.isFinite((await b.evaluate(p, await loadDataset(fixture('fmnist-hessian', 'batch.safetensors')), 500)).loss));
  await b.dispose();
});
