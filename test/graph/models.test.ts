/**
 * Whole models against PyTorch references (grad_hvp.safetensors): loss, gradient and exact Hv to 1e-4 relative L2
 * for fmnist-hessian's mlp48, fmnist-backdoor's model_a (CNN) and gpt2-tiny (lm loss, tied wte); Hv symmetry;
 * exported graphs hold only default-domain ops and run from the written file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { fixture } from '../helpers/fixtures.js';
import { writeOnnxModel } from '../../src/io/onnx-model.js';
import {
  buildGradGraph,
  buildHvpGraph,
  buildInputHessianVectorGraph,
  buildLossGraph,
  loadParamValues,
  lossModel,
} from '../../src/graph/index.js';
import { dotp, f32, i64, paramFeeds, readSt, relL2, rng, run, runSession, session, type Feeds } from './helpers.js';

const { onnx } = onnxProto;
const load = (path: string): onnxProto.onnx.ModelProto => onnx.ModelProto.decode(readFileSync(path));

async function imageBatch(path: string, n: number): Promise<Feeds> {
  const { tensors } = await readSt(path);
  const x = tensors.get('x')!,
    y = tensors.get('y')!;
  const per = x.data.length / x.shape[0];
  return { input: f32([n, ...x.shape.slice(1)], x.data.subarray(0, n * per)), y: i64([n], y.data.subarray(0, n)) };
}

function assertDefaultDomain(m: onnxProto.onnx.IModelProto): void {
  for (const o of m.opsetImport ?? []) assert.ok(!o.domain || o.domain === 'ai.onnx', `opset import ${o.domain}`);
  for (const n of m.graph!.node!) assert.ok(!n.domain || n.domain === 'ai.onnx', `node ${n.name} (${n.opType}) in domain ${n.domain}`);
}

/** An Hv graph's run against grad_hvp.safetensors: loss to 1e-5 relative, every grad.<p> and hv.<p> to 1e-4 rel L2. */
function assertMatchesReference(
  out: Record<string, Float64Array>,
  ref: Awaited<ReturnType<typeof readSt>>,
  params: readonly { name: string }[],
): void {
  const refLoss = Number(ref.metadata.loss);
  assert.ok(Math.abs(out.loss[0] - refLoss) / refLoss < 1e-5, `loss ${out.loss[0]} vs ${refLoss}`);
  for (const p of params) {
    const eg = relL2(out[`grad.${p.name}`], ref.tensors.get(`grad.${p.name}`)!.data);
    const eh = relL2(out[`hv.${p.name}`], ref.tensors.get(`hv.${p.name}`)!.data);
    assert.ok(eg < 1e-4, `grad.${p.name}: rel L2 ${eg}`);
    assert.ok(eh < 1e-4, `hv.${p.name}: rel L2 ${eh}`);
  }
}

for (const [label, dir, modelFile, dataFile, n] of [
  ['mlp48', 'fmnist-hessian', 'mlp48.onnx', 'batch.safetensors', 256],
  ['model_a (CNN)', 'fmnist-backdoor', 'model_a.onnx', 'clean_subset.safetensors', 128],
] as const) {
  test(`${label}: loss, gradient and Hv equal PyTorch's`, async () => {
    const ref = await readSt(fixture(dir, 'grad_hvp.safetensors'));
    assert.match(ref.metadata.batch, new RegExp(`first ${n} samples of ${dataFile}`));
    const lg = buildLossGraph(load(fixture(dir, modelFile)), { loss: 'classification' });
    assert.deepEqual(lg.dataInputs, ['input', 'y']);
    const hvp = buildHvpGraph(lg);
    assertDefaultDomain(hvp.model);
    assert.deepEqual(hvp.outputs, ['loss', ...lg.params.map((p) => `grad.${p.name}`), ...lg.params.map((p) => `hv.${p.name}`)]);
    const feeds: Feeds = { ...(await imageBatch(fixture(dir, dataFile), n)), ...paramFeeds(lg.paramValues) };
    for (const p of lg.params) feeds[`v.${p.name}`] = f32(p.dims, ref.tensors.get(`v.${p.name}`)!.data);
    const out = await run(hvp.model, feeds);
    assertMatchesReference(out, ref, lg.params);
  });
}

