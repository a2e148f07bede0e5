/**
 * Shared by the analysis benchmarks (gpt2-small.ts, llm.ts): build the plain-JS CLI, run `weightscope analyze` as
 * a whole process with its peak RSS, measure the machine's DGEMM rate (the flop limit's denominator), count a
 * checkpoint's flops the way issue 13 does, and run WeightWatcher 0.7.5.5 side by side when it is installed.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layerFlops } from '../src/layers/plan.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, '.bench-out', 'dist');

/** tsc → .bench-out/dist (type errors elsewhere in the tree do not stop the emit). */
export function buildDist(): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(
    process.execPath,
    [tsc, '-p', join(ROOT, 'tsconfig.json'), '--outDir', DIST, '--declaration', 'false', '--sourceMap', 'false'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (!existsSync(join(DIST, 'cli', 'main.js'))) throw new Error(`tsc did not produce ${DIST}/cli/main.js:\n${r.stdout}`);
  // The service reads its version from package.json two folders above dist/service, as in the installed layout.
  copyFileSync(join(ROOT, 'package.json'), join(DIST, '..', 'package.json'));
}

function cliCommand(runner: string): string[] {
  if (runner === 'dist') return [join(DIST, 'cli', 'main.js')];
  return ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')];
}

export interface ProcessRun {
  seconds: number;
  /** User + system CPU seconds of the process and its threads (NaN without /usr/bin/time): less sensitive than wall
   *  time to other processes on a shared machine. */
  cpuSeconds: number;
  rssMb: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command as a whole process; peak RSS from /usr/bin/time -v (or `wrapRss` for Node entries without it). */
export function timedProcess(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  wrapRss?: (args: string[]) => [string, string[]],
): ProcessRun {
  const useTime = existsSync('/usr/bin/time');
  const [c, a] = useTime ? ['/usr/bin/time', ['-v', cmd, ...args]] : wrapRss ? wrapRss(args) : [cmd, args];
  const t0 = performance.now();
  const r = spawnSync(c, a, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 30, env });
  const seconds = (performance.now() - t0) / 1000;
  const m = useTime ? /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr) : /maxrss_kb=(\d+)/.exec(r.stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(r.stderr);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(r.stderr);
  const cpuSeconds = user && sys ? Number(user[1]) + Number(sys[1]) : NaN;
  return { seconds, cpuSeconds, rssMb: m ? Number(m[1]) / 1024 : NaN, code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface AnalyzeRun extends ProcessRun {
  layers: { name: string; alpha: number | null; N: number; M: number }[];
  work?: { flops: number; gflops: number; stages: Record<string, number> };
}

/** `weightscope analyze MODEL --json --no-cache …` as a user runs it. */
export function runAnalyze(model: string, extra: string[], runner = 'dist'): AnalyzeRun {
  const cli = cliCommand(runner);
  const args = ['analyze', model, '--json', '--no-cache', ...extra];
  const r = timedProcess(process.execPath, [...cli, ...args], process.env, (a) => [
    process.execPath,
    [...cli.slice(0, -1), join(ROOT, 'bench', 'rss-wrapper.mjs'), cli[cli.length - 1], ...a],
  ]);
  let layers: AnalyzeRun['layers'] = [];
  let work: AnalyzeRun['work'];
  try {
    const out = JSON.parse(r.stdout) as { layers: AnalyzeRun['layers']; work?: AnalyzeRun['work'] };
    layers = out.layers;
    work = out.work;
  } catch {
    process.stderr.write(r.stderr.split('\n').slice(-20).join('\n') + '\n');
  }
  return { ...r, layers, work };
}

/**
 * WeightWatcher 0.7.5.5's analyze() on a file or folder, whole process, with Debian's python3. WEIGHTSCOPE_WW_PATH
 * is a PYTHONPATH holding weightwatcher 0.7.5.5, powerlaw 1.5 and (on Debian 12, which does not package it) a
 * safetensors reader; null when it is not set.
 */
export function runWeightWatcher(model: string): (ProcessRun & { layers: { name: string; alpha: number; N: number; M: number }[] }) | null {
  const path = process.env.WEIGHTSCOPE_WW_PATH;
  if (!path) return null;
  const r = timedProcess('/usr/bin/python3', [join(ROOT, 'bench', 'ww_anchor.py'), model], {
    ...process.env,
    PYTHONPATH: path,
    OMP_NUM_THREADS: String(availableParallelism()),
  });
  let layers: { name: string; alpha: number; N: number; M: number }[] = [];
  try {
    layers = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '[]') as typeof layers;
  } catch {
    process.stderr.write(r.stderr.split('\n').slice(-20).join('\n') + '\n');
  }
  return { ...r, layers };
}

/** The flop limit's numerator: every `.weight` matrix WW analyses (min_evals 10, max_evals 15000, max_N 50000). */
export function checkpointFlops(tensors: readonly { name: string; shape: number[] }[]): { flops: number; layers: number } {
  let flops = 0;
  let layers = 0;
  for (const t of tensors) {
    if (!t.name.endsWith('.weight') || t.shape.length !== 2) continue;
    const N = Math.max(...t.shape);
    const M = Math.min(...t.shape);
    if (M < 10 || M > 15000 || N > 50000) continue;
    flops += layerFlops({ N, M, rf: 1 });
    layers++;
  }
  return { flops, layers };
}

/**
 * The DGEMM rate of this machine with every core (OpenBLAS threads = cores): the best of `reps` n×n×n products.
 * Runs in a child process so the benchmark's own OpenBLAS settings stay untouched.
 */
export function dgemmRate(n = 3072, reps = 3): { gflops: number; seconds: number; threads: number } {
  const code = `
    const { createRequire } = require('node:module');
    const koffi = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('koffi');
    const lib = koffi.load(process.env.WEIGHTSCOPE_LAPACK || '/usr/lib/x86_64-linux-gnu/libopenblas.so.0');
    const dgemm = lib.func('void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*, const int*, const double*, const int*, const double*, _Inout_ double*, const int*, size_t, size_t)');
    const n = ${n}; const A = new Float64Array(n * n).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5); const C = new Float64Array(n * n);
    let best = Infinity;
    for (let r = 0; r < ${reps}; r++) {
      const t = performance.now();
      dgemm('N', 'N', Int32Array.of(n), Int32Array.of(n), Int32Array.of(n), Float64Array.of(1), A, Int32Array.of(n), A, Int32Array.of(n), Float64Array.of(0), C, Int32Array.of(n), 1, 1);
      best = Math.min(best, (performance.now() - t) / 1000);
    }
    console.log(JSON.stringify({ seconds: best, gflops: 2 * n ** 3 / best / 1e9 }));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  const out = JSON.parse(r.stdout) as { seconds: number; gflops: number };
  return { ...out, threads: availableParallelism() };
}

export function loadLine(): string {
  return `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} on ${availableParallelism()} cores`;
}

/** Max relative difference of alpha between two runs' layers, matched by name; and the names only one side has. */
export function compareAlphas(
  a: { name: string; alpha: number | null }[],
  b: { name: string; alpha: number | null }[],
): { maxRel: number; onlyA: string[]; onlyB: string[] } {
  const mb = new Map(b.map((l) => [l.name, l.alpha]));
  const ma = new Map(a.map((l) => [l.name, l.alpha]));
  let maxRel = 0;
  for (const l of a) {
    const o = mb.get(l.name);
    if (o === undefined || o === null || l.alpha === null) continue;
    maxRel = Math.max(maxRel, Math.abs(l.alpha - o) / Math.abs(o));
  }
  return { maxRel, onlyA: a.filter((l) => !mb.has(l.name)).map((l) => l.name), onlyB: b.filter((l) => !ma.has(l.name)).map((l) => l.name) };
}
