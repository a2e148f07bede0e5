/**
 * Resident data feeds: a batch's arrays cross to the runtime worker once and are then passed by reference; results
 * are bit-identical to sending them every time, an evicted or restarted worker gets them again, and a new Batch with
 * changed data is seen as new.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { getSession, residentStats, setResidentLimit, setRuntimeMode, shutdownRuntime } from '../../src/runtime/session.js';
import { createEngine } from '../../src/runtime/engine.js';
import { loadDataset, sliceBatch, type Batch } from '../../src/runtime/dataset.js';
import { fixture } from '../helpers/fixtures.js';
import { mat, matmul, residentDelta as delta, values } from './graphs.js';

// The same in both runtime modes (session worker, or this thread).
for (const mode of ['worker', 'inline'] as const) {
  test(`resident (${mode}): a data feed is sent once, then by reference, with the same results`, async () => {
    await setRuntimeMode(mode);
    const s = await getSession(matmul());
    const a = mat(1, 2, 3, 4, 5, 6, 7, 8, 9);
    const before = residentStats();
    const r1 = values(await s.run({ a, b: mat(1, 0, 0, 0, 1, 0, 0, 0, 1) }, undefined, { resident: ['a'] }));
    const r2 = values(await s.run({ a, b: mat(2, 0, 0, 0, 2, 0, 0, 0, 2) }, undefined, { resident: ['a'] }));
    const r3 = values(await s.run({ a, b: mat(0, 0, 1, 0, 1, 0, 1, 0, 0) }, undefined, { resident: ['a'] }));
    assert.deepEqual(delta(before), { uploads: 1, reuses: 2, resends: 0 });
    assert.deepEqual(r1, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(r2, [2, 4, 6, 8, 10, 12, 14, 16, 18]);
    assert.deepEqual(r3, [3, 2, 1, 6, 5, 4, 9, 8, 7]); // columns reversed
    // The same numbers as a plain (non-resident) run.
    assert.deepEqual(values(await s.run({ a, b: mat(2, 0, 0, 0, 2, 0, 0, 0, 2) })), r2);
  });

  test(`resident (${mode}): an evicted feed is resent and the result is still right`, async () => {
    await setRuntimeMode(mode);
    const s = await getSession(matmul());
    const eye = mat(1, 0, 0, 0, 1, 0, 0, 0, 1);
    const a1 = mat(1, 1, 1, 1, 1, 1, 1, 1, 1);
    const a2 = mat(2, 2, 2, 2, 2, 2, 2, 2, 2);
    await setResidentLimit(40); // one 36-byte matrix fits, two do not
    try {
      const before = residentStats();
      assert.deepEqual(values(await s.run({ a: a1, b: eye }, undefined, { resident: ['a'] })), Array(9).fill(1));
      assert.deepEqual(values(await s.run({ a: a2, b: eye }, undefined, { resident: ['a'] })), Array(9).fill(2)); // evicts a1
      assert.deepEqual(values(await s.run({ a: a1, b: eye }, undefined, { resident: ['a'] })), Array(9).fill(1));
      // a1 went by reference, the worker lacked it, and it went again with its bytes.
      assert.deepEqual(delta(before), { uploads: 3, reuses: 1, resends: 1 });
      // A limit of 0 keeps nothing: every by-reference run falls back to a resend.
      await setResidentLimit(0);
      const zero = residentStats();
      assert.deepEqual(values(await s.run({ a: a2, b: eye }, undefined, { resident: ['a'] })), Array(9).fill(2));
      assert.deepEqual(delta(zero), { uploads: 1, reuses: 1, resends: 1 });
    } finally {
      await setResidentLimit(256 * 2 ** 20);
    }
  });
}

after(() => setRuntimeMode('worker'));

test('resident: a restarted worker gets the feed again', async () => {
  await setRuntimeMode('worker');
  const a = mat(1, 2, 3, 4, 5, 6, 7, 8, 9);
  const eye = mat(1, 0, 0, 0, 1, 0, 0, 0, 1);
  const s1 = await getSession(matmul());
  await s1.run({ a, b: eye }, undefined, { resident: ['a'] });
  await shutdownRuntime();
  const s2 = await getSession(matmul());
  const before = residentStats();
  assert.deepEqual(values(await s2.run({ a, b: eye }, undefined, { resident: ['a'] })), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(delta(before), { uploads: 1, reuses: 0, resends: 0 });
});

const bits = (m: ReadonlyMap<string, Float32Array>) => [...m.values()].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));

test('resident: engine grad/hvp on the same Batch are bit-identical, and a new Batch with changed data is new', async () => {
  await setRuntimeMode('worker');
  // One lane: the counts below are per session (sharded lanes each hold their own shard: see sharding.test.ts).
  const e = await createEngine(fixture('fmnist-hessian', 'mlp48.onnx'), { loss: 'classification', shards: 1 });
  const batch = sliceBatch(await loadDataset(fixture('fmnist-hessian', 'batch.safetensors')), 0, 200);
  const p = e.initialParams();
  const v = new Map(e.params.map((s) => [s.name, Float32Array.from({ length: s.size }, (_, i) => Math.sin(i))]));
  const before = residentStats();
  const g1 = await e.grad(p, batch);
  const g2 = await e.grad(p, batch);
  const h1 = await e.hvp(p, batch, v);
  const h2 = await e.hvp(p, batch, v);
  const m1 = await e.hvpMean(p, [batch, batch], v);
  const m2 = await e.hvpMean(p, [batch, batch], v);
  // x and y are uploaded once (the store is shared by the grad and Hv sessions), then go by reference: 2·(1+2+4).
  assert.deepEqual(delta(before), { uploads: 2, reuses: 14, resends: 0 });
  assert.equal(g1.loss, g2.loss);
  assert.deepEqual(bits(g1.grads), bits(g2.grads));
  assert.equal(h1.loss, h2.loss);
  assert.deepEqual(bits(h1.hv), bits(h2.hv));
  assert.equal(m1.loss, m2.loss);
  assert.deepEqual(bits(m1.hv), bits(m2.hv));

  // The same data in new arrays: uploaded anew, same bits.
  const copy: Batch = {
    x: { ...batch.x, data: batch.x.data.slice() },
    y: batch.y && { ...batch.y, data: batch.y.data.slice() },
    size: batch.size,
  };
  const gc = await e.grad(p, copy);
  assert.equal(gc.loss, g1.loss);
  assert.deepEqual(bits(gc.grads), bits(g1.grads));

  // Changed data in a new Batch: different numbers (the resident copy of the old batch is not used).
  const x = (batch.x.data as Float32Array).slice();
  for (let i = 0; i < x.length; i++) x[i] *= 0.5;
  const changed: Batch = { x: { ...batch.x, data: x }, y: batch.y, size: batch.size };
  const gm = await e.grad(p, changed);
  assert.notEqual(gm.loss, g1.loss);
  assert.notDeepEqual(bits(gm.grads), bits(g1.grads));
  // ...and the old batch still gives its own numbers.
  const g3 = await e.grad(p, batch);
  assert.equal(g3.loss, g1.loss);
  assert.deepEqual(bits(g3.grads), bits(g1.grads));
  await e.dispose();
});
