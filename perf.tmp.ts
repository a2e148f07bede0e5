import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { buildLossGraph, buildHvpGraph, buildGradGraph } from './src/graph/index.js';
import { session, readSt, paramFeeds, f32, i64 } from './test/graph/helpers.js';
const { onnx } = onnxProto;
const F = '/work/shared/fixtures/';
async function bench(label: string, model: any, feeds: any, reps = 5) {
  let t = performance.now();
  const s = await session(model);
  const tc = performance.now() - t;
  await s.run(feeds);
  t = performance.now();
  for (let i = 0; i < reps; i++) await s.run(feeds);
  console.log(label, 'nodes', model.graph.node.length, 'create ms', tc.toFixed(0), 'run ms', ((performance.now() - t) / reps).toFixed(1));
  await s.release();
}
for (const [mp, dp, n] of [['fmnist-hessian/mlp48.onnx', 'fmnist-hessian/batch.safetensors', 1000], ['fmnist-backdoor/model_a.onnx', 'fmnist-backdoor/clean_subset.safetensors', 128]] as const) {
  const lg = buildLossGraph(onnx.ModelProto.decode(readFileSync(F + mp)), { loss: 'classification' });
  const d = await readSt(F + dp); const x = d.tensors.get('x')!, y = d.tensors.get('y')!;
  const feeds: any = { input: f32([n, 1, 28, 28], x.data.subarray(0, n * 784)), y: i64([n], y.data.subarray(0, n)), ...paramFeeds(lg.paramValues) };
  await bench(mp + ' grad', buildGradGraph(lg).model, feeds);
  for (const p of lg.params) feeds['v.' + p.name] = f32(p.dims, new Float32Array(p.dims.reduce((a, b) => a * b, 1)).fill(0.01));
  await bench(mp + ' hvp', buildHvpGraph(lg).model, feeds);
}
const lg = buildLossGraph(onnx.ModelProto.decode(readFileSync(F + 'gpt2-tiny/onnx/model.onnx')), { loss: 'lm' });
const x = (await readSt(F + 'gpt2-tiny/lm_batch.safetensors')).tensors.get('x')!;
const feeds: any = { input_ids: i64(x.shape, x.data), ...paramFeeds(lg.paramValues) };
await bench('gpt2 grad', buildGradGraph(lg).model, feeds, 3);
for (const p of lg.params) feeds['v.' + p.name] = f32(p.dims, new Float32Array(p.dims.reduce((a, b) => a * b, 1)).fill(0.01));
await bench('gpt2 hvp', buildHvpGraph(lg).model, feeds, 3);
