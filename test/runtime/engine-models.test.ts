import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openSafetensors } from '../../src/io/safetensors.js';
import { createEngine, type Engine } from '../../src/runtime/engine.js';
import { loadDataset, sliceBatch, type Batch } from '../../src/runtime/dataset.js';
import type { ParamMap } from '../../src/runtime/params.js';
import { fixture } from '../helpers/fixtures.js';

/** Loss, gradient and Hv of `engine` on `batch` against a fixtures' grad_hvp.safetensors (relative L2). */
async function compare(
  engine: Engine,
  batch: Batch,
  refPath: string,
): Promise<{ loss: number; refLoss: number; grad: number; hv: number }> {
  const ref = await openSafetensors(refPath);
  try {
    const p = engine.initialParams();
    const v: ParamMap = new Map();
    for (const s of engine.params) v.set(s.name, Float32Array.from(await ref.readFloat64(`v.${s.name}`)));
    const g = await engine.grad(p, batch);
    const h = await engine.hvp(p, batch, v);
    const rel = async (prefix: string, got: ParamMap) => {
      let num = 0;
      let den = 0;
      for (const s of engine.params) {
        const r = await ref.readFloat64(prefix + s.name);
        const a = got.get(s.name) as Float32Array;
        for (let i = 0; i < r.length; i++) {
          num += (a[i] - r[i]) ** 2;
          den += r[i] ** 2;
        }
      }
      return Math.sqrt(num / den);
    };
    return { loss: g.loss, refLoss: Number(ref.metadata.loss), grad: await rel('grad.', g.grads), hv: await rel('hv.', h.hv) };
  } finally {
    await ref.close();
  }
}

test('engine on mlp48 (first 256 of its batch): loss, gradient and Hv equal PyTorch to 1e-4', async () => {
  const e = await createEngine(fixture('fmnist-hessian', 'mlp48.onnx'), { loss: 'classification' });
  const batch = sliceBatch(await loadDataset(fixture('fmnist-hessian', 'batch.safetensors')), 0, 256);
  const r = await compare(e, batch, fixture('fmnist-hessian', 'grad_hvp.safetensors'));
  assert.ok(Math.abs(r.loss - r.refLoss) < 1e-5 * r.refLoss, `${r.loss} vs ${r.refLoss}`);
  assert.ok(r.grad < 1e-4, `grad rel L2 ${r.grad}`);
  assert.ok(r.hv < 1e-4, `hv rel L2 ${r.hv}`);
});

test('engine on fmnist-backdoor model_a (first 128 of the clean subset): loss, gradient and Hv equal PyTorch to 1e-4', async () => {
  const e = await createEngine(fixture('fmnist-backdoor', 'model_a.onnx'), { loss: 'classification' });
  const batch = sliceBatch(await loadDataset(fixture('fmnist-backdoor', 'clean_subset.safetensors')), 0, 128);
  const r = await compare(e, batch, fixture('fmnist-backdoor', 'grad_hvp.safetensors'));
  assert.ok(Math.abs(r.loss - r.refLoss) < 1e-5 * r.refLoss, `${r.loss} vs ${r.refLoss}`);
  assert.ok(r.grad < 1e-4, `grad rel L2 ${r.grad}`);
  assert.ok(r.hv < 1e-4, `hv rel L2 ${r.hv}`);
});

test('engine on gpt2-tiny (language-model loss, tied wte): gradient, Hv, and a forward pass that shares the tied weight', async () => {
  const e = await createEngine(fixture('gpt2-tiny', 'onnx', 'model.onnx'), { loss: 'lm' });
  assert.ok(!e.params.some((p) => p.name === 'onnx::MatMul_572'), 'the constant-folded wteᵀ copy is re-tied, not a parameter');
  const ds = await loadDataset(fixture('gpt2-tiny', 'lm_batch.safetensors'));
  const batch = sliceBatch(ds, 0, ds.n);
  const lmRef = JSON.parse(readFileSync(fixture('gpt2-tiny', 'lm_reference.json'), 'utf8')) as { loss: number };
  const ev = await e.evaluate(e.initialParams(), ds);
  assert.equal(ev.tokens, 8 * 63);
  assert.ok(Math.abs(ev.loss - lmRef.loss) < 1e-5 * lmRef.loss, `${ev.loss} vs ${lmRef.loss}`);
  const r = await compare(e, batch, fixture('gpt2-tiny', 'grad_hvp.safetensors'));
  assert.ok(r.grad < 1e-4, `grad rel L2 ${r.grad}`);
  assert.ok(r.hv < 1e-4, `hv rel L2 ${r.hv}`);
  // Moving wte alone moves the LM head too: the forward loss's slope along wte's gradient is ‖∂L/∂wte‖²,
  // which holds only if the forward graph reads the head from wte (an untied forward pass gives a smaller slope).
  const p = e.initialParams();
  const g = (await e.grad(p, batch)).grads.get('transformer.wte.weight') as Float32Array;
  let gg = 0;
  for (const x of g) gg += x * x;
  const eps = 1e-2 / Math.sqrt(gg);
  const moved = (s: number) =>
    new Map([...p].map(([k, w]) => [k, k === 'transformer.wte.weight' ? w.map((x, i) => x + s * eps * g[i]) : w]));
  const slope = ((await e.loss(moved(1), batch)) - (await e.loss(moved(-1), batch))) / (2 * eps);
  assert.ok(Math.abs(slope - gg) < 0.02 * gg, `finite-difference slope ${slope} vs ‖g‖² ${gg}`);
});
