/**
 * Speed bench (issue 15): one surface-training epoch on surface-mlp — a 2 × 2 tensor-product Bezier patch with
 * m1..m4 as fixed corners, the five other control points trained, 10,000 tiled samples of the clean subset's
 * training part, batch 128, one (u, v) per batch, SGD momentum 0.9, L2 1e-4 on the point — ours (fitSurface) against
 * PyTorch on the same machine (bench/surface_torch.py, Debian's python3-torch). Not a test.
 *
 *   node --import tsx bench/surface.bench.ts [--epochs 3] [--threads T] [--rounds R] [--no-torch]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fitSurface, parseSurfaceOptions } from '../src/landscape/connectivity/connect-surface.js';
import { loadModelParams } from '../src/landscape/connectivity/connect.js';
import { tensorPatch } from '../src/landscape/connectivity/patch.js';
import { interpolatedSurface } from '../src/landscape/connectivity/surface.js';
import { loadDataset, makeDataset } from '../src/runtime/dataset.js';
import { intraOpThreads, setRuntimeMode } from '../src/runtime/session.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    threads: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    'no-torch': { type: 'boolean' },
  },
});
if (values.threads) process.env.WEIGHTSCOPE_THREADS = values.threads;
await setRuntimeMode('inline');
const epochs = Number(values.epochs);
const FIX = fileURLToPath(new URL('../../shared/fixtures/surface-mlp/', import.meta.url));
const ms = await Promise.all([1, 2, 3, 4].map((i) => loadModelParams(`${FIX}m${i}.onnx`)));
const clean = await loadDataset(FIX + 'clean_subset.safetensors');
const train = makeDataset(
  { type: 'float32', data: (clean.x.data as Float32Array).slice(0, 2400 * 784), dims: [2400, 1, 28, 28] },
  (clean.y as BigInt64Array).slice(0, 2400),
);

async function ours(): Promise<{ best: number; median: number }> {
  const s = interpolatedSurface(
    tensorPatch(2),
    ms[0].specs,
    ms.map((m) => m.values),
  );
  const o = parseSurfaceOptions({ epochs: epochs + 1, samplesPerEpoch: 10_000, schedule: 'constant' });
  const epochTimes: number[] = [];
  let last = 0;
  // Epoch times from the trainer's own epoch callbacks (the first epoch warms up and is dropped).
  await fitSurface(ms[0].model, s, train, o, {
    progress: (d) => {
      if (d % 79 === 0) {
        const now = performance.now();
        if (last) epochTimes.push((now - last) / 1000);
        last = now;
      }
    },
  });
  const ts = [...epochTimes].sort((a, b) => a - b);
  return { best: ts[0], median: ts[Math.floor(ts.length / 2)] };
}

function torch(): { seconds_per_epoch_median: number; seconds_per_epoch_min: number } | null {
  if (values['no-torch'] || !existsSync('/usr/bin/python3')) return null;
  const r = spawnSync(
    '/usr/bin/python3',
    [fileURLToPath(new URL('./surface_torch.py', import.meta.url)), '--threads', String(intraOpThreads()), '--epochs', String(epochs)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    console.log(`PyTorch anchor unavailable: ${r.stderr.split('\n').slice(-2).join(' ')}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

const uptime = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  `surface-mlp, 2 × 2 patch (5 free control points × 38,170 parameters), 79 steps of batch 128 per epoch; threads ${intraOpThreads()}`,
);
for (let round = 0; round < Number(values.rounds); round++) {
  const o = await ours();
  const t = torch();
  console.log(
    `round ${round + 1} (load ${uptime()}): ours ${o.best.toFixed(3)} / ${o.median.toFixed(3)} s per epoch (best / median of ${epochs})` +
      (t
        ? `; PyTorch ${t.seconds_per_epoch_min.toFixed(3)} / ${t.seconds_per_epoch_median.toFixed(3)} s; ratio ours/PyTorch best ${(o.best / t.seconds_per_epoch_min).toFixed(2)}×, median ${(o.median / t.seconds_per_epoch_median).toFixed(2)}×`
        : ''),
  );
}
process.exit(0);
