/**
 * src/linalg/cuda.ts without a GPU: the clear error when the CUDA libraries are absent, and everything else against
 * fake-cuda.c — a CPU stand-in for libcudart/libcublas/libcusolver with their signatures and column-major
 * semantics, compiled here with gcc — so argument order, triangles, leading dimensions, buffer reuse, the async queue
 * and the error paths are checked before a GPU ever runs it (bench/gpu/run.sh runs the real one).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CudaEigen, cudaCandidates } from '../../src/linalg/cuda.js';
import { matrixEigenvalues } from '../../src/linalg/eigen.js';
import { isWeightscopeError } from '../../src/errors.js';
import { fixture } from '../helpers/fixtures.js';
import { skipMissingSystemPackage } from '../helpers/system.js';
import { gaussian, maxRelDiff } from './linalg-fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const SRC = fileURLToPath(new URL('./fake-cuda.c', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ws-fake-cuda-'));

/** The fake built as the three sonames of CUDA 13 into `dir` (null when gcc is missing). */
function buildFake(dir: string, defines: string[] = []): string | null {
  mkdirSync(dir, { recursive: true });
  for (const lib of ['libcudart.so.13', 'libcublas.so.13', 'libcusolver.so.12']) {
    const r = spawnSync('gcc', ['-O2', '-shared', '-fPIC', ...defines, '-o', join(dir, lib), SRC, '-lm'], { encoding: 'utf8' });
    if (r.error) return null;
    assert.equal(r.status, 0, r.stderr);
  }
  return dir;
}
const fakeDir = buildFake(join(tmp, 'x'));
const legacyDir = fakeDir && buildFake(join(tmp, 'legacy'), ['-DLEGACY_ONLY']);

function needFake(t: TestContext): string | null {
  if (fakeDir) return fakeDir;
  skipMissingSystemPackage(t, 'gcc absent (builds the fake CUDA libraries): apt-get install -y gcc');
  return null;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 1 << 26 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs fn with the fake's environment knobs set (read by the C code at call time), then clears them. */
async function withKnobs<T>(knobs: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  Object.assign(process.env, knobs);
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(knobs)) delete process.env[k];
  }
}

const SHAPES: [number, number][] = [
  [60, 17],
  [17, 60],
  [33, 33],
  [5, 80],
  [80, 5],
  [40, 12],
];

test("search order: WEIGHTSCOPE_CUDA_LIBS folders first (newest soname first), then the loader's CUDA 13 and 12 sonames", (t) => {
  const dir = needFake(t);
  if (!dir) return;
  const c = cudaCandidates({ WEIGHTSCOPE_CUDA_LIBS: `${join(tmp, 'none')}:${dir}` });
  assert.equal(c.cusolver[0], join(dir, 'libcusolver.so.12'));
  assert.deepEqual(c.cusolver.slice(-2), ['libcusolver.so.12', 'libcusolver.so.11']);
  assert.deepEqual(c.cublas.slice(-2), ['libcublas.so.13', 'libcublas.so.12']);
});

test('analyze --device cuda without CUDA libraries: one line naming libcusolver and WEIGHTSCOPE_CUDA_LIBS, exit 1', async () => {
  const empty = join(tmp, 'empty');
  mkdirSync(empty, { recursive: true });
  const r = await cli(['analyze', fixture('fmnist-hessian', 'mlp48.safetensors'), '--device', 'cuda'], { WEIGHTSCOPE_CUDA_LIBS: empty });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /^weightscope: device 'cuda' is not available for eigenvalues: libcusolver\.so not found \(looked in .*empty.*\)\. Set WEIGHTSCOPE_CUDA_LIBS/,
  );
});

test('analyze --device: bad values and a clash with --eigen-backend are usage errors (exit 2)', async () => {
  const m = fixture('fmnist-hessian', 'mlp48.safetensors');
  const bad = await cli(['analyze', m, '--device', 'gpu'], {});
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--device must be cpu or cuda \(got "gpu"\)/);
  const clash = await cli(['analyze', m, '--device', 'cuda', '--eigen-backend', 'ts'], {});
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /--device cuda and --eigen-backend exclude each other/);
});

test('fake CUDA: dsyrk + Xsyevd give the squared singular values of tall, wide and square matrices; buffers are reused', async (t) => {
  const dir = needFake(t);
  if (!dir) return;
  const gpu = CudaEigen.open({ WEIGHTSCOPE_CUDA_LIBS: dir });
  try {
    assert.equal(gpu.info.solver, 'cusolverDnXsyevd');
    assert.equal(gpu.info.device, 'Fake GPU (test/linalg/fake-cuda.c)');
    assert.equal(gpu.info.libs.cusolver, join(dir, 'libcusolver.so.12'));
    // Sequential, then all at once (the queue must keep them apart), shapes growing and shrinking.
    for (const [i, [r, c]] of SHAPES.entries()) {
      const W = gaussian(r * c, 100 + i);
      const got = await gpu.eigenvalues(W, r, c);
      const want = matrixEigenvalues(W, r, c, { backend: 'ts' });
      assert.equal(got.length, Math.min(r, c));
      assert.ok(maxRelDiff(got, want) < 1e-12, `${r}×${c}: ${maxRelDiff(got, want)}`);
    }
    const Ws = SHAPES.map(([r, c], i) => gaussian(r * c, 200 + i));
    const all = await Promise.all(SHAPES.map(([r, c], i) => gpu.eigenvalues(Ws[i], r, c)));
    all.forEach((got, i) => assert.ok(maxRelDiff(got, matrixEigenvalues(Ws[i], ...SHAPES[i], { backend: 'ts' })) < 1e-12));
    // W is read, not changed.
    const W = gaussian(40 * 12, 9);
    const copy = W.slice();
    await gpu.eigenvalues(W, 40, 12);
    assert.deepEqual(W, copy);
  } finally {
    await gpu.close();
  }
  await assert.rejects(gpu.eigenvalues(gaussian(12, 1), 3, 4), /closed/);
});

