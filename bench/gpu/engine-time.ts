/**
 * One gradient and one exact Hessian-vector product of a model's mean loss, timed per call on one device — the
 * engine the CLI's grad/hvp commands use (bench/gpu/run.sh runs it once per device). The first call of each (graph
 * build and session start) is timed apart; then `--reps` timed calls. v is seeded (Rng(0) normals), so two devices
 * see the same direction; the gradient and Hv are written to OUT.grad.safetensors / OUT.hv.safetensors for
 * bench/gpu/table.ts to compare across devices. Prints a JSON line after each stage, the last one complete.
 *
 *   node bench/gpu/engine-time.js --model M.onnx --data D.safetensors --batch N --device cpu|webgpu|cuda \
 *     --case NAME --out PREFIX [--reps 5] [--loss classification|lm]
 */
import { parseArgs } from 'node:util';
import { writeParamTensors } from '../../src/cli/model-command.js';
import { loadDataset, sliceBatch, inferLossKind, type LossKind } from '../../src/runtime/dataset.js';
import { createEngine } from '../../src/runtime/engine.js';
import { norm } from '../../src/runtime/params.js';
import { parseDevice } from '../../src/runtime/devices.js';
import { shutdownRuntime } from '../../src/runtime/session.js';
import { Rng } from '../../src/util/random.js';
import { timed } from '../timing.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    batch: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    case: { type: 'string', default: 'model' },
    out: { type: 'string' },
    reps: { type: 'string', default: '5' },
    loss: { type: 'string' },
  },
});
if (!values.model || !values.data || !values.out) throw new Error('--model, --data and --out are required');
const device = parseDevice(values.device);
const reps = Number(values.reps);

const ds = await loadDataset(values.data);
const loss = (values.loss as LossKind | undefined) ?? inferLossKind(ds);
const batch = sliceBatch(ds, 0, values.batch ? Number(values.batch) : ds.n);
let t0 = performance.now();
const engine = await createEngine(values.model, { loss, device });
const createMs = performance.now() - t0;
const p = engine.initialParams();
const rng = new Rng(0);
const v = new Map(engine.params.map((s) => [s.name, Float32Array.from({ length: s.size }, () => rng.normal())]));

// A JSON line after each stage: a part killed by its time limit still reports what it measured (the last line wins).
const result: Record<string, unknown> = {
  case: values.case,
  device,
  batch: batch.size,
  params: engine.params.reduce((s, q) => s + q.size, 0),
  create_ms: createMs,
  reps,
};
const report = (more: Record<string, unknown>) => console.log(JSON.stringify(Object.assign(result, more)));
t0 = performance.now();
const g = await engine.grad(p, batch);
report({ loss: g.loss, grad_norm: norm(g.grads), first_grad_ms: performance.now() - t0 });
await writeParamTensors(`${values.out}.grad.safetensors`, engine.params, g.grads, { loss: String(g.loss), device });
const grad = await timed(() => engine.grad(p, batch), reps, 0);
report({ grad_ms: grad.median, grad_best_ms: grad.best });
t0 = performance.now();
const h = await engine.hvp(p, batch, v);
report({ hv_norm: norm(h.hv), first_hvp_ms: performance.now() - t0 });
await writeParamTensors(`${values.out}.hv.safetensors`, engine.params, h.hv, { loss: String(h.loss), device });
const hvp = await timed(() => engine.hvp(p, batch, v), reps, 0);
report({ hvp_ms: hvp.median, hvp_best_ms: hvp.best });
await engine.dispose();
await shutdownRuntime();
