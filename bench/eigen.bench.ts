/**
 * Eigenvalue backends, timed. Not a test. Run: node --import tsx bench/eigen.bench.ts [gram] [eig768] [eig4096] [pool]
 * [stages] (no argument = all but eig4096 and stages). `stages` times, per order n of a Gram matrix, dsyevd against the
 * two-stage reduction stage by stage (dense→band, band→tridiagonal, dsterf) for a few band widths, one OpenBLAS
 * thread (as each worker of an analysis runs) — the measurements behind TWO_STAGE_MIN_N and twoStageBandwidth. Prints wall seconds; load from other processes skews them, so each number is
 * the best of `REPS` runs (env, default 1 for the big cases).
 */
import { availableParallelism, loadavg } from 'node:os';
import { gram } from '../src/linalg/gram.js';
import { matrixEigenvalues, symmetricEigenvalues } from '../src/linalg/eigen.js';
import {
  getBlasThreads,
  lapackEigenvalues,
  lapackStatus,
  setBlasThreads,
  twoStageValuesInPlace,
  type EigenTimings,
} from '../src/linalg/lapack.js';
import { EigenPool } from '../src/linalg/pool.js';

function normals(len: number, seed: number): Float64Array {
  let x = seed >>> 0 || 1;
  const out = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    // Sum of 4 uniforms: Gaussian enough for timing.
    let s = 0;
    for (let k = 0; k < 4; k++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      s += x / 4294967296;
    }
    out[i] = (s - 2) * 0.02;
  }
  return out;
}

function time<T>(label: string, f: () => T, reps = 1): T {
  let best = Infinity;
  let cpu = 0;
  let r!: T;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    r = f();
    const dt = performance.now() - t;
    if (dt < best) {
      best = dt;
      const c = process.cpuUsage(c0);
      cpu = (c.user + c.system) / 1e6;
    }
  }
  // CPU seconds of the whole process (OpenBLAS threads included); under foreign load wall ≫ CPU.
  console.log(`${label.padEnd(48)} ${(best / 1000).toFixed(3)} s wall (${cpu.toFixed(3)} s CPU)`);
  return r;
}

function relDiff(a: Float64Array, b: Float64Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / Math.abs(b[b.length - 1]);
}

