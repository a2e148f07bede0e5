/**
 * Acceptance of the config.json route on every Hugging Face fixture, opened from its folder (no ONNX file used):
 * logits within 1e-5 relative L2 of the references (over the logits each reference holds), loss within 1e-5
 * relative, gradient and Hv within 1e-4 relative L2 of PyTorch's (grad_hvp.safetensors, keyed by the checkpoint's
 * tensor names), Lanczos top-3 Hessian eigenvalues within 1e-3 relative.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelData } from '../../src/data/model-data.js';
import { runHessian } from '../../src/landscape/hessian/run.js';
import { lossFor, modelEngine } from '../../src/model-io/engine.js';
import { openModel } from '../../src/model-io/open.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { makeDataset, sliceBatch, type Dataset } from '../../src/runtime/dataset.js';
import { fixture } from '../helpers/fixtures.js';
import { relL2 } from '../helpers/hf-folders.js';

interface Case {
  name: string;
  dir: string;
  data: string;
  /** Use only the first n samples (the references' batch). */
  first?: number;
  architecture: string;
  reference: string;
  /** The reference's logits and which of ours they are: [row, position] → first `cols` entries. */
  logits: (ref: Record<string, unknown>) => { want: number[]; pick: (logits: Float32Array, dims: readonly number[]) => number[] } | null;
}

const first =
  (rows: number, positions: number, cols: number) =>
  (l: Float32Array, dims: readonly number[]): number[] => {
    const out: number[] = [];
    if (dims.length === 3) {
      for (let p = 0; p < positions; p++) for (let c = 0; c < cols; c++) out.push(l[(0 * dims[1] + p) * dims[2] + c]);
    } else {
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out.push(l[r * dims[1] + c]);
    }
    return out;
  };

const CASES: Case[] = [
  {
    name: 'stories260k (real Llama, rotary layout; reference: llama2.c model.py)',
    dir: fixture('stories260k'),
    data: fixture('stories260k', 'lm_batch.safetensors'),
    architecture: 'LlamaForCausalLM',
    reference: fixture('stories260k', 'lm_reference.json'),
    logits: (r) => ({ want: (r.logits_row0_first8 as number[][]).flat(), pick: first(1, 4, 8) }),
  },
  {
    name: 'qwen2-tiny (q/k/v biases, GQA, rope_theta 1e6, tied head)',
    dir: fixture('hf-archs', 'qwen2-tiny'),
    data: fixture('hf-archs', 'qwen2-tiny', 'lm_batch.safetensors'),
    architecture: 'Qwen2ForCausalLM',
    reference: fixture('hf-archs', 'qwen2-tiny', 'reference.json'),
    logits: (r) => ({ want: (r.logits_row0_first4x8 as number[][]).flat(), pick: first(1, 4, 8) }),
  },
  {
    name: 'bert-tiny-cls (padded batch, position_ids buffer in the checkpoint)',
    dir: fixture('hf-archs', 'bert-tiny-cls'),
    data: fixture('hf-archs', 'bert-tiny-cls', 'batch.safetensors'),
    architecture: 'BertForSequenceClassification',
    reference: fixture('hf-archs', 'bert-tiny-cls', 'reference.json'),
    logits: (r) => ({ want: (r.logits as number[][]).flat(), pick: first(16, 0, 3) }),
  },
  {
    name: 'vit-fmnist-backdoor/model_a (first 128 images of the clean subset)',
    dir: fixture('vit-fmnist-backdoor', 'model_a'),
    data: fixture('fmnist-backdoor', 'clean_subset.safetensors'),
    first: 128,
    architecture: 'ViTForImageClassification',
    reference: fixture('vit-fmnist-backdoor', 'model_a', 'reference.json'),
    logits: (r) => ({ want: (r.logits_first4 as number[][]).flat(), pick: first(4, 0, 10) }),
  },
  {
    name: 'gpt2-tiny (Conv1D [in, out], lm_head tied to wte)',
    dir: fixture('gpt2-tiny'),
    data: fixture('gpt2-tiny', 'lm_batch.safetensors'),
    architecture: 'GPT2LMHeadModel',
    reference: fixture('gpt2-tiny', 'lm_reference.json'),
    logits: () => null,
  },
];

