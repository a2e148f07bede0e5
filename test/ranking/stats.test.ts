import test from 'node:test';
import assert from 'node:assert/strict';
import { spearman, kendallTauB, kendallExactP, rankAverage, erfc, studentTSf } from '../../src/ranking/stats.js';

// Values printed by scipy 1.17.1: stats.spearmanr(x, y) and stats.kendalltau(x, y) with default arguments.
// Cases: n = 3, 5, 12, 20 (exact Kendall), n = 40 (normal approximation), n = 40 with one swap (exact because
// min(dis, con) ≤ 1), and ties (normal approximation with tie-corrected variance).
const SCIPY: { x: number[]; y: number[]; rho: number; sp: number; tau: number; kp: number }[] = [
  { x: [1.0, 2.0, 3.0], y: [3.5, 1.0, 2.0], rho: -0.5, sp: 0.6666666666666666, tau: -0.33333333333333337, kp: 1.0 },
  {
    x: [2.1, 3.4, 1.2, 5.5, 4.4],
    y: [0.3, 0.9, 0.1, 0.7, 0.8],
    rho: 0.6,
    sp: 0.28475697986529386,
    tau: 0.39999999999999997,
    kp: 0.48333333333333334,
  },
  {
    x: [0.00123, 0.298746, -0.274138, -0.890592, -0.454671, -0.991647, 0.060144, 1.340215, -0.492207, -0.620475, 0.489842, 0.356887],
    y: [0.106644, -0.631723, -0.30339, -0.195289, -1.798885, -1.449262, -1.841079, 0.050678, -2.333942, -0.855566, -0.777604, 0.628151],
    rho: 0.4125874125874127,
    sp: 0.18256397857316675,
    tau: 0.2727272727272727,
    kp: 0.24957952123750735,
  },
  {
    x: [
      0.156751, -0.186931, -2.51676, -0.538693, -0.048501, 0.113309, -1.530136, -0.477753, -0.978519, -0.808837, 1.060899, -0.807535,
      -0.032522, 0.88439, -0.5836, -0.111702, 0.110464, 0.063782, -1.225056, 0.07614, 1.358823, -1.547145, 0.859383, 0.119354, -0.64147,
      2.000417, 0.76226, -1.199289, 0.074516, 0.57669, -0.188782, 0.68291, -0.066517, 0.667248, 1.438523, -0.675662, 0.203139, -0.463308,
      0.127268, -1.187195,
    ],
    y: [
      -1.001852, -0.579323, -0.719232, 1.751751, -2.695557, -1.475976, -0.236329, -4.462593, -1.904859, -1.003411, 3.574929, 0.571273,
      -0.686949, 0.147238, -1.083991, 2.935357, -0.745586, -0.543579, -0.519878, -0.165401, 0.964255, -3.775279, 0.83634, -0.767808,
      1.690785, 3.306594, 0.713972, 0.137473, -0.605223, 2.680942, -0.199581, 1.849675, -2.648304, 1.360608, -1.937886, -4.74632, -0.405815,
      -2.263163, 0.455374, 3.302319,
    ],
    rho: 0.3418386491557224,
    sp: 0.030855742714814702,
    tau: 0.24615384615384617,
    kp: 0.025286429210293733,
  },
  {
    x: [
      0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0,
      24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0, 37.0, 38.0, 39.0,
    ],
    y: [
      0.0, 1.0, 2.0, 4.0, 3.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0,
      24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0, 37.0, 38.0, 39.0,
    ],
    rho: 0.9998123827392121,
    sp: 1.0477258152676973e-66,
    tau: 0.9974358974358974,
    kp: 9.804939513027087e-47,
  },
  {
    x: [1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0],
    y: [2.0, 1.0, 3.0, 3.0, 5.0, 4.0, 6.0, 7.0],
    rho: 0.9454719096527426,
    sp: 0.00038892732031594284,
    tau: 0.8680790595108567,
    kp: 0.0035968110928906666,
  },
  {
    x: [
      -0.831723, -0.623944, 0.205404, 0.493013, -0.176406, -0.20593, 0.702463, 0.519908, -1.033676, -0.079181, 0.035287, -1.054485,
      0.259839, -0.857956, 0.972067, 0.192746, 0.089306, -0.591028, -0.11861, -1.997746,
    ],
    y: [
      0.492301, 0.732796, -0.843974, -0.239031, -0.347423, 0.432952, -0.956112, -0.28621, 1.072961, -0.381869, 0.339458, 1.486997,
      -0.279581, 0.775782, -1.020027, -0.485292, 0.24027, 0.428161, 0.103253, 1.759757,
    ],
    rho: -0.8857142857142858,
    sp: 2.0720473917345206e-7,
    tau: -0.768421052631579,
    kp: 1.0352946382857873e-7,
  },
];

const close = (a: number | null, b: number, rel: number, what: string): void => {
  assert.ok(a !== null, `${what} is null`);
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b) + 1e-300, `${what}: ${a} vs scipy ${b}`);
};

test('spearman ρ and p match scipy.stats.spearmanr', () => {
  for (const c of SCIPY) {
    const r = spearman(c.x, c.y);
    close(r.value, c.rho, 1e-12, `rho n=${c.x.length}`);
    close(r.p, c.sp, 1e-9, `spearman p n=${c.x.length}`);
  }
});

test('kendall τ-b and p match scipy.stats.kendalltau (method auto)', () => {
  for (const c of SCIPY) {
    const r = kendallTauB(c.x, c.y);
    close(r.value, c.tau, 1e-12, `tau n=${c.x.length}`);
    close(r.p, c.kp, 1e-9, `kendall p n=${c.x.length}`);
  }
});

test('exact Kendall distribution: small n by enumeration of all permutations', () => {
  // n = 6: count permutations by inversions directly and compare 2·P(inv ≤ c).
  const n = 6;
  const inv: number[] = [];
  const perm = (a: number[], rest: number[]): void => {
    if (rest.length === 0) {
      let k = 0;
      for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) if (a[i] > a[j]) k++;
      inv.push(k);
      return;
    }
    rest.forEach((v, i) =>
      perm(
        [...a, v],
        rest.filter((_, j) => j !== i),
      ),
    );
  };
  perm([], [0, 1, 2, 3, 4, 5]);
  for (let c = 0; c <= 7; c++) {
    const expected = Math.min(1, (2 * inv.filter((k) => k <= c).length) / inv.length);
    close(kendallExactP(n, c), expected, 1e-12, `c=${c}`);
  }
});

test('ranks, special functions, degenerate input', () => {
  assert.deepEqual(rankAverage([3, 1, 3, 2]), [3.5, 1, 3.5, 2]);
  close(erfc(0.3), 0.6713732405408726, 1e-14, 'erfc(0.3)');
  close(erfc(2.5), 4.0695201744495886e-4, 1e-13, 'erfc(2.5)');
  close(erfc(6), 2.1519736712498913e-17, 1e-12, 'erfc(6)');
  close(studentTSf(2, 3), 0.06966298427942152, 1e-12, 't sf'); // scipy.stats.t.sf(2, 3)
  assert.deepEqual(spearman([1, 1, 1], [1, 2, 3]), { value: null, p: null });
  assert.deepEqual(kendallTauB([1], [2]), { value: null, p: null });
  assert.throws(() => spearman([1, 2], [1]), RangeError);
});
