/**
 * Per-step profile of curve training on fmnist-backdoor (benchmark only, never run by tests): times one whole curve
 * step (trainCurve over --epochs epochs), the engine's gradient call alone (worker round trip included), the same
 * gradient graph run directly on this thread with onnxruntime (no worker, no copies), w(t), batch assembly, and
 * the main-thread work of a step with an engine that answers at once.
 * Usage: WEIGHTSCOPE_THREADS=1 npx tsx bench/repair-profile.ts [--epochs 2] [--reps 200]
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { curveEngine, loadEndpoints } from '../src/landscape/connectivity/connect.js';
import { linearCurve, pointAt } from '../src/landscape/connectivity/points.js';
import { trainCurve } from '../src/landscape/connectivity/train-curve.js';
import { epochOrder, loadDataset, takeBatch } from '../src/runtime/dataset.js';
import { intraOpThreads, shutdownRuntime } from '../src/runtime/session.js';
import { Rng } from '../src/util/random.js';

const { values } = parseArgs({ options: { epochs: { type: 'string' }, reps: { type: 'string' } } });
const epochs = Number(values.epochs ?? 2);
const reps = Number(values.reps ?? 200);
const FIX = fileURLToPath(new URL('../../shared/fixtures/fmnist-backdoor/', import.meta.url));
const ep = await loadEndpoints(FIX + 'model_a.onnx', FIX + 'model_b.onnx');
const ds = await loadDataset(FIX + 'clean_subset.safetensors');
const engine = await curveEngine(ep.model, ep.specs, 'cpu');
const curve = linearCurve('bezier', 3, ep.specs, ep.a, ep.b);
const order = epochOrder(ds.n, { samplesPerEpoch: 10_000, rng: new Rng(1) });
const batch = takeBatch(ds, order.subarray(0, 128));
const w = pointAt(curve, 0.3);
await engine.grad(w, batch); // session creation + warm-up

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(label: string, n: number, f: () => unknown): void {
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  console.log(`${label.padEnd(34)} median ${median(ts).toFixed(3)} ms  min ${Math.min(...ts).toFixed(3)} ms`);
}

console.log(`threads ${intraOpThreads()}, ${ep.specs.reduce((s, p) => s + p.size, 0)} parameters`);
time('takeBatch (128)', reps, () => takeBatch(ds, order.subarray(128, 256)));
time('pointAt (w(t), K=3)', reps, () => pointAt(curve, 0.3));

// The same graph in-process: what onnxruntime itself needs.
const bytes = onnxProto.onnx.ModelProto.encode(await engine.graph('grad')).finish();
const s = await ort.InferenceSession.create(bytes, {
  intraOpNumThreads: intraOpThreads(),
  interOpNumThreads: 1,
  logSeverityLevel: 3,
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});
const feeds: Record<string, ort.Tensor> = {};
for (const name of s.inputNames) {
  if (name === 'y') feeds[name] = new ort.Tensor('int64', batch.y!.data as BigInt64Array, [128]);
  else if (w.has(name)) feeds[name] = new ort.Tensor('float32', w.get(name)!, ep.specs.find((p) => p.name === name)!.dims as number[]);
  else feeds[name] = new ort.Tensor('float32', batch.x.data as Float32Array, batch.x.dims as number[]);
}
await s.run(feeds);
// Interleaved, so both see the same load: the difference is the worker round trip (copies, messages, checks).
const viaWorker: number[] = [];
const inProcess: number[] = [];
for (let i = 0; i < reps; i++) {
  let t = performance.now();
  await engine.grad(w, batch);
  viaWorker.push(performance.now() - t);
  t = performance.now();
  await s.run(feeds);
  inProcess.push(performance.now() - t);
}
for (const [label, ts] of [
  ['engine.grad (worker round trip)', viaWorker],
  ['ort session.run in-process', inProcess],
] as const) {
  console.log(`${label.padEnd(34)} median ${median(ts).toFixed(3)} ms  min ${Math.min(...ts).toFixed(3)} ms`);
}
console.log(`${'round trip (median of differences)'.padEnd(34)} ${median(viaWorker.map((v, i) => v - inProcess[i])).toFixed(3)} ms`);
await s.release();

// Everything of a step but the graph: trainCurve with an engine that answers at once (fresh gradient arrays, as the
// worker's are), i.e. w(t), the control-point gradients, SGD, batch assembly and the training loop.
const g0 = await engine.grad(w, batch);
const instant = { grad: async () => ({ loss: g0.loss, grads: new Map([...g0.grads].map(([k, v]) => [k, v.slice()])) }) };
const idle = await trainCurve(instant, linearCurve('bezier', 3, ep.specs, ep.a, ep.b), ds, {
  epochs,
  batchSize: 128,
  samplesPerEpoch: 10_000,
  lr: 0.01,
  seed: 29,
});
console.log(`main-thread work per step (instant engine) ${((1000 * idle.seconds) / idle.steps).toFixed(3)} ms`);

const r = await trainCurve(engine, curve, ds, { epochs, batchSize: 128, samplesPerEpoch: 10_000, lr: 0.01, seed: 29 });
console.log(
  `trainCurve: ${(r.seconds / epochs).toFixed(3)} s/epoch, ${((1000 * r.seconds) / r.steps).toFixed(2)} ms/step (${r.steps} steps)`,
);
await shutdownRuntime();