test('exported grad graph: written file has only default-domain ops and runs in a plain session', async () => {
  const lg = buildLossGraph(load(fixture('fmnist-backdoor', 'model_a.onnx')), { loss: 'classification' });
  const grad = buildGradGraph(lg);
  assert.deepEqual(grad.inputs, ['input', 'y', ...lg.params.map((p) => p.name)]);
  const dir = await mkdtemp(join(tmpdir(), 'ws-graph-'));
  try {
    const path = join(dir, 'grad.onnx');
    await writeOnnxModel(path, grad.model);
    const back = load(path);
    assertDefaultDomain(back);
    const ref = await readSt(fixture('fmnist-backdoor', 'grad_hvp.safetensors'));
    const out = await run(back, {
      ...(await imageBatch(fixture('fmnist-backdoor', 'clean_subset.safetensors'), 128)),
      ...paramFeeds(lg.paramValues),
    });
    assert.ok(relL2(out['grad.fc1.weight'], ref.tensors.get('grad.fc1.weight')!.data) < 1e-4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('mlp48: L2 term adds c·θ to the gradient and c·v to Hv; loss model outputs loss and logits', async () => {
  const model = load(fixture('fmnist-hessian', 'mlp48.onnx'));
  const c = 0.01;
  const plain = buildLossGraph(model, { loss: 'classification' });
  const reg = buildLossGraph(model, { loss: 'classification', l2: { coef: c, params: ['layers.0.weight'] } });
  const feeds: Feeds = { ...(await imageBatch(fixture('fmnist-hessian', 'batch.safetensors'), 64)), ...paramFeeds(plain.paramValues) };
  const r = rng(7);
  const v = plain.params.map((p) => Float32Array.from({ length: p.dims.reduce((a, b) => a * b, 1) }, () => r()));
  plain.params.forEach((p, i) => (feeds[`v.${p.name}`] = f32(p.dims, v[i])));
  const a = await run(buildHvpGraph(plain).model, feeds);
  const b = await run(buildHvpGraph(reg).model, feeds);
  const w0 = feeds['layers.0.weight'].data as Float32Array;
  let sq = 0;
  for (const x of w0) sq += x * x;
  assert.ok(Math.abs(b.loss[0] - (a.loss[0] + 0.5 * c * sq)) < 1e-5);
  const expectG = a['grad.layers.0.weight'].map((g, i) => g + c * w0[i]);
  assert.ok(relL2(b['grad.layers.0.weight'], expectG) < 1e-5);
  const expectH = a['hv.layers.0.weight'].map((h, i) => h + c * v[0][i]);
  assert.ok(relL2(b['hv.layers.0.weight'], expectH) < 1e-5);
  assert.ok(relL2(b['hv.layers.1.weight'], a['hv.layers.1.weight']) < 1e-6);
  const loaded = await loadParamValues(plain);
  assert.ok(loaded.get('layers.0.weight') instanceof Float32Array);
  assert.deepEqual(Array.from(loaded.get('layers.0.weight')!), Array.from(w0));
  const lm = lossModel(plain);
  assert.deepEqual(lm.outputs, ['loss', 'logits']);
  const out = await run(lm.model, { input: feeds.input, y: feeds.y, ...paramFeeds(plain.paramValues) });
  assert.equal(out.logits.length, 64 * 10);
  assert.ok(Math.abs(out.loss[0] - a.loss[0]) < 1e-6);
});

test('mlp48: input Hessian-vector product matches differences of the input gradient', async () => {
  const lg = buildLossGraph(load(fixture('fmnist-hessian', 'mlp48.onnx')), { loss: 'classification' });
  const g = buildInputHessianVectorGraph(lg);
  assert.deepEqual(g.outputs, ['loss', 'grad.input', 'hv.input']);
  const base = { ...(await imageBatch(fixture('fmnist-hessian', 'batch.safetensors'), 8)), ...paramFeeds(lg.paramValues) };
  const x = base.input.data as Float32Array;
  const r = rng(3);
  const v = Float32Array.from(x, () => r());
  const s = await session(g.model);
  try {
    const at = (eps: number): Feeds => ({
      ...base,
      input: f32(
        [8, 1, 28, 28],
        x.map((xi, i) => xi + eps * v[i]),
      ),
      'v.input': f32([8, 1, 28, 28], v),
    });
    const out = await runSession(s, at(0));
    // ReLU networks are piecewise linear in x: a small step stays in one region, so the difference is exact-ish.
    const eps = 1e-3;
    const p = await runSession(s, at(eps)),
      m = await runSession(s, at(-eps));
    const fd = p['grad.input'].map((gp, i) => (gp - m['grad.input'][i]) / (2 * eps));
    assert.ok(relL2(out['hv.input'], fd) < 2e-2, `input Hv vs differences: ${relL2(out['hv.input'], fd)}`);
    assert.ok(Math.hypot(...out['hv.input']) > 0);
  } finally {
    await s.release();
  }
});

test('gpt2-tiny: lm loss, gradient (tied wte) and Hv equal PyTorch; Hv is symmetric', async () => {
  const lg = buildLossGraph(load(fixture('gpt2-tiny', 'onnx', 'model.onnx')), { loss: 'lm' });
  assert.deepEqual(lg.tied, [{ copy: 'onnx::MatMul_572', source: 'transformer.wte.weight', transposed: true }]);
  assert.equal(lg.params.length, 52);
  assert.deepEqual(lg.dataInputs, ['input_ids']);
  const ref = await readSt(fixture('gpt2-tiny', 'grad_hvp.safetensors'));
  const { tensors } = await readSt(fixture('gpt2-tiny', 'lm_batch.safetensors'));
  const x = tensors.get('x')!;
  const hvp = buildHvpGraph(lg);
  assertDefaultDomain(hvp.model);
  // opset 14 → 16 so embedding gradients scatter-add with ScatterND instead of a [tokens × vocab] one-hot product.
  assert.equal(Number(hvp.model.opsetImport![0].version), 16);
  assert.ok(hvp.model.graph!.node!.some((n) => n.opType === 'ScatterND'));
  const feeds: Feeds = { input_ids: i64(x.shape, x.data), ...paramFeeds(lg.paramValues) };
  const s = await session(hvp.model);
  try {
    for (const p of lg.params) feeds[`v.${p.name}`] = f32(p.dims, ref.tensors.get(`v.${p.name}`)!.data);
    const out = await runSession(s, feeds);
    assertMatchesReference(out, ref, lg.params);
    // ⟨u, Hv⟩ = ⟨Hu, v⟩ with u another direction.
    const r = rng(11);
    const u = lg.params.map((p) => Float32Array.from({ length: p.dims.reduce((a, b) => a * b, 1) }, () => r()));
    const feedsU: Feeds = { ...feeds };
    lg.params.forEach((p, i) => (feedsU[`v.${p.name}`] = f32(p.dims, u[i])));
    const outU = await runSession(s, feedsU);
    let uHv = 0,
      Huv = 0;
    lg.params.forEach((p, i) => {
      uHv += dotp(u[i], out[`hv.${p.name}`]);
      Huv += dotp(outU[`hv.${p.name}`], ref.tensors.get(`v.${p.name}`)!.data);
    });
    assert.ok(Math.abs(uHv - Huv) / Math.max(Math.abs(uHv), Math.abs(Huv)) < 1e-4, `⟨u,Hv⟩=${uHv} ⟨Hu,v⟩=${Huv}`);
  } finally {
    await s.release();
  }
});

test('gpt2-tiny untie: the copy is its own parameter and the tied gradient is the sum', async () => {
  const model = load(fixture('gpt2-tiny', 'onnx', 'model.onnx'));
  const lg = buildLossGraph(model, { loss: 'lm', untie: true });
  assert.equal(lg.tied.length, 0);
  assert.ok(lg.params.some((p) => p.name === 'onnx::MatMul_572'));
  const ref = await readSt(fixture('gpt2-tiny', 'grad_hvp.safetensors'));
  const x = (await readSt(fixture('gpt2-tiny', 'lm_batch.safetensors'))).tensors.get('x')!;
  const out = await run(buildGradGraph(lg).model, { input_ids: i64(x.shape, x.data), ...paramFeeds(lg.paramValues) });
  const gw = out['grad.transformer.wte.weight'],
    gc = out['grad.onnx::MatMul_572']; // [256,128] and [128,256]
  const sum = gw.map((v, k) => v + gc[(k % 128) * 256 + Math.floor(k / 128)]);
  assert.ok(relL2(sum, ref.tensors.get('grad.transformer.wte.weight')!.data) < 1e-4);
  assert.ok(relL2(gw, ref.tensors.get('grad.transformer.wte.weight')!.data) > 1e-2, 'untied gradient should differ');
});
