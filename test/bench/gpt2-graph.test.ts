/**
 * The GPU check's generated models (bench/gpu): the GPT-2 graph built with the project's builder must compute what
 * PyTorch computes (gpt2-tiny's reference loss, gradient and Hv), since the check times it against PyTorch on the same
 * weights; the Llama folder writer must give a checkpoint `analyze` reads, with the shapes it claims.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromHf, gpt2OnnxBytes, gpt2Tensors, GPT2_SMALL, randomTokens } from '../../bench/gpu/gpt2-graph.js';
import { SHAPES, analysisFlops, llamaTensors, writeLlamaFolder } from '../../bench/gpu/llama-folder.js';
import { analyze } from '../../src/report/analyze.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { loadDataset, sliceBatch } from '../../src/runtime/dataset.js';
import { createEngine } from '../../src/runtime/engine.js';
import { fixture } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'ws-gpu-models-'));
const count = (ts: { shape: number[] }[]) => ts.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);

test("gpt2Graph on gpt2-tiny's weights: loss, gradient and Hv equal PyTorch's reference (tied lm_head)", async () => {
  const cfg = configFromHf(JSON.parse(readFileSync(fixture('gpt2-tiny', 'config.json'), 'utf8')));
  const r = await openSafetensors(fixture('gpt2-tiny', 'model.safetensors'));
  const w = new Map<string, Float32Array>();
  try {
    assert.deepEqual(
      r.tensors.map((t) => t.name).sort(),
      gpt2Tensors(cfg)
        .map((t) => t.name)
        .sort(),
    );
    for (const t of gpt2Tensors(cfg)) w.set(t.name, Float32Array.from(await r.readFloat64(t.name)));
  } finally {
    await r.close();
  }
  const path = join(dir, 'gpt2-tiny.onnx');
  writeFileSync(path, gpt2OnnxBytes(cfg, 64, w));
  const engine = await createEngine(path, { loss: 'lm' });
  assert.equal(engine.params.length, 52);
  const ds = await loadDataset(fixture('gpt2-tiny', 'lm_batch.safetensors'));
  const batch = sliceBatch(ds, 0, ds.n);
  const ref = await openSafetensors(fixture('gpt2-tiny', 'grad_hvp.safetensors'));
  try {
    const v = new Map<string, Float32Array>();
    for (const p of engine.params) v.set(p.name, Float32Array.from(await ref.readFloat64(`v.${p.name}`)));
    const g = await engine.grad(engine.initialParams(), batch);
    const h = await engine.hvp(engine.initialParams(), batch, v);
    const lossRef = JSON.parse(readFileSync(fixture('gpt2-tiny', 'lm_reference.json'), 'utf8')).loss as number;
    assert.ok(Math.abs(g.loss - lossRef) < 1e-5, `loss ${g.loss} vs ${lossRef}`);
    let dg = 0,
      ng = 0,
      dh = 0,
      nh = 0;
    for (const p of engine.params) {
      const rg = await ref.readFloat64(`grad.${p.name}`),
        rh = await ref.readFloat64(`hv.${p.name}`);
      const gg = g.grads.get(p.name)!,
        hh = h.hv.get(p.name)!;
      for (let i = 0; i < rg.length; i++) {
        dg += (gg[i] - rg[i]) ** 2;
        ng += rg[i] ** 2;
        dh += (hh[i] - rh[i]) ** 2;
        nh += rh[i] ** 2;
      }
    }
    assert.ok(Math.sqrt(dg / ng) < 1e-4, `grad rel. L2 ${Math.sqrt(dg / ng)}`);
    assert.ok(Math.sqrt(dh / nh) < 1e-4, `Hv rel. L2 ${Math.sqrt(dh / nh)}`);
  } finally {
    await ref.close();
    await engine.dispose();
  }
});

test('GPT-2-small shape: 124,439,808 parameters; tokens in range and seeded', () => {
  assert.equal(count(gpt2Tensors(GPT2_SMALL)), 124_439_808);
  const x = randomTokens(50257, 8, 128, 1);
  assert.equal(x.length, 1024);
  assert.ok(x.every((t) => t >= 0n && t < 50257n));
  assert.deepEqual(x, randomTokens(50257, 8, 128, 1));
  assert.ok(new Set(x).size > 1000);
});

test('Llama folders: TinyLlama-1.1B and Llama-2-7B parameter counts; a small one is read by analyze with the BF16 shapes written', async () => {
  assert.equal(count(llamaTensors(SHAPES['tinyllama-1.1b'])), 1_100_048_384);
  assert.equal(count(llamaTensors(SHAPES['llama2-7b'])), 6_738_415_616);
  assert.ok(Math.abs(analysisFlops(SHAPES['llama2-7b']) / analysisFlops(SHAPES['tinyllama-1.1b']) - 13.3) < 0.01);
  const shape = { hidden: 64, intermediate: 160, layers: 2, heads: 4, kvHeads: 2, vocab: 300, positions: 128 };
  const out = join(dir, 'llama-small');
  assert.equal(await writeLlamaFolder(out, shape, 3), count(llamaTensors(shape)));
  const r = await openSafetensors(join(out, 'model.safetensors'));
  try {
    const k = r.tensors.find((t) => t.name === 'model.layers.1.self_attn.k_proj.weight')!;
    assert.equal(k.dtype, 'BF16');
    assert.deepEqual(k.shape, [32, 64]);
    const w = await r.readFloat64('model.layers.0.mlp.up_proj.weight');
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const sd = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    assert.ok(Math.abs(mean) < 1e-3 && Math.abs(sd - 0.02) < 1e-3, `mean ${mean}, sd ${sd}`);
    assert.ok((await r.readFloat64('model.norm.weight')).every((v) => v === 1));
  } finally {
    await r.close();
  }
  const report = await analyze(out, { fits: ['pl'] });
  assert.equal(report.layers.length, 2 + 2 * 7);
  assert.ok(report.layers.every((l) => l.status !== 'failed'));
});
