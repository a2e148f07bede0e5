/**
 * Rng.fillNormal (the ziggurat over xoshiro128**): standard-normal moments and CDF, determinism, chunking
 * independence, and that it leaves the generator's other methods working on the same stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/random.js';

/** Φ by the Abramowitz–Stegun 7.1.26 erf (|error| < 1.5e-7). */
function phi(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

test('fillNormal: mean 0, variance 1, skew 0, kurtosis 3, tails and the Kolmogorov–Smirnov distance of a normal', () => {
  const n = 1_000_000;
  const x = new Float64Array(n);
  new Rng(42).fillNormal(x);
  let m = 0;
  for (const v of x) m += v / n;
  let m2 = 0,
    m3 = 0,
    m4 = 0;
  for (const v of x) {
    const d = v - m;
    m2 += (d * d) / n;
    m3 += (d * d * d) / n;
    m4 += (d * d * d * d) / n;
  }
  assert.ok(Math.abs(m) < 4 / Math.sqrt(n), `mean ${m}`);
  assert.ok(Math.abs(m2 - 1) < 4 * Math.sqrt(2 / n), `variance ${m2}`);
  assert.ok(Math.abs(m3 / m2 ** 1.5) < 4 * Math.sqrt(6 / n), `skew ${m3}`);
  assert.ok(Math.abs(m4 / (m2 * m2) - 3) < 4 * Math.sqrt(24 / n), `kurtosis ${m4 / (m2 * m2)}`);
  // Tails beyond the ziggurat's base layer (r = 3.44): P(|x| > 3.5) = 4.65e-4.
  const tail = x.filter((v) => Math.abs(v) > 3.5).length / n;
  assert.ok(Math.abs(tail - 4.6525e-4) < 4 * Math.sqrt(4.65e-4 / n), `tail ${tail}`);
  const s = Float64Array.from(x).sort();
  let ks = 0;
  for (let i = 0; i < n; i += 97) ks = Math.max(ks, Math.abs(phi(s[i]) - (i + 0.5) / n));
  assert.ok(ks < 1.63 / Math.sqrt(n) + 2e-6, `KS ${ks}`); // 1% critical value
});

test('fillNormal: seeded, the same in one fill or in chunks, float32 alike, and the generator stays usable', () => {
  const a = new Float64Array(10_000);
  new Rng(7).fillNormal(a);
  const r = new Rng(7);
  const b = new Float64Array(10_000);
  r.fillNormal(b.subarray(0, 3333));
  r.fillNormal(b.subarray(3333));
  assert.deepEqual(b, a);
  const f = new Float32Array(10_000);
  new Rng(7).fillNormal(f);
  assert.deepEqual(f, Float32Array.from(a));
  assert.notDeepEqual(
    a.slice(0, 10),
    (() => {
      const c = new Float64Array(10);
      new Rng(8).fillNormal(c);
      return c;
    })(),
  );
  // After a fill the generator continues: two generators in the same state give the same next draws.
  const p = new Rng(9),
    q = new Rng(9);
  p.fillNormal(new Float32Array(1000));
  q.fillNormal(new Float32Array(1000));
  assert.equal(p.nextUint32(), q.nextUint32());
  assert.equal(p.uniform(), q.uniform());
  const u = p.uniform();
  assert.ok(u >= 0 && u < 1);
  // The inlined step is nextUint32's: a value taken on the fast path (about 99%) advances the state by one draw.
  let same = 0;
  for (let seed = 1; seed <= 50; seed++) {
    const g = new Rng(seed),
      h = new Rng(seed);
    g.fillNormal(new Float64Array(1));
    h.nextUint32();
    if (g.nextUint32() === h.nextUint32()) same++;
  }
  assert.ok(same >= 45, `${same}/50`);
});
