/**
 * The same model by its routes: gpt2-tiny's config.json graph against its onnx/model.onnx (loss, gradient and Hv), and
 * Optimum / transformers.js-layout exports built in that shape (test/helpers/optimum-exports.ts: a GPT-2
 * decoder_model.onnx with past inputs, a decoder_model_merged.onnx with an If on use_cache_branch, a BERT model.onnx
 * with three inputs) against the config.json graph of the same weights; quantized and half-precision exports refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeOnnxModel, readOnnxModel } from '../../src/io/onnx-model.js';
import { loadModelData } from '../../src/data/model-data.js';
import { lossFor, modelEngine } from '../../src/model-io/engine.js';
import { openModel, type OpenedModel } from '../../src/model-io/open.js';
import { sliceBatch, type Dataset } from '../../src/runtime/dataset.js';
import type { ParamMap } from '../../src/runtime/params.js';
import { fixture } from '../helpers/fixtures.js';
import { readAllTensors, relL2 } from '../helpers/hf-folders.js';
import { isCode } from '../helpers/errors.js';
import { encoderExport, gpt2DecoderExport, gpt2MergedExport } from '../helpers/optimum-exports.js';
import { Rng } from '../../src/util/random.js';

interface Numbers {
  loss: number;
  grads: ParamMap;
  hv: ParamMap;
  logits: Float32Array;
}

/** Loss, gradient, Hv (along a seeded direction over `names`) and logits of `m` on the whole dataset. */
async function numbers(m: OpenedModel, ds: Dataset, v: (names: readonly { name: string; size: number }[]) => ParamMap): Promise<Numbers> {
  const e = await modelEngine(m, lossFor(m, ds));
  try {
    const p = e.initialParams();
    const batch = sliceBatch(ds, 0, ds.n);
    const g = await e.grad(p, batch);
    const h = await e.hvp(p, batch, v(e.params));
    return { loss: g.loss, grads: g.grads, hv: h.hv, logits: (await e.logits(p, batch.x)).data as Float32Array };
  } finally {
    await e.dispose();
  }
}

function direction(seed: number): (specs: readonly { name: string; size: number }[]) => ParamMap {
  return (specs) => {
    const rng = new Rng(seed);
    return new Map(
      [...specs].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => [s.name, Float32Array.from({ length: s.size }, () => rng.normal())]),
    );
  };
}

function mapRel(a: ParamMap, b: ParamMap): number {
  let num = 0;
  let den = 0;
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) {
      num += (x[i] - y[i]) ** 2;
      den += y[i] ** 2;
    }
  }
  return Math.sqrt(num / den);
}

function agree(a: Numbers, b: Numbers, tol: { loss: number; grad: number }, say?: (msg: string) => void): void {
  say?.(
    `loss rel ${(Math.abs(a.loss - b.loss) / Math.abs(b.loss)).toExponential(2)}, gradient ${mapRel(a.grads, b.grads).toExponential(2)}, Hv ${mapRel(a.hv, b.hv).toExponential(2)}, logits ${relL2(a.logits, b.logits).toExponential(2)} (rel L2)`,
  );
  assert.ok(Math.abs(a.loss - b.loss) <= tol.loss * Math.abs(b.loss), `loss ${a.loss} vs ${b.loss}`);
  assert.ok(mapRel(a.grads, b.grads) <= tol.grad, `gradient rel L2 ${mapRel(a.grads, b.grads)}`);
  assert.ok(mapRel(a.hv, b.hv) <= tol.grad, `Hv rel L2 ${mapRel(a.hv, b.hv)}`);
  assert.ok(relL2(a.logits, b.logits) <= tol.grad, `logits rel L2 ${relL2(a.logits, b.logits)}`);
}

const GPT2 = fixture('gpt2-tiny');
const GPT2_DIMS = { vocab: 256, positions: 128, hidden: 128, layers: 4, heads: 4, eps: 1e-5 };

test('gpt2-tiny: the config.json graph equals onnx/model.onnx (loss 2e-6, gradient and Hv 1e-5), both keyed by the checkpoint names', async (t) => {
  const viaConfig = await openModel(GPT2);
  const viaOnnx = await openModel(GPT2, { graph: 'onnx' });
  assert.equal(viaConfig.route, 'config.json');
  assert.equal(viaOnnx.route, 'onnx-export');
  assert.equal(viaConfig.architecture, 'GPT2LMHeadModel');
  const ds = await loadModelData(viaConfig, { data: join(GPT2, 'lm_batch.safetensors') });
  const [a, b] = [await numbers(viaConfig, ds, direction(1)), await numbers(viaOnnx, ds, direction(1))];
  agree(a, b, { loss: 2e-6, grad: 1e-5 }, (m) => t.diagnostic(m));
  assert.ok(a.grads.has('transformer.wte.weight') && !a.grads.has('lm_head.weight'));
});

