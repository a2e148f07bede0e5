import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitPowerLaw, plWarning, wwScan } from '../../src/spectral/pl.js';
import { ESD_NAMES, esd, expected, rng } from './helpers.js';

const close = (a: number, b: number, tol: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (|Δ| ${Math.abs(a - b)} > ${tol})`);

for (const name of ESD_NAMES) {
  test(`WW default PL fit on the KDD '${name}' ESD matches WWFit to 1e-12`, () => {
    const e = expected(name).ww_pl;
    const f = fitPowerLaw(esd(name));
    assert.equal(f.status, 'ok');
    close(f.alpha, e.alpha, 1e-12, 'alpha');
    close(f.xmin, e.xmin, 1e-12, 'xmin');
    close(f.D, e.D, 1e-12, 'D');
    close(f.sigma, e.sigma, 1e-12, 'sigma');
    assert.equal(f.n_tail, e.n_tail);
    // num_pl_spikes counts all eigenvalues ≥ xmin (zeros or not), xmax = largest eigenvalue
    const ev = esd(name);
    assert.equal(f.num_pl_spikes, ev.filter((v) => v >= f.xmin).length);
    assert.equal(f.xmax, Math.max(...ev));
  });

  test(`KDD / old-WW PL fit (xmax = max λ) on '${name}' matches powerlaw 1.5 to 1e-9`, () => {
    const e = expected(name).kdd_pl_xmax_max;
    const f = fitPowerLaw(esd(name), { variant: 'kdd' });
    close(f.alpha, e.alpha, 1e-9, 'alpha');
    close(f.xmin, e.xmin, 1e-9, 'xmin');
    close(f.D, e.D, 1e-9, 'D');
  });

  test(`clip_xmax and xmax = −1 on '${name}' match WW`, () => {
    const e = expected(name);
    const c = fitPowerLaw(esd(name), { clipXmax: true });
    close(c.alpha, e.clip_xmax.alpha, 1e-6, 'clip alpha');
    assert.equal(c.num_fingers, e.clip_xmax.num_fingers);
    if (e.clip_xmax.raw_alpha !== undefined) close(c.raw_alpha ?? NaN, e.clip_xmax.raw_alpha, 1e-6, 'raw alpha');
    const m = fitPowerLaw(esd(name), { dropTop: 1 });
    close(m.alpha, e.xmax_minus_1_alpha, 1e-6, 'xmax=-1 alpha');
  });
}

/** The O(n²) WWFit written out plainly, to check that pruning never changes the selection. */
function bruteWW(x: Float64Array): { alpha: number; D: number; i: number } {
  const N = x.length;
  let best = { alpha: NaN, D: Infinity, i: -1 };
  for (let i = 0; i < N - 1; i++) {
    const n = N - i;
    let sl = 0;
    for (let k = i; k < N; k++) sl += Math.log(x[k]);
    const a = 1 + n / (sl - n * Math.log(x[i]));
    let D = 1;
    if (a > 1) {
      D = 0;
      for (let k = i; k < N; k++) D = Math.max(D, Math.abs(1 - Math.pow(x[k] / x[i], 1 - a) - (k - i) / n));
    }
    if (D < best.D) best = { alpha: a, D, i };
  }
  return best;
}

test('pruned scan selects the same candidate as the plain O(n²) scan (random ESDs, with ties)', () => {
  const u = rng(7);
  for (let trial = 0; trial < 20; trial++) {
    const n = 30 + Math.floor(u() * 300);
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.exp(3 * u()) * (trial % 2 ? 1 : Math.pow(1 - u(), -0.7));
    if (trial % 4 === 0) for (let i = 0; i < n; i += 5) x[i] = x[0]; // duplicates
    x.sort();
    const fast = wwScan(x);
    const slow = bruteWW(x);
    assert.ok(fast);
    assert.equal(fast.xmin, x[slow.i], `trial ${trial}`);
    close(fast.alpha, slow.alpha, 1e-12 * slow.alpha, 'alpha');
    close(fast.D, slow.D, 1e-13, 'D');
  }
});

test('Pareto sample: the MLE recovers the true alpha within 3 standard errors', () => {
  const u = rng(12345);
  const alpha = 2.5;
  const n = 20000;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = 0.5 * Math.pow(1 - u(), -1 / (alpha - 1));
  const f = fitPowerLaw(x);
  assert.equal(f.status, 'ok');
  assert.ok(Math.abs(f.alpha - alpha) < 3 * f.sigma + 0.01, `alpha ${f.alpha} sigma ${f.sigma}`);
  assert.ok(f.sigma > 0 && f.sigma < 0.05);
});

test('failures: too few points, all-equal tail, NaN, bad dropTop; WW failure values', () => {
  const one = fitPowerLaw(Float64Array.of(3));
  assert.equal(one.status, 'failed');
  assert.match(one.reason ?? '', /fewer than 2/);
  assert.equal(one.alpha, -1);
  assert.equal(one.num_pl_spikes, -1);
  const zeros = fitPowerLaw(Float64Array.of(0, 0, 1e-7, 2));
  assert.equal(zeros.status, 'failed');
  const eq = fitPowerLaw(new Float64Array(50).fill(4));
  assert.equal(eq.status, 'failed');
  assert.match(eq.reason ?? '', /equal/);
  const nan = fitPowerLaw(Float64Array.of(1, 2, NaN, 4));
  assert.equal(nan.status, 'failed');
  assert.match(nan.reason ?? '', /non-finite/);
  assert.equal(fitPowerLaw(esd('good'), { dropTop: 400 }).status, 'failed');
  assert.equal(fitPowerLaw(esd('good'), { dropTop: 0 }).status, 'failed');
});

test('warning thresholds are WW’s (2 and 6, strict)', () => {
  assert.equal(plWarning(1.99), 'over-trained');
  assert.equal(plWarning(2), '');
  assert.equal(plWarning(6), '');
  assert.equal(plWarning(6.01), 'under-trained');
  assert.equal(plWarning(-1), 'over-trained');
});
