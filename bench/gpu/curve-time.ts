/**
 * One curve-training epoch of the Zhao et al. protocol on fmnist-backdoor (quadratic Bezier between model_a and
 * model_b, clean subset tiled to 10,000 samples, batch 128, SGD lr 0.01 momentum 0.9, L2 1e-4, seed 29) on one device,
 * as `weightscope connect` trains it, timed after untimed warm-up gradients at both batch sizes the epoch uses
 * (128 and the last 16), so session start and shader compilation stay out — as bench/gpu/torch_cuda.py's warm-up
 * steps keep CUDA's start out. Prints one JSON line.
 *
 *   node bench/gpu/curve-time.js --a A.onnx --b B.onnx --data CLEAN.safetensors --device cpu|webgpu|cuda
 */
import { parseArgs } from 'node:util';
import { curveEngine, loadEndpoints } from '../../src/landscape/connectivity/connect.js';
import { linearCurve } from '../../src/landscape/connectivity/points.js';
import { trainCurve } from '../../src/landscape/connectivity/train-curve.js';
import { loadDataset, sliceBatch } from '../../src/runtime/dataset.js';
import { parseDevice } from '../../src/runtime/devices.js';
import { shutdownRuntime } from '../../src/runtime/session.js';

const { values } = parseArgs({
  options: { a: { type: 'string' }, b: { type: 'string' }, data: { type: 'string' }, device: { type: 'string', default: 'cpu' } },
});
if (!values.a || !values.b || !values.data) throw new Error('--a, --b and --data are required');
const device = parseDevice(values.device);
const samples = 10_000,
  batch = 128;

const ep = await loadEndpoints(values.a, values.b);
const train = await loadDataset(values.data);
const engine = await curveEngine(ep.model, ep.specs, device);
const curve = linearCurve('bezier', 3, ep.specs, ep.a, ep.b);
let t0 = performance.now();
for (const size of [batch, samples % batch || batch]) await engine.grad(curve.points[1], sliceBatch(train, 0, size));
const warmupMs = performance.now() - t0;
t0 = performance.now();
const r = await trainCurve(engine, curve, train, {
  epochs: 1,
  batchSize: batch,
  samplesPerEpoch: samples,
  lr: 0.01,
  momentum: 0.9,
  l2: 1e-4,
  seed: 29,
  schedule: 'garipov',
});
const seconds = (performance.now() - t0) / 1000;
await shutdownRuntime();
console.log(
  JSON.stringify({
    case: 'curve-epoch',
    device,
    seconds_per_epoch: seconds,
    steps: r.steps,
    last_loss: r.epochs[0]?.trainLoss,
    warmup_ms: warmupMs,
  }),
);