test('transformers.js layout: decoder_model.onnx and decoder_model_merged.onnx fed as a first forward pass equal the config.json graph', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-optimum-'));
  try {
    const weights = await readAllTensors(join(GPT2, 'model.safetensors'));
    const ref = await openModel(GPT2);
    const ds = await loadModelData(ref, { data: join(GPT2, 'lm_batch.safetensors') });
    const want = await numbers(ref, ds, direction(2));
    for (const [file, model] of [
      ['decoder_model.onnx', gpt2DecoderExport(GPT2_DIMS, weights)],
      ['decoder_model_merged.onnx', gpt2MergedExport(GPT2_DIMS, weights)],
    ] as const) {
      const folder = join(dir, file.replace('.onnx', ''));
      await mkdir(join(folder, 'onnx'), { recursive: true });
      await copyFile(join(GPT2, 'config.json'), join(folder, 'config.json'));
      await writeOnnxModel(join(folder, 'onnx', file), model);
      const m = await openModel(folder);
      assert.equal(m.route, 'onnx-export');
      assert.equal(m.layout.kind, 'tokens');
      assert.match(m.feeds?.attention_mask ?? '', /ones/);
      assert.match(m.feeds?.position_ids ?? '', /cumsum/);
      assert.match(m.feeds?.['past_key_values.3.value'] ?? '', /past length 0/);
      if (file === 'decoder_model_merged.onnx') {
        assert.equal(m.feeds?.use_cache_branch, 'false');
        assert.equal(m.feeds?.['If nodes folded'], '1');
        assert.ok(!(m.model.graph?.node ?? []).some((n) => n.opType === 'If'));
      }
      assert.deepEqual(
        (m.model.graph?.output ?? []).map((o) => o.name),
        ['logits'],
      );
      agree(await numbers(m, ds, direction(2)), want, { loss: 2e-6, grad: 1e-5 }, (msg) => t.diagnostic(`${file}: ${msg}`));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('transformers.js layout: a BERT model.onnx with input_ids, attention_mask and token_type_ids takes the packed data of the config.json graph', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-optimum-'));
  try {
    const bert = fixture('hf-archs', 'bert-tiny-cls');
    const ref = await openModel(bert);
    const ds = await loadModelData(ref, { data: join(bert, 'batch.safetensors') });
    await mkdir(join(dir, 'onnx'));
    await copyFile(join(bert, 'config.json'), join(dir, 'config.json'));
    await writeOnnxModel(join(dir, 'onnx', 'model.onnx'), encoderExport(ref.model));
    const m = await openModel(dir);
    assert.equal(m.route, 'onnx-export');
    assert.equal(m.layout.kind, 'encoder');
    assert.deepEqual(Object.keys(m.feeds ?? {}).sort(), ['attention_mask', 'input_ids', 'token_type_ids']);
    agree(await numbers(m, ds, direction(3)), await numbers(ref, ds, direction(3)), { loss: 1e-6, grad: 1e-6 }, (msg) =>
      t.diagnostic(`model.onnx: ${msg}`),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('quantized and half-precision exports are refused with a clear message', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-optimum-'));
  try {
    await mkdir(join(dir, 'onnx'));
    await copyFile(join(GPT2, 'config.json'), join(dir, 'config.json'));
    await copyFile(join(GPT2, 'onnx', 'model.onnx'), join(dir, 'onnx', 'model_quantized.onnx'));
    await assert.rejects(openModel(dir), isCode('not-found', /only model_quantized\.onnx \(quantized/));
    await assert.rejects(openModel(join(dir, 'onnx', 'model_quantized.onnx')), isCode('unsupported-dtype', /quantized export/));
    // An integer MatMul inside an otherwise normal file name.
    const q = await readOnnxModel(join(GPT2, 'onnx', 'model.onnx'));
    q.graph!.node!.push({ opType: 'MatMulInteger', input: ['a', 'b'], output: ['c'], name: 'q' });
    await writeOnnxModel(join(dir, 'onnx', 'model.onnx'), q);
    await assert.rejects(
      openModel(join(dir, 'onnx', 'model.onnx')),
      isCode('unsupported-dtype', /quantized graph \(it uses MatMulInteger\)/),
    );
    const half = await readOnnxModel(join(GPT2, 'onnx', 'model.onnx'));
    half.graph!.initializer![0].dataType = 10;
    await writeOnnxModel(join(dir, 'onnx', 'model.onnx'), half);
    await assert.rejects(openModel(dir, { graph: 'onnx' }), isCode('unsupported-dtype', /half precision/));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
