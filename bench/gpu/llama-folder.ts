/**
 * A Llama-shaped Hugging Face folder with random BF16 weights (config.json + model.safetensors), for timing
 * `weightscope analyze` on the GPU check (issue 19): TinyLlama-1.1B's shape (1,100,048,384 parameters, 2.2 GB) and
 * Llama-2-7B's (6,738,415,616, 13.5 GB). Written tensor by tensor in 1 Mi-value chunks: memory stays a few MB.
 *
 * Entries are i.i.d. with standard deviation 0.02 (an Irwin–Hall sum of the four bytes of one xoshiro128** draw:
 * near-normal and ~3× faster than Box–Muller, which matters at 6.7e9 values); norm weights are 1. The spectra are Marchenko–
 * Pastur-like, which is all a timing and a GPU-vs-CPU equality check need.
 *
 *   node bench/gpu/llama-folder.js --out DIR [--shape tinyllama-1.1b|llama2-7b] [--layers N] [--seed 1]
 * (--layers N keeps only the first N decoder layers: a small folder of the same shapes for tests)
 */
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../../src/util/random.js';
import { streamSafetensors } from '../checkpoint-writer.js';

export interface LlamaShape {
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  readonly positions: number;
}

export const SHAPES: Readonly<Record<string, LlamaShape>> = {
  'tinyllama-1.1b': { hidden: 2048, intermediate: 5632, layers: 22, heads: 32, kvHeads: 4, vocab: 32000, positions: 2048 },
  'llama2-7b': { hidden: 4096, intermediate: 11008, layers: 32, heads: 32, kvHeads: 32, vocab: 32000, positions: 4096 },
};

/** HF LlamaForCausalLM tensor names and shapes ([out, in]; untied lm_head). */
export function llamaTensors(s: LlamaShape): { name: string; shape: number[] }[] {
  const d = s.hidden,
    kv = (d / s.heads) * s.kvHeads,
    f = s.intermediate;
  const out = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, d] }];
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [d] },
      { name: `${p}self_attn.q_proj.weight`, shape: [d, d] },
      { name: `${p}self_attn.k_proj.weight`, shape: [kv, d] },
      { name: `${p}self_attn.v_proj.weight`, shape: [kv, d] },
      { name: `${p}self_attn.o_proj.weight`, shape: [d, d] },
      { name: `${p}post_attention_layernorm.weight`, shape: [d] },
      { name: `${p}mlp.gate_proj.weight`, shape: [f, d] },
      { name: `${p}mlp.up_proj.weight`, shape: [f, d] },
      { name: `${p}mlp.down_proj.weight`, shape: [d, f] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [d] }, { name: 'lm_head.weight', shape: [s.vocab, d] });
  return out;
}

/** Float work of an HT-SR analysis: per 2-D weight, the Gram product N·M² plus the eigensolver's ≈ (4/3)·M³. */
export function analysisFlops(s: LlamaShape): number {
  let f = 0;
  for (const t of llamaTensors(s)) {
    if (t.shape.length !== 2) continue;
    const N = Math.max(...t.shape),
      M = Math.min(...t.shape);
    f += 2 * N * M * M + (4 / 3) * M ** 3;
  }
  return f;
}

/** HF config.json of a LlamaForCausalLM of this shape. */
export function llamaConfig(s: LlamaShape): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    vocab_size: s.vocab,
    max_position_embeddings: s.positions,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
  };
}

/** Fills `out` with BF16 bits of i.i.d. near-normal values of standard deviation `sd` (seeded xoshiro128**). */
function bf16Filler(seed: number): (out: Uint16Array, sd: number) => void {
  const rng = new Rng(seed);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  // Σ of the 4 bytes of one uniform 32-bit draw: mean 510, variance 4·(256² − 1)/12.
  const scale = 1 / Math.sqrt((4 * (256 * 256 - 1)) / 12);
  return (out, sd) => {
    const k = sd * scale;
    for (let i = 0; i < out.length; i++) {
      const r = rng.nextUint32();
      f32[0] = ((r & 255) + ((r >>> 8) & 255) + ((r >>> 16) & 255) + (r >>> 24) - 510) * k;
      const u = u32[0];
      out[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // round to nearest even
    }
  };
}

/** Writes DIR/config.json and DIR/model.safetensors; returns the parameter count. */
export async function writeLlamaFolder(dir: string, shape: LlamaShape, seed = 1): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const fill = bf16Filler(seed);
  const params = await streamSafetensors(
    join(dir, 'model.safetensors'),
    llamaTensors(shape),
    'BF16',
    (t, c) => {
      if (t.shape.length === 1)
        c.fill(0x3f80); // 1.0
      else fill(c, 0.02);
    },
    'weightscope bench/gpu/llama-folder.ts',
  );
  await writeFile(join(dir, 'config.json'), JSON.stringify(llamaConfig(shape), null, 1) + '\n');
  return params;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      shape: { type: 'string', default: 'tinyllama-1.1b' },
      layers: { type: 'string' },
      seed: { type: 'string', default: '1' },
    },
  });
  const base = SHAPES[values.shape!];
  if (!values.out || !base) throw new Error(`usage: --out DIR [--shape ${Object.keys(SHAPES).join('|')}] [--layers N]`);
  const shape = values.layers ? { ...base, layers: Number(values.layers) } : base;
  const t0 = performance.now();
  const params = await writeLlamaFolder(values.out, shape, Number(values.seed));
  console.log(
    JSON.stringify({ dir: values.out, shape: values.shape, layers: shape.layers, params, seconds: (performance.now() - t0) / 1000 }),
  );
}
