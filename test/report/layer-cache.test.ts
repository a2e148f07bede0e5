/** The per-layer cache: spectra round-trip exactly, the size bound evicts least recently used entries, damage is a miss. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LayerCache, fingerprint, spectrumKey } from '../../src/report/layer-cache.js';

const JOB = { dtype: 'BF16', shape: [4, 3], layer_type: 'dense', backend: 'lapack' } as const;

test('layer cache: exact round trip, keys by content and matrix rules, LRU bound, damaged entries miss', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-cache-'));
  try {
    const cache = LayerCache.open(dir, 20_000);
    const a = [Float64Array.of(1e-300, Math.PI, 7), Float64Array.of(-0, 2)];
    const k1 = spectrumKey('aa', JOB);
    assert.notEqual(spectrumKey('aa', { ...JOB, dtype: 'F16' }), k1);
    assert.notEqual(spectrumKey('aa', { ...JOB, backend: 'ts' }), k1);
    assert.notEqual(spectrumKey('aa', { ...JOB, scale: { kind: 'tensor', value: 2 } }), k1);
    assert.notEqual(spectrumKey('ab', JOB), k1);
    cache.put(k1, { slices: a, problem: null });
    const got = cache.get(k1)!;
    assert.deepEqual(got.slices, a);
    assert.ok(Object.is(got.slices![1][0], -0));
    cache.put(spectrumKey('nan', JOB), { slices: null, problem: 'weights contain 1 NaN value' });
    assert.deepEqual(cache.get(spectrumKey('nan', JOB)), { slices: null, problem: 'weights contain 1 NaN value' });
    assert.equal(cache.get(spectrumKey('zz', JOB)), null);
    // ~8 KB entries under a 20 KB bound: the oldest go first, the bound holds
    for (let i = 0; i < 6; i++) {
      cache.put(spectrumKey(`big${i}`, JOB), { slices: [new Float64Array(1000).fill(i)], problem: null });
      assert.ok(cache.bytes() <= 20_000, `${cache.bytes()} bytes`);
    }
    assert.equal(cache.get(spectrumKey('big0', JOB)), null);
    assert.deepEqual(cache.get(spectrumKey('big5', JOB))?.slices?.[0][999], 5);
    // a fingerprint changes with the file
    const f = join(dir, 'w.bin');
    await writeFile(f, new Uint8Array(16));
    const fp = await fingerprint({ path: f, offset: 0, length: 16 });
    cache.rememberHash(fp, 'cafe');
    assert.equal(cache.knownHash(fp), 'cafe');
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(f, new Uint8Array(17));
    assert.notEqual(await fingerprint({ path: f, offset: 0, length: 16 }), fp);
    cache.close();
    // a damaged value is a miss, not an error
    const db = new Database(join(dir, 'layers.db'));
    db.prepare('UPDATE spectra SET value = ? WHERE key = ?').run(Buffer.from([1, 2, 3]), spectrumKey('big5', JOB));
    db.close();
    const again = LayerCache.open(dir, 20_000);
    assert.equal(again.get(spectrumKey('big5', JOB)), null);
    again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
