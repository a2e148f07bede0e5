/**
 * One side of bench/hf.bench.ts `hvp` (run in its own process so its peak RSS is its own): open a Hugging Face GPT-2
 * folder by the config.json route, build the Hv engine, time H·v of the mean next-token loss on DIR/batch.safetensors.
 * Prints one JSON line {hv_ms, hv_best_ms, loss, params, setup_s}.
 *   node --import tsx bench/hf-hvp-run.ts DIR [--reps N]
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { loadModelData } from '../src/data/model-data.js';
import { lossFor, modelEngine } from '../src/model-io/engine.js';
import { openModel } from '../src/model-io/open.js';
import { sliceBatch } from '../src/runtime/dataset.js';
import { shutdownRuntime } from '../src/runtime/session.js';
import { Rng } from '../src/util/random.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { reps: { type: 'string', default: '3' } } });
const dir = positionals[0];
const t0 = performance.now();
const m = await openModel(dir);
const ds = await loadModelData(m, { data: join(dir, 'batch.safetensors') });
const engine = await modelEngine(m, lossFor(m, ds));
const batch = sliceBatch(ds, 0, ds.n);
const p = engine.initialParams();
const rng = new Rng(0);
const v = new Map(engine.params.map((s) => [s.name, Float32Array.from({ length: s.size }, () => rng.normal())]));
let loss = NaN;
const call = async () => {
  loss = (await engine.hvp(p, batch, v)).loss;
};
await call();
const setup = (performance.now() - t0) / 1000;
await call();
const ts: number[] = [];
for (let i = 0; i < Number(values.reps); i++) {
  const s = performance.now();
  await call();
  ts.push(performance.now() - s);
}
ts.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    hv_ms: ts[Math.floor(ts.length / 2)],
    hv_best_ms: ts[0],
    loss,
    params: engine.params.reduce((a, s) => a + s.size, 0),
    setup_s: setup,
  }),
);
await engine.dispose();
await shutdownRuntime();