test('fake CUDA without the 64-bit API: the legacy cusolverDnDsyevd gives the same values', async (t) => {
  if (!needFake(t) || !legacyDir) return;
  const gpu = CudaEigen.open({ WEIGHTSCOPE_CUDA_LIBS: legacyDir });
  try {
    assert.equal(gpu.info.solver, 'cusolverDnDsyevd');
    for (const [r, c] of SHAPES) {
      const W = gaussian(r * c, r + c);
      assert.ok(maxRelDiff(await gpu.eigenvalues(W, r, c), matrixEigenvalues(W, r, c, { backend: 'ts' })) < 1e-12);
    }
  } finally {
    await gpu.close();
  }
});

test('fake CUDA errors: no device, a non-converging syevd (that matrix only), out of device memory, NaN input', async (t) => {
  const dir = needFake(t);
  if (!dir) return;
  const env = { WEIGHTSCOPE_CUDA_LIBS: dir };
  await withKnobs({ FAKE_CUDA_DEVICES: '0' }, async () => {
    assert.throws(
      () => CudaEigen.open(env),
      (e) =>
        isWeightscopeError(e) &&
        e.code === 'device-unavailable' &&
        /no CUDA device \(cudaGetDeviceCount: error 100 cudaErrorNoDevice/.test(e.message),
    );
  });
  const gpu = CudaEigen.open(env);
  try {
    await withKnobs({ FAKE_CUDA_SYEVD_INFO: '3' }, async () => {
      await assert.rejects(
        gpu.eigenvalues(gaussian(30, 1), 6, 5),
        (e) => isWeightscopeError(e) && e.code === 'numerical' && /failed to converge \(info=3\)/.test(e.message),
      );
    });
    const W = gaussian(30, 2);
    assert.ok(
      maxRelDiff(await gpu.eigenvalues(W, 6, 5), matrixEigenvalues(W, 6, 5, { backend: 'ts' })) < 1e-12,
      'the next matrix still runs',
    );
    await withKnobs({ FAKE_CUDA_MALLOC_LIMIT: '100000' }, async () => {
      await assert.rejects(
        gpu.eigenvalues(gaussian(200 * 100, 3), 200, 100),
        (e) =>
          isWeightscopeError(e) &&
          e.code === 'too-large' &&
          /cudaMalloc of 0.2 MiB failed: error 2 cudaErrorMemoryAllocation \(1024.0 MiB of 2048.0 MiB free/.test(e.message),
      );
    });
    const bad = gaussian(12, 4);
    bad[7] = NaN;
    await assert.rejects(
      gpu.eigenvalues(bad, 3, 4),
      (e) => isWeightscopeError(e) && e.code === 'numerical' && /row 1, column 3/.test(e.message),
    );
  } finally {
    await gpu.close();
  }
});

test('analyze --device cuda on the fake: the same rows as the CPU path (gpt2-tiny, 18 layers)', async (t) => {
  const dir = needFake(t);
  if (!dir) return;
  const m = fixture('gpt2-tiny', 'model.safetensors');
  const [gpu, cpu] = await Promise.all([
    cli(['analyze', m, '--device', 'cuda', '--json', '--fits', 'pl'], { WEIGHTSCOPE_CUDA_LIBS: dir }),
    cli(['analyze', m, '--json', '--fits', 'pl'], {}),
  ]);
  assert.equal(gpu.code, 0, gpu.stderr);
  assert.equal(cpu.code, 0, cpu.stderr);
  const a = (JSON.parse(gpu.stdout) as { layers: Record<string, number>[] }).layers;
  const b = (JSON.parse(cpu.stdout) as { layers: Record<string, number>[] }).layers;
  assert.equal(a.length, 18);
  assert.deepEqual(
    a.map((l) => l.name),
    b.map((l) => l.name),
  );
  for (const [i, l] of a.entries()) {
    for (const k of ['alpha', 'lambda_max', 'stable_rank', 'log_norm', 'xmin']) {
      assert.ok(Math.abs(l[k] - b[i][k]) <= 1e-9 * Math.abs(b[i][k]), `${l.name}.${k}: ${l[k]} vs ${b[i][k]}`);
    }
  }
});
