import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngineWith, type Engine } from '../../src/runtime/engine.js';
import { makeDataset, sliceBatch, sequentialBatches } from '../../src/runtime/dataset.js';
import { sessionsBuilt, shutdownRuntime } from '../../src/runtime/session.js';
import { Rng } from '../../src/util/random.js';
import { softmaxGradGraph, softmaxHvpGraph, softmaxModel, softmaxReference } from './graphs.js';

const C = 4;
const D = 6;
const N = 30;
const rng = new Rng(7);
const W = Float32Array.from({ length: C * D }, () => rng.normal() * 0.5);
const b = Float32Array.from({ length: C }, () => rng.normal() * 0.1);
const x = Float32Array.from({ length: N * D }, () => rng.normal());
const y = BigInt64Array.from({ length: N }, () => BigInt(rng.int(C)));
const vW = Float32Array.from({ length: C * D }, () => rng.normal());
const vb = Float32Array.from({ length: C }, () => rng.normal());
const ds = makeDataset({ type: 'float32', data: x, dims: [N, D] }, y);

function relL2(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

async function engine(l2?: { coef: number }): Promise<Engine> {
  return createEngineWith(
    softmaxModel(W, b, C, D),
    '.',
    { grad: () => softmaxGradGraph(C, D), hvp: () => softmaxHvpGraph(C, D) },
    {
      loss: 'classification',
      ...(l2 ? { l2 } : {}),
    },
  );
}

test('engine: loss, gradient and Hv of a hand-built graph match float64 math', async () => {
  const e = await engine();
  assert.deepEqual(
    e.params.map((p) => [p.name, p.dims]),
    [
      ['W', [C, D]],
      ['b', [C]],
    ],
  );
  assert.equal(e.inputName, 'input');
  const params = e.initialParams();
  assert.deepEqual([...params.get('W')!], [...W]);
  const batch = sliceBatch(ds, 0, N);
  const ref = softmaxReference(W, b, x, y, C, D, vW, vb);
  assert.ok(Math.abs((await e.loss(params, batch)) - ref.loss) < 1e-6 * ref.loss);
  const g = await e.grad(params, batch);
  assert.ok(Math.abs(g.loss - ref.loss) < 1e-5 * ref.loss, `${g.loss} vs ${ref.loss}`);
  assert.ok(relL2(g.grads.get('W')!, ref.gW) < 1e-5);
  assert.ok(relL2(g.grads.get('b')!, ref.gb) < 1e-5);
  const h = await e.hvp(
    params,
    batch,
    new Map([
      ['W', vW],
      ['b', vb],
    ]),
  );
  assert.ok(relL2(h.hv.get('W')!, ref.hW) < 1e-5);
  assert.ok(relL2(h.hv.get('b')!, ref.hb) < 1e-5);
});

test('engine: size-weighted means over uneven batches equal the full-batch quantities', async () => {
  const e = await engine();
  const params = e.initialParams();
  const v = new Map([
    ['W', vW],
    ['b', vb],
  ]);
  const full = await e.grad(params, sliceBatch(ds, 0, N));
  const parts = [sliceBatch(ds, 0, 11), sliceBatch(ds, 11, 27), sliceBatch(ds, 27, 30)];
  const mean = await e.gradMean(params, parts);
  assert.ok(Math.abs(mean.loss - full.loss) < 1e-6);
  assert.ok(relL2(mean.grads.get('W')!, full.grads.get('W')!) < 1e-6);
  const hfull = await e.hvp(params, sliceBatch(ds, 0, N), v);
  const hmean = await e.hvpMean(params, sequentialBatches(ds, 8), v);
  assert.ok(relL2(hmean.hv.get('W')!, hfull.hv.get('W')!) < 1e-6);
  assert.ok(relL2(hmean.hv.get('b')!, hfull.hv.get('b')!) < 1e-6);
  // evaluate = size-weighted mean loss over batches of 7 (last one has 2 samples)
  const ev = await e.evaluate(params, ds, 7);
  assert.equal(ev.n, N);
  assert.ok(Math.abs(ev.loss - softmaxReference(W, b, x, y, C, D).loss) < 1e-6);
});

test('engine: other weights through the same sessions; no rebuild on repeated calls or a second engine', async () => {
  const e = await engine();
  const batch = sliceBatch(ds, 0, N);
  const p = e.initialParams();
  await e.grad(p, batch);
  await e.hvp(p, batch, p);
  const built = sessionsBuilt();
  const W2 = W.map((w) => w * 0.5);
  const p2 = new Map([
    ['W', W2],
    ['b', b],
  ]);
  const g2 = await e.grad(p2, batch);
  const ref2 = softmaxReference(W2, b, x, y, C, D);
  assert.ok(relL2(g2.grads.get('W')!, ref2.gW) < 1e-5);
  const e2 = await engine();
  await e2.grad(p2, batch);
  await e2.hvp(p2, batch, p2);
  await e2.evaluate(p2, ds, 10);
  assert.equal(sessionsBuilt(), built);
});

test('engine: the L2 term is added to the loss; bad inputs are clear errors', async () => {
  const e = await engine({ coef: 0.01 });
  const p = e.initialParams();
  const batch = sliceBatch(ds, 0, N);
  let sq = 0;
  for (const w of [...W, ...b]) sq += w * w;
  const ref = softmaxReference(W, b, x, y, C, D).loss + 0.5 * 0.01 * sq;
  assert.ok(Math.abs((await e.loss(p, batch)) - ref) < 1e-6);
  await assert.rejects(e.grad(new Map([['W', W]]), batch), { code: 'invalid-input', message: /missing 'b'/ });
  await assert.rejects(
    e.grad(
      new Map([
        ['W', W],
        ['b', new Float32Array(3)],
      ]),
      batch,
    ),
    { code: 'shape-mismatch' },
  );
  const noLabels = { ...batch, y: null };
  await assert.rejects(e.grad(p, noLabels), { code: 'invalid-input', message: /labels/ });
  const badY = makeDataset({ type: 'float32', data: x.slice(0, D), dims: [1, D] }, BigInt64Array.of(9n));
  await assert.rejects(e.evaluate(p, badY), { code: 'invalid-input', message: /outside the model's 4 classes/ });
});

test('engine: out-of-range labels are rejected before the graph runs', async () => {
  const e = await engine();
  const bad = makeDataset({ type: 'float32', data: x.slice(0, 2 * D), dims: [2, D] }, BigInt64Array.of(1n, 4n));
  await assert.rejects(e.grad(e.initialParams(), sliceBatch(bad, 0, 2)), { code: 'invalid-input', message: /label 4 is outside/ });
});

test('engine: dispose frees the sessions; a new engine builds them again and still computes right', async () => {
  await shutdownRuntime(); // earlier tests' engines share these graphs' sessions: start with no other holder
  const e = await engine();
  const batch = sliceBatch(ds, 0, N);
  await e.grad(e.initialParams(), batch);
  await e.dispose();
  const built = sessionsBuilt();
  const e2 = await engine();
  const g = await e2.grad(e2.initialParams(), batch);
  assert.equal(sessionsBuilt(), built + 2); // forward and grad graphs
  assert.ok(relL2(g.grads.get('W')!, softmaxReference(W, b, x, y, C, D).gW) < 1e-5);
});
