/**
 * Speed bench (issue 14): local entropy with K draws at γ = 1e3, 1e4, 1e5 on fmnist-hessian's mlp48 (38,170
 * parameters, 1000 samples) — weightscope's `flatness` (trace off: the local-entropy estimate only) against the same
 * estimate in PyTorch (bench/flatness_torch.py: a loop over draws, randn per parameter, forward under no_grad),
 * side by side at the same thread count. Times are best-of-reps wall seconds of the whole call (graph building and
 * session creation included on our side). Not a test.
 *
 *   node --import tsx bench/flatness.bench.ts [--draws K] [--reps N] [--threads T] [--no-torch] [--draws-per-run D]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    draws: { type: 'string', default: '1000' },
    reps: { type: 'string', default: '3' },
    threads: { type: 'string' },
    'no-torch': { type: 'boolean' },
    'draws-per-run': { type: 'string' },
  },
});
if (values.threads) process.env.WEIGHTSCOPE_THREADS = values.threads;
// Imported after WEIGHTSCOPE_THREADS is set (the session thread count is read when sessions are built).
const { flatnessOnFiles } = await import('../src/landscape/flatness/run.js');
const { intraOpThreads, setRuntimeMode } = await import('../src/runtime/session.js');
await setRuntimeMode('inline');

const FIX = fileURLToPath(new URL('../../shared/fixtures/', import.meta.url));
const draws = Number(values.draws);
const reps = Number(values.reps);
const gamma = [1e3, 1e4, 1e5];
const ref = JSON.parse(readFileSync(fileURLToPath(new URL('../../shared/reference/local_entropy.json', import.meta.url)), 'utf8')) as {
  rows: { local_entropy: number; stderr: number }[];
};

const times: number[] = [];
const cpus: number[] = [];
let last: Awaited<ReturnType<typeof flatnessOnFiles>> | null = null;
for (let r = 0; r <= reps; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  last = await flatnessOnFiles(FIX + 'fmnist-hessian/mlp48.onnx', FIX + 'fmnist-hessian/batch.safetensors', {
    gamma,
    draws,
    seed: r,
    trace: 'none',
    ...(values['draws-per-run'] ? { drawsPerRun: Number(values['draws-per-run']) } : {}),
  });
  const c = process.cpuUsage(c0);
  if (r > 0) {
    // rep 0 warms up
    times.push((performance.now() - t0) / 1000);
    cpus.push((c.user + c.system) / 1e6);
  }
}
const ours = Math.min(...times);
console.log(
  `weightscope flatness mlp48: K = ${draws} × ${gamma.length} γ, ${last!.draws_per_run} draws per run, split ${last!.split_layers.join(', ') || 'none'}, threads ${intraOpThreads()}`,
);
console.log(
  `  best ${ours.toFixed(3)} s (runs: ${times.map((t) => t.toFixed(3)).join(', ')}); CPU time best ${Math.min(...cpus).toFixed(3)} s`,
);
last!.rows.forEach((row, i) => {
  const z = (row.local_entropy - ref.rows[i].local_entropy) / Math.hypot(row.stderr, ref.rows[i].stderr);
  console.log(
    `  γ ${row.gamma.toExponential(0)}: F = ${row.local_entropy.toFixed(6)} ± ${row.stderr.toExponential(2)} (reference K = 4000: ${ref.rows[i].local_entropy.toFixed(6)}; z = ${z.toFixed(2)})`,
  );
});

if (!values['no-torch'] && existsSync('/usr/bin/python3')) {
  const py = spawnSync(
    '/usr/bin/python3',
    [
      fileURLToPath(new URL('./flatness_torch.py', import.meta.url)),
      '--draws',
      String(draws),
      '--reps',
      String(reps),
      '--threads',
      String(intraOpThreads()),
    ],
    { encoding: 'utf8' },
  );
  if (py.status === 0) {
    const t = JSON.parse(py.stdout.trim().split('\n').at(-1) as string) as {
      best_s: number;
      median_s: number;
      best_cpu_s: number;
      threads: number;
      torch: string;
      rows: { gamma: number; local_entropy: number; stderr: number }[];
    };
    console.log(
      `PyTorch ${t.torch} (${t.threads} threads): best ${t.best_s.toFixed(3)} s, median ${t.median_s.toFixed(3)} s; CPU time best ${t.best_cpu_s.toFixed(3)} s`,
    );
    t.rows.forEach((row) =>
      console.log(`  γ ${row.gamma.toExponential(0)}: F = ${row.local_entropy.toFixed(6)} ± ${row.stderr.toExponential(2)}`),
    );
    console.log(
      `ratio weightscope / PyTorch (best of ${reps}): wall ${(ours / t.best_s).toFixed(2)}×, CPU time ${(Math.min(...cpus) / t.best_cpu_s).toFixed(2)}× (goal ≤ 1.0×)`,
    );
  } else {
    console.log(`PyTorch anchor failed: ${py.stderr.trim().split('\n').at(-1)}`);
  }
}
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
process.exit(0);