const parts = process.argv.slice(2);
const want = (p: string): boolean => (parts.length ? parts.includes(p) : p !== 'eig4096' && p !== 'stages');
const reps = Number(process.env.REPS ?? 1);
console.log(
  `LAPACK: ${JSON.stringify(lapackStatus())}, cores ${availableParallelism()}, OpenBLAS threads ${getBlasThreads()}, load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);

if (want('gram')) {
  const W = normals(768 * 3072, 1);
  const a = time('gram 768×3072 (WWᵀ) BLAS dsyrk', () => gram(W, 768, 3072, { backend: 'blas' }), reps);
  const b = time('gram 768×3072 (WWᵀ) TS blocked', () => gram(W, 768, 3072, { backend: 'ts' }), reps);
  console.log(`  max |ΔG| / max G = ${relDiff(a.G, b.G).toExponential(2)}`);
  const Wt = normals(3072 * 768, 2);
  time('gram 3072×768 (WᵀW) BLAS dsyrk', () => gram(Wt, 3072, 768, { backend: 'blas' }), reps);
  time('gram 3072×768 (WᵀW) TS blocked', () => gram(Wt, 3072, 768, { backend: 'ts' }), reps);
}

if (want('eig768')) {
  const W = normals(768 * 3072, 3);
  const a = time('768×3072 gram+eig LAPACK (dsyrk+dsyevd)', () => matrixEigenvalues(W, 768, 3072, { backend: 'lapack' }), reps);
  const b = time('768×3072 gram+eig TS', () => matrixEigenvalues(W, 768, 3072, { backend: 'ts' }), reps);
  console.log(`  max |Δλ| / λmax = ${relDiff(b, a).toExponential(2)}`);
}

for (const n of [1024, 2048]) {
  if (!want(`eig${n}`)) continue;
  const { G } = gram(normals(n * n, 4), n, n, { backend: 'blas' });
  setBlasThreads(1);
  const a = time(`${n}² Gram eig dsyevd, 1 OpenBLAS thread`, () => symmetricEigenvalues(G, n, { backend: 'lapack' }));
  const b = time(`${n}² Gram eig TS`, () => symmetricEigenvalues(G, n, { backend: 'ts' }));
  console.log(`  max |Δλ| / λmax = ${relDiff(b, a).toExponential(2)}`);
}

if (want('eig4096')) {
  const n = 4096;
  const { G } = gram(normals(n * n, 4), n, n, { backend: 'blas' });
  for (const th of [1, 2]) {
    if (setBlasThreads(th))
      time(`4096² Gram eig dsyevd, ${th} OpenBLAS thread(s)`, () => symmetricEigenvalues(G, n, { backend: 'lapack' }));
  }
  const a = symmetricEigenvalues(G, n, { backend: 'lapack' });
  const b = time('4096² Gram eig TS (Householder + QL)', () => symmetricEigenvalues(G, n, { backend: 'ts' }));
  console.log(`  max |Δλ| / λmax = ${relDiff(b, a).toExponential(2)}`);
}

if (want('pool')) {
  // GPT-2-small shapes: per block c_attn 768×2304, attn c_proj 768×768, c_fc 768×3072, mlp c_proj 3072×768; + wpe.
  const shapes: [number, number][] = [];
  for (let b = 0; b < 12; b++) shapes.push([768, 2304], [768, 768], [768, 3072], [3072, 768]);
  shapes.push([1024, 768]);
  const mats = shapes.map(([r, c], i) => normals(r * c, 10 + i));
  for (const backend of (process.env.POOL_BACKENDS ?? 'lapack,ts').split(',') as ('lapack' | 'ts')[]) {
    setBlasThreads(1);
    const seq = time(`49 GPT-2 matrices, ${backend}, sequential in-thread`, () =>
      mats.map((W, i) => matrixEigenvalues(W, shapes[i][0], shapes[i][1], { backend })),
    );
    const t0 = performance.now();
    const pool = new EigenPool({ backend });
    // Warm-up: worker start (and tsx compiling the sources in each worker) is timed apart.
    await Promise.all(Array.from({ length: pool.size }, () => pool.run(Float64Array.of(1, 2, 3, 4), 2, 2)));
    const c0 = process.cpuUsage();
    const t = performance.now();
    const got = await Promise.all(mats.map((W, i) => pool.run(W, shapes[i][0], shapes[i][1], { copy: true })));
    const dt = (performance.now() - t) / 1000;
    const c = process.cpuUsage(c0);
    await pool.close();
    const same = got.every((g, i) => g.every((v, j) => v === seq[i][j]));
    console.log(
      `${`49 GPT-2 matrices, ${backend}, EigenPool(${pool.size})`.padEnd(48)} ${dt.toFixed(3)} s wall (${((c.user + c.system) / 1e6).toFixed(3)} s CPU, start-up ${((t - t0) / 1000).toFixed(2)} s; identical: ${same})`,
    );
  }
}

if (want('stages')) {
  setBlasThreads(Number(process.env.THREADS ?? 1));
  // wall and CPU seconds (CPU: less sensitive to other processes on a shared machine), best of `reps`
  const measure = (f: () => void): { wall: number; cpu: number } => {
    let best = { wall: Infinity, cpu: Infinity };
    for (let r = 0; r < reps; r++) {
      const c0 = process.cpuUsage();
      const t = performance.now();
      f();
      const wall = (performance.now() - t) / 1000;
      const c = process.cpuUsage(c0);
      if (wall < best.wall) best = { wall, cpu: (c.user + c.system) / 1e6 };
    }
    return best;
  };
  for (const n of (process.env.SIZES ?? '768,1024,1536,2048,3072,4096').split(',').map(Number)) {
    // a Gaussian Gram matrix of a 2n×n weight, as a tall layer gives
    const { G } = gram(normals(2 * n * n, 5), 2 * n, n, { backend: 'blas' });
    const one = measure(() => lapackEigenvalues(G.slice(), n, { method: 'dsyevd' }));
    const cells = [`n ${n}: dsyevd ${one.wall.toFixed(3)} s (CPU ${one.cpu.toFixed(3)})`];
    for (const kd of (process.env.KDS ?? '32,64,96').split(',').map(Number)) {
      let tm: EigenTimings = { method: '2stage', reduce: 0, band: 0, solve: 0 };
      const two = measure(() => {
        tm = { method: '2stage', reduce: 0, band: 0, solve: 0 };
        twoStageValuesInPlace(G.slice(), n, kd, tm);
      });
      const tot = tm.reduce + tm.band + tm.solve;
      cells.push(
        `kd ${kd}: ${two.wall.toFixed(3)} s (CPU ${two.cpu.toFixed(3)}; dense→band ${tm.reduce.toFixed(3)}, band→tri ${tm.band.toFixed(3)} = ${((100 * tm.band) / tot).toFixed(0)}%, dsterf ${tm.solve.toFixed(3)})`,
      );
    }
    console.log(cells.join(' | ') + `; load ${loadavg()[0].toFixed(1)}`);
  }
}