function take(ds: Dataset, n: number | undefined): Dataset {
  if (n === undefined) return ds;
  const b = sliceBatch(ds, 0, n);
  return makeDataset(b.x, b.y ? (b.y.data as BigInt64Array) : null);
}

for (const c of CASES) {
  test(`config.json route on ${c.name}: logits, loss, gradient, Hv and Lanczos top-3 equal PyTorch's`, async (t) => {
    const ref = JSON.parse(readFileSync(c.reference, 'utf8')) as Record<string, unknown> & {
      loss: number;
      top_eigenvalues: number[];
      num_params: number;
    };
    const m = await openModel(c.dir);
    assert.equal(m.route, 'config.json');
    assert.equal(m.architecture, c.architecture);
    const ds = take(await loadModelData(m, { data: c.data }), c.first);
    const engine = await modelEngine(m, lossFor(m, ds));
    try {
      assert.equal(
        engine.params.reduce((s, p) => s + p.size, 0),
        ref.num_params,
      );
      const params = engine.initialParams();
      const batch = sliceBatch(ds, 0, ds.n);
      const lg = c.logits(ref);
      if (lg) {
        const out = await engine.logits(params, batch.x);
        const err = relL2(lg.pick(out.data as Float32Array, out.dims), lg.want);
        t.diagnostic(`logits rel L2 ${err.toExponential(2)}`);
        assert.ok(err < 1e-5, `logits rel L2 ${err}`);
      }
      const st = await openSafetensors(join(c.dir, 'grad_hvp.safetensors'));
      const v = new Map<string, Float32Array>();
      let gn = 0,
        gd = 0,
        hn = 0,
        hd = 0;
      try {
        for (const s of engine.params) v.set(s.name, Float32Array.from(await st.readFloat64(`v.${s.name}`)));
        const g = await engine.grad(params, batch);
        const h = await engine.hvp(params, batch, v);
        t.diagnostic(`loss ${g.loss} vs ${ref.loss} (rel ${(Math.abs(g.loss - ref.loss) / ref.loss).toExponential(2)})`);
        assert.ok(Math.abs(g.loss - ref.loss) <= 1e-5 * ref.loss, `loss ${g.loss} vs ${ref.loss}`);
        for (const s of engine.params) {
          const gr = await st.readFloat64(`grad.${s.name}`);
          const hr = await st.readFloat64(`hv.${s.name}`);
          const gm = g.grads.get(s.name)!,
            hm = h.hv.get(s.name)!;
          for (let i = 0; i < gr.length; i++) {
            gn += (gm[i] - gr[i]) ** 2;
            gd += gr[i] ** 2;
            hn += (hm[i] - hr[i]) ** 2;
            hd += hr[i] ** 2;
          }
        }
      } finally {
        await st.close();
      }
      t.diagnostic(`gradient rel L2 ${Math.sqrt(gn / gd).toExponential(2)}, Hv rel L2 ${Math.sqrt(hn / hd).toExponential(2)}`);
      assert.ok(Math.sqrt(gn / gd) < 1e-4, `gradient rel L2 ${Math.sqrt(gn / gd)}`);
      assert.ok(Math.sqrt(hn / hd) < 1e-4, `Hv rel L2 ${Math.sqrt(hn / hd)}`);
      const r = await runHessian({ engine, dataset: ds }, { topK: 3, lanczos: true, maxIter: 60, tol: 1e-6, batchSize: ds.n });
      t.diagnostic(
        `Lanczos top-3 ${r.top_eigenvalues!.map((e) => e.toFixed(4)).join(', ')} vs ${ref.top_eigenvalues.map((e) => e.toFixed(4)).join(', ')} (${r.hv_products} Hv)`,
      );
      r.top_eigenvalues!.forEach((e, i) => {
        const want = ref.top_eigenvalues[i];
        assert.ok(Math.abs(e - want) <= 1e-3 * Math.abs(want), `λ${i + 1} ${e} vs ${want}`);
      });
    } finally {
      await engine.dispose();
    }
  });
}
