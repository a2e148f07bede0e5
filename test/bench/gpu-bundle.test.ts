/**
 * The GPU check's bundle and script without a GPU (issue 19): bench/gpu/pack.sh builds a bundle of at most 60 MiB;
 * unpacked into an empty folder it runs `weightscope hvp` on the CPU with its own node and node_modules (nothing on
 * PATH but the system's tools) and gives the repository's numbers; bench/gpu/run.sh ends in seconds with
 * "no GPU adapter" and exit 3 — at once on a machine without a GPU, and after unpacking and probing the adapter with
 * the bundled node when forced past that check. CI packs at xz -1 (the same files, ~4× faster than the default -6).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { relL2Files } from '../../bench/gpu/table.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { SHARED, fixture } from '../helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ws-gpu-bundle-'));
const OUT = join(tmp, 'out');
const BUNDLE = join(OUT, 'weightscope-gpu.tar.xz');
const UNPACKED = join(tmp, 'unpacked');
/** A bare PATH: system tools only, no node_modules/.bin and no repository. */
const BARE_ENV = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', HOME: tmp, LANG: 'C' };
const hasGpuNodes = () => readdirSync('/dev').some((n) => /^nvidia\d/.test(n)) || existsSync('/dev/dri');

let packOutput = '';
before(() => {
  const r = spawnSync('bash', [join(ROOT, 'bench', 'gpu', 'pack.sh')], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, WEIGHTSCOPE_BUNDLE_OUT: OUT, WEIGHTSCOPE_XZ_LEVEL: '1', WEIGHTSCOPE_SHARED: SHARED },
  });
  assert.equal(r.status, 0, `pack.sh failed:\n${r.stdout}\n${r.stderr}`);
  packOutput = r.stdout;
  mkdirSync(UNPACKED);
  execFileSync('sh', ['-c', `xz -dc -T0 '${BUNDLE}' | tar -x -C '${UNPACKED}'`]);
});

function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { ...opts, maxBuffer: 1 << 24 }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

test('pack.sh: one bundle file ≤ 60 MiB with the Node binary, the compiled CLI, pruned node_modules, fixtures and .debs', () => {
  assert.deepEqual(readdirSync(OUT), ['weightscope-gpu.tar.xz'], 'the carried folder holds the bundle only');
  const size = statSync(BUNDLE).size;
  assert.ok(size <= 60 * 2 ** 20, `bundle is ${(size / 2 ** 20).toFixed(1)} MiB`);
  assert.match(
    packOutput,
    new RegExp(`weightscope-gpu\\.tar\\.xz: ${(size / 2 ** 20).toFixed(1)} MiB \\(\\d+\\.\\d MiB unpacked, xz -1\\)`),
  );
  for (const f of [
    'bin/node',
    'bin/weightscope',
    'app/src/cli/main.js',
    'app/bench/gpu/engine-time.js',
    'app/bench/gpu/table.js',
    'app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
    'app/node_modules/@koromix/koffi-linux-x64/package.json',
    'fixtures/fmnist-backdoor/clean_subset.safetensors',
    'fixtures/gpt2-tiny/onnx/model.onnx',
    'MANIFEST.json',
  ]) {
    assert.ok(existsSync(join(UNPACKED, f)), f);
  }
  const mods = readdirSync(join(UNPACKED, 'app', 'node_modules'));
  for (const gone of ['better-sqlite3', 'express', '@huggingface', 'onnxruntime-web', 'typescript', 'adm-zip'])
    assert.ok(!mods.includes(gone), gone);
  assert.deepEqual(readdirSync(join(UNPACKED, 'app/node_modules/onnxruntime-node/bin/napi-v6')), ['linux']);
  const debs = readdirSync(join(UNPACKED, 'debs'));
  for (const p of ['libvulkan1', 'libglvnd0', 'libopenblas0-pthread', 'libgfortran5'])
    assert.ok(
      debs.some((d) => d.startsWith(`${p}_`) && d.endsWith('_amd64.deb')),
      p,
    );
});

