/**
 * Speed bench (issue 5): Hessian-vector products per second through the Hessian operator (engine Hv graph, flat
 * float64 vectors, size-weighted batches) at batch 1000 — fmnist-hessian's MLP and fmnist-backdoor's CNN — against
 * PyTorch double backprop on the same machine (bench/hessian_torch.py, Debian's python3-torch). Not a test.
 *
 *   node --import tsx bench/hessian.bench.ts [--reps N] [--threads T] [--no-torch] [--trace-exact COLS] [--gpt2-power]
 *
 * --trace-exact COLS  time COLS columns of the exact trace on mlp48 and extrapolate to all 38,170 (0 = run them all
 *                     and compare with reference.json's trace_exact; about 25 min on 2 cores).
 * --gpt2-power        gpt2-tiny top-3 by power iteration at tol 1e-3 and 1e-6 vs lm_reference.json (largest algebraic,
 *                     λ2, λ3 0.3 apart): power iteration returns the largest-magnitude ones, which are negative here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine } from '../src/runtime/engine.js';
import { loadDataset } from '../src/runtime/dataset.js';
import { intraOpThreads } from '../src/runtime/session.js';
import { engineOperator } from '../src/landscape/hessian/engine-operator.js';
import { hessianBatches, runHessian } from '../src/landscape/hessian/run.js';
import { Rng } from '../src/util/random.js';

const FIX = fileURLToPath(new URL('../../shared/fixtures/', import.meta.url));
const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '10' },
    threads: { type: 'string' },
    'no-torch': { type: 'boolean' },
    'trace-exact': { type: 'string' },
    'gpt2-power': { type: 'boolean' },
    'skip-hv': { type: 'boolean' },
  },
});
const reps = Number(values.reps);
if (values.threads) process.env.WEIGHTSCOPE_THREADS = values.threads;

async function hvRate(name: string, model: string, data: string): Promise<{ name: string; median: number; best: number }> {
  const engine = await createEngine(FIX + model, { loss: 'classification' });
  const ds = await loadDataset(FIX + data);
  const op = engineOperator(engine, engine.initialParams(), hessianBatches(ds, { batchSize: 1000, samples: 1000 }));
  const rng = new Rng(1);
  const v = Float64Array.from({ length: op.dim }, () => rng.normal());
  await op.apply(v);
  await op.apply(v);
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await op.apply(v);
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return { name, median: ts[Math.floor(ts.length / 2)], best: ts[0] };
}

if (!values['skip-hv']) {
  const ours = [
    await hvRate('mlp48', 'fmnist-hessian/mlp48.onnx', 'fmnist-hessian/batch.safetensors'),
    await hvRate('fmnist-cnn', 'fmnist-backdoor/model_a.onnx', 'fmnist-backdoor/clean_subset.safetensors'),
  ];
  let torch: Record<string, { hv_ms: number; hv_best_ms: number }> = {};
  if (!values['no-torch'] && existsSync('/usr/bin/python3')) {
    const r = spawnSync(
      '/usr/bin/python3',
      [fileURLToPath(new URL('./hessian_torch.py', import.meta.url)), '--reps', String(reps), '--threads', String(intraOpThreads())],
      { encoding: 'utf8' },
    );
    if (r.status === 0)
      torch = Object.fromEntries(
        r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
          .map((j) => [j.case, j]),
      );
    else console.log(`PyTorch anchor unavailable: ${r.stderr.split('\n').slice(-2).join(' ')}`);
  }
  console.log(`threads ${intraOpThreads()}, batch 1000, ms per Hv (median / best of ${reps})`);
  for (const o of ours) {
    const t = torch[o.name];
    const ratio = t ? `  ours/PyTorch ${(o.median / t.hv_ms).toFixed(2)}× (best ${(o.best / t.hv_best_ms).toFixed(2)}×)` : '';
    console.log(
      `${o.name.padEnd(11)} ours ${o.median.toFixed(1)} / ${o.best.toFixed(1)} ms (${(1000 / o.median).toFixed(1)} Hv/s)` +
        (t ? `  PyTorch ${t.hv_ms.toFixed(1)} / ${t.hv_best_ms.toFixed(1)} ms (${(1000 / t.hv_ms).toFixed(1)} Hv/s)` : '') +
        ratio,
    );
  }
}

if (values['trace-exact'] !== undefined) {
  const cols = Number(values['trace-exact']);
  const ref = JSON.parse(readFileSync(FIX + 'fmnist-hessian/reference.json', 'utf8')).mlp48;
  const engine = await createEngine(FIX + 'fmnist-hessian/mlp48.onnx', { loss: 'classification' });
  const ds = await loadDataset(FIX + 'fmnist-hessian/batch.safetensors');
  const op = engineOperator(engine, engine.initialParams(), hessianBatches(ds, { batchSize: 1000 }));
  const n = cols > 0 ? Math.min(cols, op.dim) : op.dim;
  const e = new Float64Array(op.dim);
  let t = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    e[i] = 1;
    t += (await op.apply(e))[i];
    e[i] = 0;
  }
  const s = (performance.now() - t0) / 1000;
  if (n === op.dim)
    console.log(
      `exact trace ${t} vs reference ${ref.trace_exact} (rel ${(Math.abs(t - ref.trace_exact) / ref.trace_exact).toExponential(2)}) in ${s.toFixed(0)} s`,
    );
  else console.log(`exact trace: ${n} columns in ${s.toFixed(1)} s → all ${op.dim} in about ${(((s / n) * op.dim) / 60).toFixed(1)} min`);
}

if (values['gpt2-power']) {
  const ref = JSON.parse(readFileSync(FIX + 'gpt2-tiny/lm_reference.json', 'utf8'));
  const engine = await createEngine(FIX + 'gpt2-tiny/onnx/model.onnx', { loss: 'lm' });
  const ds = await loadDataset(FIX + 'gpt2-tiny/lm_batch.safetensors');
  for (const tol of [1e-3, 1e-6]) {
    const r = await runHessian({ engine, dataset: ds }, { topK: 3, tol, batchSize: 8, seed: 0 });
    const rel = r.top_eigenvalues!.map((v, i) => ((v - ref.top_eigenvalues[i]) / ref.top_eigenvalues[i]).toExponential(2));
    console.log(
      `gpt2-tiny power tol ${tol}: ${r.top_eigenvalues!.map((v) => v.toFixed(5)).join(', ')} (rel err ${rel.join(', ')}), Hv ${r.eigen_iterations!.join('/')}, residuals ${r.residuals!.map((x) => x.toExponential(2)).join(', ')}, ${r.seconds.toFixed(0)} s`,
    );
  }
}
process.exit(0);
