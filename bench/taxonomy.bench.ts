/**
 * The taxonomy's long run (issue 14; the CI test trains three settings): a load grid on the synthetic 4-class
 * problem of test/landscape/taxonomy/settings.ts — hidden width × (few clean samples | many samples with noisy
 * labels | many clean samples), three seeds per cell, the paper's curve settings — printing each cell's phase and
 * the evidence (mean mc, λ_max, trace, CKA, train/test accuracy). Not a test.
 *
 *   node --import tsx bench/taxonomy.bench.ts [--widths 2,4,8,32] [--seeds 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { taxonomy } from '../src/landscape/taxonomy/run.js';
import { setRuntimeMode } from '../src/runtime/session.js';
import { sampleData, trainModels, writeData, type Problem } from '../test/landscape/taxonomy/settings.js';

const { values } = parseArgs({ options: { widths: { type: 'string', default: '2,4,8,32' }, seeds: { type: 'string', default: '3' } } });
await setRuntimeMode('inline');
const P: Problem = { d: 16, classes: 4, spread: 1, noise: 1 };
const widths = values.widths.split(',').map(Number);
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const data = [
  { name: 'few clean (100)', n: 100, flip: 0, epochs: 300, batch: 100 },
  { name: 'many noisy (1000, 30%)', n: 1000, flip: 0.3, epochs: 20, batch: 50 },
  { name: 'many clean (1000)', n: 1000, flip: 0, epochs: 20, batch: 50 },
];
const dir = mkdtempSync(join(tmpdir(), 'ws-taxonomy-bench-'));
const t0 = performance.now();
try {
  const test = await writeData(join(dir, 'test.safetensors'), sampleData(P, 1000, 99));
  console.log('data                     width  phase  mean mc  lambda_max   trace    CKA  train acc  test acc   s');
  for (const d of data) {
    const trainSet = sampleData(P, d.n, 11, d.flip);
    const train = await writeData(join(dir, `${d.n}_${d.flip}.safetensors`), trainSet);
    for (const width of widths) {
      const c0 = performance.now();
      const models = await trainModels(
        P,
        trainSet,
        { width, epochs: d.epochs, batchSize: d.batch, lr: 0.1 },
        seeds,
        dir,
        `${d.n}_${d.flip}_${width}`,
      );
      const r = await taxonomy({ models, train, test });
      const s = r.summary;
      console.log(
        `${d.name.padEnd(24)} ${String(width).padStart(5)}  ${r.phase.padEnd(5)}  ${s.mc.toFixed(2).padStart(7)}  ${s.lambda_max.toFixed(3).padStart(10)}  ${s.trace.toFixed(2).padStart(6)}  ${s.cka.toFixed(3)}  ${(100 * s.train_accuracy).toFixed(1).padStart(9)}  ${(100 * s.test_accuracy!).toFixed(1).padStart(8)}  ${((performance.now() - c0) / 1000).toFixed(0).padStart(3)}`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `${((performance.now() - t0) / 1000).toFixed(0)} s; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
process.exit(0);