test('the unpacked bundle runs weightscope hvp on the CPU from an empty folder with its own node; same Hv as the repository', async () => {
  const node = await run(join(UNPACKED, 'bin', 'node'), ['-p', 'process.execPath'], { cwd: UNPACKED, env: BARE_ENV });
  assert.equal(node.stdout.trim(), join(UNPACKED, 'bin', 'node'));
  const F = fixture('fmnist-backdoor');
  const args = (out: string, data: string) => [
    'hvp',
    'MODEL',
    '--data',
    data,
    '--vector',
    join(F, 'grad_hvp.safetensors'),
    '--prefix',
    'v.',
    '--out',
    out,
    '--batch',
    '128',
    '--json',
  ];
  const bundled = args(join(tmp, 'hv-bundle.safetensors'), 'fixtures/fmnist-backdoor/clean_subset.safetensors');
  bundled[1] = 'fixtures/fmnist-backdoor/model_a.onnx';
  const a = await run('bin/weightscope', bundled, { cwd: UNPACKED, env: BARE_ENV });
  assert.equal(a.code, 0, a.stderr);
  const repo = args(join(tmp, 'hv-repo.safetensors'), join(F, 'clean_subset.safetensors'));
  repo[1] = join(F, 'model_a.onnx');
  const b = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...repo], { cwd: ROOT, env: process.env });
  assert.equal(b.code, 0, b.stderr);
  const ja = JSON.parse(a.stdout) as Record<string, number>,
    jb = JSON.parse(b.stdout) as Record<string, number>;
  assert.equal(ja.n, 128);
  assert.ok(Math.abs(ja.loss - jb.loss) < 1e-9 && Math.abs(ja.vHv - jb.vHv) <= 1e-6 * Math.abs(jb.vHv), `${a.stdout} vs ${b.stdout}`);
  const ra = await openSafetensors(join(tmp, 'hv-bundle.safetensors'));
  assert.equal(ra.tensors.length, 8);
  await ra.close();
  const d = await relL2Files(join(tmp, 'hv-bundle.safetensors'), join(tmp, 'hv-repo.safetensors'));
  assert.ok(d !== null && d < 1e-6, `rel. L2 ${d}`);
});

test('run.sh on a machine without a GPU: "no GPU adapter" and exit 3 within seconds', async (t) => {
  if (hasGpuNodes()) return t.skip('this machine has GPU device nodes: run.sh would run the whole check');
  const r = await run('bash', [join(ROOT, 'bench', 'gpu', 'run.sh')], {
    cwd: ROOT,
    env: { ...BARE_ENV, WEIGHTSCOPE_GPU_BUNDLE: BUNDLE, WEIGHTSCOPE_GPU_WORK: join(tmp, 'work-plain') },
  });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /^no GPU adapter: this machine has no GPU/);
  assert.ok(r.seconds < 5, `${r.seconds} s`);
  assert.ok(!existsSync(join(tmp, 'work-plain')), 'nothing unpacked');
});

test('run.sh forced past the device check: unpacks, probes Vulkan and WebGPU with the bundled node, "no GPU adapter", exit 3', async (t) => {
  if (hasGpuNodes()) return t.skip('this machine has GPU device nodes');
  const work = join(tmp, 'work-forced');
  const r = await run('bash', [join(ROOT, 'bench', 'gpu', 'run.sh')], {
    cwd: ROOT,
    env: { ...BARE_ENV, WEIGHTSCOPE_GPU_BUNDLE: BUNDLE, WEIGHTSCOPE_GPU_WORK: work, WEIGHTSCOPE_GPU_FORCE: '1' },
  });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout.trim(), /^no GPU adapter: Vulkan.*; onnxruntime WebGPU: .*adapter/);
  assert.match(r.stderr, /^unpacked \{"commit":/m);
  assert.ok(existsSync(join(work, 'results', 'adapter.json')));
  assert.ok(r.seconds < 60, `${r.seconds} s`);
});
