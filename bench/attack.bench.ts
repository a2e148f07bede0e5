/**
 * Speed bench (issue 15): PGD (L∞, 10 steps, ε = 0.1, α = ε/4, random start) on the 2000 test images of
 * fmnist-backdoor with model_a, ours (input-gradient graph from src/graph on onnxruntime, batches of 250 on parallel
 * lanes) against PyTorch on the same machine (bench/pgd_torch.py, Debian's python3-torch), plus the input gradient
 * of the first batch compared element by element with PyTorch's. Not a test.
 *
 *   node --import tsx bench/attack.bench.ts [--reps 3] [--threads T] [--rounds R] [--no-torch]
 *
 * Rounds alternate ours and PyTorch back to back; each side reports its best and median of --reps.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModelParams } from '../src/landscape/connectivity/connect.js';
import { adversarialExamples } from '../src/landscape/robustness/attack.js';
import { createInputGradient } from '../src/landscape/robustness/input-gradient.js';
import { attackConfig, parseAttackOptions } from '../src/landscape/robustness/options.js';
import { loadDataset, makeDataset } from '../src/runtime/dataset.js';
import { createForward } from '../src/runtime/forward.js';
import { intraOpThreads, setRuntimeMode } from '../src/runtime/session.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    threads: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    'no-torch': { type: 'boolean' },
  },
});
if (values.threads) process.env.WEIGHTSCOPE_THREADS = values.threads;
await setRuntimeMode('inline');
const reps = Number(values.reps);
const FIX = fileURLToPath(new URL('../../shared/fixtures/fmnist-backdoor/', import.meta.url));
const m = await loadModelParams(FIX + 'model_a.onnx');
const ds = await loadDataset(FIX + 'test_clean.safetensors');
const ig = await createInputGradient(m.model, m.specs);
const cfg = attackConfig(parseAttackOptions({ eps: 0.1, steps: 10, batchSize: 250 }));
const forward = await createForward(m.model, m.specs);

async function ours(): Promise<{ median: number; best: number; robust: number }> {
  await adversarialExamples(ig, m.values, ds, cfg); // warm-up
  const ts: number[] = [];
  let adv: Float32Array = new Float32Array(0);
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    adv = await adversarialExamples(ig, m.values, ds, { ...cfg, seed: r });
    ts.push((performance.now() - t0) / 1000);
  }
  ts.sort((a, b) => a - b);
  const e = await forward.evaluate(m.values, makeDataset({ type: 'float32', data: adv, dims: ds.x.dims }, ds.y), {
    loss: 'classification',
    batchSize: 500,
  });
  return { median: ts[Math.floor(ts.length / 2)], best: ts[0], robust: e.accuracy };
}

function torch(gradOut?: string): { seconds_median: number; seconds_min: number; robust_acc: number } | null {
  if (values['no-torch'] || !existsSync('/usr/bin/python3')) return null;
  const args = [
    fileURLToPath(new URL('./pgd_torch.py', import.meta.url)),
    '--threads',
    String(intraOpThreads()),
    '--reps',
    String(reps),
    ...(gradOut ? ['--grad-out', gradOut] : []),
  ];
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`PyTorch anchor unavailable: ${r.stderr.split('\n').slice(-2).join(' ')}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

const uptime = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  `PGD ε=0.1, 10 steps, α=0.025, random start, 2000 images, batches of 250; threads ${intraOpThreads()} (ours: ${ig.lanes} lane(s))`,
);
const dir = mkdtempSync(join(tmpdir(), 'ws-pgd-'));
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    const o = await ours();
    const gradFile = round === 0 ? join(dir, 'g.f32') : undefined;
    const t = torch(gradFile);
    console.log(
      `round ${round + 1} (load ${uptime()}): ours ${o.best.toFixed(2)} / ${o.median.toFixed(2)} s (best / median), robust accuracy ${(100 * o.robust).toFixed(2)}%` +
        (t
          ? `; PyTorch ${t.seconds_min.toFixed(2)} / ${t.seconds_median.toFixed(2)} s, robust accuracy ${(100 * t.robust_acc).toFixed(2)}%; ratio ours/PyTorch best ${(o.best / t.seconds_min).toFixed(2)}×, median ${(o.median / t.seconds_median).toFixed(2)}×`
          : ''),
    );
    if (gradFile && existsSync(gradFile)) {
      const tg = new Float32Array(readFileSync(gradFile).buffer.slice(0));
      const x = (ds.x.data as Float32Array).slice(0, 250 * 784);
      const { grad } = await ig.batch(0, m.values, x, (ds.y as BigInt64Array).slice(0, 250), [1, 28, 28]);
      let maxAbs = 0,
        maxRef = 0,
        sumSq = 0,
        refSq = 0,
        signs = 0;
      for (let i = 0; i < grad.length; i++) {
        const d = grad[i] - tg[i];
        maxAbs = Math.max(maxAbs, Math.abs(d));
        maxRef = Math.max(maxRef, Math.abs(tg[i]));
        sumSq += d * d;
        refSq += tg[i] * tg[i];
        if (Math.sign(grad[i]) !== Math.sign(tg[i])) signs++;
      }
      console.log(
        `input gradient of the first batch vs PyTorch: max |diff| ${maxAbs.toExponential(2)} (max |g| ${maxRef.toExponential(2)}), relative L2 ${Math.sqrt(sumSq / refSq).toExponential(2)}, sign mismatches ${signs} of ${grad.length}`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
