import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getSession, graphKey, parseDevice, sessionsBuilt } from '../../src/runtime/session.js';
import { chain } from './graphs.js';

test('session: results are right, and the same graph bytes reuse one session', async () => {
  const bytes = chain(3, 2);
  const s = await getSession(bytes);
  assert.deepEqual(s.inputNames, ['a', 'b']);
  const a = { type: 'float32' as const, data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), dims: [3, 3] };
  const eye2 = { type: 'float32' as const, data: Float32Array.from([2, 0, 0, 0, 2, 0, 0, 0, 2]), dims: [3, 3] };
  const out = await s.run({ a, b: eye2 });
  assert.deepEqual([...(out.c.data as Float32Array)], [4, 8, 12, 16, 20, 24, 28, 32, 36]);
  const built = sessionsBuilt();
  const again = await getSession(chain(3, 2)); // equal bytes, new buffer
  assert.equal(again.key, s.key);
  assert.equal(sessionsBuilt(), built);
  assert.ok(s.key.startsWith(`${graphKey(bytes)}:cpu:`), s.key);
  const other = await getSession(chain(3, 3));
  assert.notEqual(other.key, s.key);
  assert.equal(sessionsBuilt(), built + 1);
});

test('session: a missing execution provider is a device-unavailable error, never a CPU fallback', async () => {
  const bytes = chain(2, 1);
  for (const device of ['webgpu', 'cuda'] as const) {
    const got = await getSession(bytes, { device }).then(
      (s) => ({ s, e: null }),
      (e: Error & { code?: string }) => ({ s: null, e }),
    );
    if (got.s) {
      // A machine that has this provider: the session must really run there.
      const a = { type: 'float32' as const, data: new Float32Array(4).fill(1), dims: [2, 2] };
      assert.ok((await got.s.run({ a, b: a })).c, `${device} session ran`);
      continue;
    }
    assert.equal(got.e?.code, 'device-unavailable');
    assert.match(got.e?.message ?? '', new RegExp(`device '${device}' is not available`));
    assert.doesNotMatch(got.e?.message ?? '', /\n/);
  }
  assert.throws(() => parseDevice('tpu'), { code: 'invalid-input', message: /unknown device 'tpu'/ });
});

test('session: bad graphs and bad feeds are WeightscopeErrors', async () => {
  await assert.rejects(getSession(Uint8Array.from([1, 2, 3, 4, 5])), { name: 'WeightscopeError' });
  const s = await getSession(chain(2, 1));
  const a = { type: 'float32' as const, data: new Float32Array(4), dims: [2, 2] };
  await assert.rejects(s.run({ a }), { code: 'invalid-input', message: /'b' was not given/ });
  await assert.rejects(s.run({ a, b: { type: 'float32', data: new Float32Array(8), dims: [2, 2, 2] } }), { code: 'shape-mismatch' });
});
