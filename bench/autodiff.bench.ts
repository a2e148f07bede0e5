/**
 * Speed bench (issue 4): one gradient and one exact Hessian-vector product of the mean cross-entropy, per call,
 * through the engine (onnxruntime-node, parameters as inputs, sessions cached) — for the
 * fmnist-backdoor CNN at batch 128 and the fmnist-hessian MLP at batch 1000 — against PyTorch's autograd on the same
 * machine (bench/autodiff_torch.py, Debian's python3-torch, the anchor only). Not a test.
 *
 *   node --import tsx bench/autodiff.bench.ts [--reps N] [--threads T] [--runtime inline|worker] [--no-torch]
 *
 * --runtime: where onnxruntime runs (src/runtime/session.ts): 'inline' (default) on this thread, as the CLI and the
 * service's job threads run it; 'worker' through the session worker, as the library does on a main thread.
 * --threads T gives both sides T threads (default: all cores; 1 is steadier on a loaded machine); on PyTorch's side
 * that includes Debian's OpenBLAS pool, which torch.set_num_threads alone leaves at all cores (torch_models.py).
 * Prints median and best milliseconds per call and the ratio ours/PyTorch (goal ≤ 1.0). Other processes on a shared
 * machine skew medians; the best-of-N is the steadier figure there. Also checks that the timed calls built no session.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine } from '../src/runtime/engine.js';
import { loadDataset, sliceBatch } from '../src/runtime/dataset.js';
import { intraOpThreads, sessionsBuilt, setRuntimeMode, shutdownRuntime } from '../src/runtime/session.js';
import { Rng } from '../src/util/random.js';
import { timed } from './timing.js';

const FIX = fileURLToPath(new URL('../../shared/fixtures/', import.meta.url));
const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '20' },
    threads: { type: 'string' },
    runtime: { type: 'string', default: 'inline' },
    'no-torch': { type: 'boolean' },
  },
});
const reps = Number(values.reps);
if (values.threads) process.env.WEIGHTSCOPE_THREADS = values.threads;
const threads = intraOpThreads();
if (values.runtime !== 'inline' && values.runtime !== 'worker') throw new Error('--runtime is inline or worker');
await setRuntimeMode(values.runtime);

interface Row {
  case: string;
  batch: number;
  loss: number;
  grad: { median: number; best: number };
  hvp: { median: number; best: number };
}

async function bench(name: string, model: string, data: string, batch: number): Promise<Row> {
  const engine = await createEngine(FIX + model, { loss: 'classification' });
  const b = sliceBatch(await loadDataset(FIX + data), 0, batch);
  const p = engine.initialParams();
  const rng = new Rng(0);
  const v = new Map(engine.params.map((s) => [s.name, Float32Array.from({ length: s.size }, () => rng.normal())]));
  const loss = (await engine.grad(p, b)).loss;
  await engine.hvp(p, b, v);
  const built = sessionsBuilt();
  const grad = await timed(() => engine.grad(p, b), reps);
  const hvp = await timed(() => engine.hvp(p, b, v), reps);
  if (sessionsBuilt() !== built) throw new Error('a timed call built a session');
  return { case: name, batch, loss, grad, hvp };
}

const ours = [
  await bench('fmnist-cnn', 'fmnist-backdoor/model_a.onnx', 'fmnist-backdoor/clean_subset.safetensors', 128),
  await bench('mlp48', 'fmnist-hessian/mlp48.onnx', 'fmnist-hessian/batch.safetensors', 1000),
];
await shutdownRuntime();

let torch: Map<string, { grad_ms: number; grad_best_ms: number; hvp_ms: number; hvp_best_ms: number }> | null = null;
if (!values['no-torch'] && existsSync('/usr/bin/python3')) {
  const script = fileURLToPath(new URL('./autodiff_torch.py', import.meta.url));
  const r = spawnSync('/usr/bin/python3', [script, '--reps', String(reps), '--threads', String(threads)], { encoding: 'utf8' });
  if (r.status === 0)
    torch = new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .map((j) => [j.case, j]),
    );
  else console.error(`PyTorch anchor unavailable: ${(r.stderr || '').trim().split('\n').at(-1)}`);
}

const f = (x: number) => x.toFixed(2).padStart(8);
console.log(`threads ${threads} on each side, ${reps} timed calls after 2 warm-ups, runtime ${values.runtime}`);
console.log('case         batch  call   ours ms (median / best)   torch ms (median / best)   ratio (median / best)');
for (const row of ours) {
  for (const call of ['grad', 'hvp'] as const) {
    const t = torch?.get(row.case);
    const tm = t ? (call === 'grad' ? t.grad_ms : t.hvp_ms) : NaN;
    const tb = t ? (call === 'grad' ? t.grad_best_ms : t.hvp_best_ms) : NaN;
    console.log(
      `${row.case.padEnd(12)} ${String(row.batch).padStart(5)}  ${call.padEnd(5)} ${f(row[call].median)} / ${f(row[call].best)}       ` +
        `${f(tm)} / ${f(tb)}        ${(row[call].median / tm).toFixed(2)} / ${(row[call].best / tb).toFixed(2)}`,
    );
  }
}
