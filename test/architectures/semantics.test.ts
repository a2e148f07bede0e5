/**
 * Graphs built from config.json on checkpoints the shared fixtures do not cover, against plain float64 loops of
 * transformers' semantics (test/helpers/naive-transformers.ts): Llama with head_dim ≠ hidden/heads, attention and MLP
 * biases, a separate lm_head and llama3 RoPE scaling; Mistral with linear RoPE scaling and a sliding window shorter
 * than the sequence; Qwen2 with sliding windows on later layers only; BERT (legacy gamma/beta LayerNorm names) and
 * RoBERTa (padding_idx positions) classifiers on padded batches, and both masked-LM heads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModel } from '../../src/model-io/open.js';
import { modelForward } from '../../src/model-io/engine.js';
import { naiveBert, naiveLlama, type NaiveBert, type NaiveLlama } from '../helpers/naive-transformers.js';
import { asFloat32, randomWeights, relL2, writeHfFolder } from '../helpers/hf-folders.js';
import { mulberry32 } from '../helpers/random.js';

function llamaShapes(c: NaiveLlama): Map<string, number[]> {
  const { hidden: d, headDim: hd } = c;
  const s = new Map<string, number[]>([
    ['model.embed_tokens.weight', [c.vocab, d]],
    ['model.norm.weight', [d]],
  ]);
  if (!c.tied) s.set('lm_head.weight', [c.vocab, d]);
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    s.set(`${p}input_layernorm.weight`, [d]);
    s.set(`${p}post_attention_layernorm.weight`, [d]);
    for (const [n, o] of [
      ['q_proj', c.heads * hd],
      ['k_proj', c.kvHeads * hd],
      ['v_proj', c.kvHeads * hd],
    ] as const) {
      s.set(`${p}self_attn.${n}.weight`, [o, d]);
      if (c.qkvBias) s.set(`${p}self_attn.${n}.bias`, [o]);
    }
    s.set(`${p}self_attn.o_proj.weight`, [d, c.heads * hd]);
    if (c.oBias) s.set(`${p}self_attn.o_proj.bias`, [d]);
    s.set(`${p}mlp.gate_proj.weight`, [c.inter, d]);
    s.set(`${p}mlp.up_proj.weight`, [c.inter, d]);
    s.set(`${p}mlp.down_proj.weight`, [d, c.inter]);
    if (c.mlpBias)
      for (const [n, o] of [
        ['gate_proj', c.inter],
        ['up_proj', c.inter],
        ['down_proj', d],
      ] as const)
        s.set(`${p}mlp.${n}.bias`, [o]);
  }
  return s;
}

async function graphLogits(
  dir: string,
  x: { type: 'int64' | 'float32'; data: BigInt64Array | Float32Array; dims: number[] },
): Promise<Float32Array> {
  const m = await openModel(dir);
  const { forward, values } = await modelForward(m);
  return (await forward.logits(values, x)).data as Float32Array;
}

const LLAMA_CASES: { name: string; config: Record<string, unknown>; naive: NaiveLlama; seq: number }[] = [
  {
    name: 'llama: head_dim 24 ≠ 64/4, attention_bias, mlp_bias, separate lm_head, llama3 RoPE',
    config: {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: 97,
      hidden_size: 64,
      intermediate_size: 80,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 24,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      attention_bias: true,
      mlp_bias: true,
      tie_word_embeddings: false,
      max_position_embeddings: 256,
      rope_scaling: { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 32 },
    },
    naive: {
      vocab: 97,
      hidden: 64,
      layers: 2,
      heads: 4,
      kvHeads: 2,
      headDim: 24,
      inter: 80,
      eps: 1e-5,
      theta: 10000,
      rope: { type: 'llama3', factor: 8, low: 1, high: 4, old: 32 },
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      tied: false,
      window: null,
    },
    seq: 20,
  },
  {
    name: 'mistral: linear RoPE ×2 and a sliding window of 5 over 12 tokens',
    config: {
      model_type: 'mistral',
      architectures: ['MistralForCausalLM'],
      vocab_size: 61,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      rms_norm_eps: 1e-6,
      rope_theta: 500.0,
      sliding_window: 5,
      tie_word_embeddings: false,
      rope_scaling: { type: 'linear', factor: 2.0 },
    },
    naive: {
      vocab: 61,
      hidden: 32,
      layers: 2,
      heads: 4,
      kvHeads: 1,
      headDim: 8,
      inter: 48,
      eps: 1e-6,
      theta: 500,
      rope: { type: 'linear', factor: 2 },
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      tied: false,
      window: 5,
    },
    seq: 12,
  },
];

for (const c of LLAMA_CASES) {
  test(`config.json graph equals transformers' semantics — ${c.name}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ws-arch-'));
    try {
      const tensors = randomWeights(llamaShapes(c.naive), 7, 0.15);
      await writeHfFolder(dir, c.config, tensors);
      const u = mulberry32(3);
      const rows = [0, 1].map(() => Array.from({ length: c.seq }, () => Math.floor(u() * c.naive.vocab)));
      const got = await graphLogits(dir, { type: 'int64', data: BigInt64Array.from(rows.flat(), BigInt), dims: [2, c.seq] });
      const w = asFloat32(tensors);
      const want = Float64Array.from(rows.flatMap((r) => [...naiveLlama(c.naive, w, r)]));
      const err = relL2(got, want);
      assert.ok(err < 1e-5, `logits rel L2 ${err}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test("config.json graph equals transformers' semantics — qwen2: sliding window on the layers from max_window_layers on", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-arch-'));
  try {
    const naive: NaiveLlama = {
      vocab: 53,
      hidden: 32,
      layers: 2,
      heads: 2,
      kvHeads: 2,
      headDim: 16,
      inter: 40,
      eps: 1e-6,
      theta: 1e6,
      rope: { type: 'default' },
      qkvBias: true,
      oBias: false,
      mlpBias: false,
      tied: true,
      window: null,
    };
    const config = {
      model_type: 'qwen2',
      architectures: ['Qwen2ForCausalLM'],
      vocab_size: 53,
      hidden_size: 32,
      intermediate_size: 40,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1e6,
      tie_word_embeddings: true,
      use_sliding_window: true,
      sliding_window: 3,
      max_window_layers: 1,
    };
    const tensors = randomWeights(llamaShapes(naive), 11, 0.2);
    await writeHfFolder(dir, config, tensors);
    const ids = [5, 17, 3, 44, 8, 1, 29, 30, 2, 50];
    const got = await graphLogits(dir, { type: 'int64', data: BigInt64Array.from(ids, BigInt), dims: [1, ids.length] });
    const w = asFloat32(tensors);
    const want = naiveLlama({ ...naive, windows: [null, 3] }, w, ids);
    assert.ok(relL2(got, want) < 1e-5, `logits rel L2 ${relL2(got, want)}`);
    // Neither extreme: the window really applies to layer 1 only.
    assert.ok(relL2(got, naiveLlama(naive, w, ids)) > 1e-3 && relL2(got, naiveLlama({ ...naive, window: 3 }, w, ids)) > 1e-3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function bertShapes(c: NaiveBert, legacy: boolean): Map<string, number[]> {
  const d = c.hidden;
  const p = `${c.kind}.`;
  const ln = (n: string, s: Map<string, number[]>) => {
    s.set(`${n}.${legacy ? 'gamma' : 'weight'}`, [d]);
    s.set(`${n}.${legacy ? 'beta' : 'bias'}`, [d]);
  };
  const s = new Map<string, number[]>([
    [`${p}embeddings.word_embeddings.weight`, [c.vocab, d]],
    [`${p}embeddings.position_embeddings.weight`, [40, d]],
    [`${p}embeddings.token_type_embeddings.weight`, [2, d]],
  ]);
  ln(`${p}embeddings.LayerNorm`, s);
  for (let l = 0; l < c.layers; l++) {
    const q = `${p}encoder.layer.${l}.`;
    for (const n of ['query', 'key', 'value']) {
      s.set(`${q}attention.self.${n}.weight`, [d, d]);
      s.set(`${q}attention.self.${n}.bias`, [d]);
    }
    s.set(`${q}attention.output.dense.weight`, [d, d]);
    s.set(`${q}attention.output.dense.bias`, [d]);
    ln(`${q}attention.output.LayerNorm`, s);
    s.set(`${q}intermediate.dense.weight`, [c.inter, d]);
    s.set(`${q}intermediate.dense.bias`, [c.inter]);
    s.set(`${q}output.dense.weight`, [d, c.inter]);
    s.set(`${q}output.dense.bias`, [d]);
    ln(`${q}output.LayerNorm`, s);
  }
  if (c.task === 'masked-lm') {
    const h = c.kind === 'bert' ? 'cls.predictions.' : 'lm_head.';
    s.set(`${h}${c.kind === 'bert' ? 'transform.dense' : 'dense'}.weight`, [d, d]);
    s.set(`${h}${c.kind === 'bert' ? 'transform.dense' : 'dense'}.bias`, [d]);
    ln(`${h}${c.kind === 'bert' ? 'transform.LayerNorm' : 'layer_norm'}`, s);
    s.set(`${h}bias`, [c.vocab]);
    // An unused pooler, as pre-training checkpoints carry: ignored.
    s.set(`${p}pooler.dense.weight`, [d, d]);
  } else if (c.kind === 'bert') {
    s.set('bert.pooler.dense.weight', [d, d]);
    s.set('bert.pooler.dense.bias', [d]);
    s.set('classifier.weight', [c.labels, d]);
    s.set('classifier.bias', [c.labels]);
  } else {
    s.set('classifier.dense.weight', [d, d]);
    s.set('classifier.dense.bias', [d]);
    s.set('classifier.out_proj.weight', [c.labels, d]);
    s.set('classifier.out_proj.bias', [c.labels]);
  }
  return s;
}

/** Legacy names back to the ones the naive model reads. */
function modernNames(t: Map<string, Float64Array>): Map<string, Float64Array> {
  return new Map([...t].map(([k, v]) => [k.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias'), v]));
}

const BERT_CASES: { name: string; naive: NaiveBert; legacy: boolean }[] = [
  {
    name: 'BertForSequenceClassification with legacy gamma/beta LayerNorm names',
    naive: {
      kind: 'bert',
      task: 'sequence-classification',
      vocab: 90,
      hidden: 32,
      layers: 2,
      heads: 4,
      inter: 48,
      eps: 1e-12,
      labels: 3,
      padIdx: 0,
    },
    legacy: true,
  },
  {
    name: 'RobertaForSequenceClassification: positions from padding_idx + 1, padding at position padding_idx',
    naive: {
      kind: 'roberta',
      task: 'sequence-classification',
      vocab: 90,
      hidden: 32,
      layers: 2,
      heads: 4,
      inter: 48,
      eps: 1e-5,
      labels: 2,
      padIdx: 1,
    },
    legacy: false,
  },
  {
    name: 'BertForMaskedLM (decoder tied to the word embeddings, unused pooler ignored)',
    naive: { kind: 'bert', task: 'masked-lm', vocab: 90, hidden: 32, layers: 1, heads: 2, inter: 48, eps: 1e-12, labels: 0, padIdx: 0 },
    legacy: false,
  },
  {
    name: 'RobertaForMaskedLM (exact GELU head, tied decoder)',
    naive: { kind: 'roberta', task: 'masked-lm', vocab: 90, hidden: 32, layers: 1, heads: 2, inter: 48, eps: 1e-5, labels: 0, padIdx: 1 },
    legacy: false,
  },
];

for (const c of BERT_CASES) {
  test(`config.json graph equals transformers' semantics — ${c.name}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ws-arch-'));
    try {
      const n = c.naive;
      const cls = n.kind === 'bert' ? 'Bert' : 'Roberta';
      const config: Record<string, unknown> = {
        model_type: n.kind,
        architectures: [`${cls}For${n.task === 'masked-lm' ? 'MaskedLM' : 'SequenceClassification'}`],
        vocab_size: n.vocab,
        hidden_size: n.hidden,
        num_hidden_layers: n.layers,
        num_attention_heads: n.heads,
        intermediate_size: n.inter,
        max_position_embeddings: 40,
        type_vocab_size: 2,
        layer_norm_eps: n.eps,
        pad_token_id: n.padIdx,
        hidden_act: 'gelu',
        ...(n.task === 'sequence-classification'
          ? { id2label: Object.fromEntries(Array.from({ length: n.labels }, (_, i) => [String(i), `c${i}`])) }
          : {}),
      };
      const tensors = randomWeights(bertShapes(n, c.legacy), 5, 0.2);
      await writeHfFolder(dir, config, tensors);
      const T = 9;
      const lens = [9, 6, 4];
      const u = mulberry32(9);
      const ids = lens.map((len) => Array.from({ length: T }, (_, j) => (j < len ? 2 + Math.floor(u() * (n.vocab - 2)) : n.padIdx)));
      const mask = lens.map((len) => Array.from({ length: T }, (_, j) => (j < len ? 1 : 0)));
      const types = lens.map((len) => Array.from({ length: T }, (_, j) => (j >= 2 && j < len ? 1 : 0)));
      const targets = [3, 0, 2];
      const rows = n.task === 'masked-lm' ? 4 : 3;
      const x = new BigInt64Array(lens.length * rows * T);
      lens.forEach((_, i) => {
        const base = i * rows * T;
        ids[i].forEach((v, j) => (x[base + j] = BigInt(v)));
        mask[i].forEach((v, j) => (x[base + T + j] = BigInt(v)));
        types[i].forEach((v, j) => (x[base + 2 * T + j] = BigInt(v)));
        if (rows === 4) x[base + 3 * T + targets[i]] = 1n;
      });
      const got = await graphLogits(dir, { type: 'int64', data: x, dims: [lens.length, rows, T] });
      const w = modernNames(asFloat32(tensors));
      const want = Float64Array.from(lens.flatMap((_, i) => [...naiveBert(n, w, ids[i], mask[i], types[i], targets[i])]));
      const err = relL2(got, want);
      assert.ok(err < 1e-5, `logits rel L2 ${err}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
