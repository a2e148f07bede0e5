/**
 * Tiny Llama-shaped Hugging Face folders for the LLM-scale tests: the same weights stored as one F32 file, as
 * BF16 or F16 shards with a model.safetensors.index.json, or as FP8 with scales. Values are rounded to the narrow
 * dtype first, so every variant holds exactly the same numbers.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { float64ToBF16Bits, float64ToF16Bits, toFloat64 } from '../../src/io/dtype.js';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer.js';
import type { DType } from '../../src/io/types.js';
import { gaussian } from '../linalg/linalg-fixtures.js';

export interface TinyLlama {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
}

export const TINY: TinyLlama = { vocab: 300, hidden: 48, intermediate: 120, layers: 2 };

/** HF Llama tensor names and shapes ([out, in]). */
export function llamaTensors(c: TinyLlama): { name: string; shape: number[] }[] {
  const h = c.hidden;
  const out = [
    { name: 'model.embed_tokens.weight', shape: [c.vocab, h] },
    { name: 'model.norm.weight', shape: [h] },
    { name: 'lm_head.weight', shape: [c.vocab, h] },
  ];
  for (let i = 0; i < c.layers; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [h] },
      { name: `${p}post_attention_layernorm.weight`, shape: [h] },
      { name: `${p}self_attn.q_proj.weight`, shape: [h, h] },
      { name: `${p}self_attn.k_proj.weight`, shape: [h / 4, h] },
      { name: `${p}self_attn.v_proj.weight`, shape: [h / 4, h] },
      { name: `${p}self_attn.o_proj.weight`, shape: [h, h] },
      { name: `${p}mlp.gate_proj.weight`, shape: [c.intermediate, h] },
      { name: `${p}mlp.up_proj.weight`, shape: [c.intermediate, h] },
      { name: `${p}mlp.down_proj.weight`, shape: [h, c.intermediate] },
    );
  }
  return out;
}

function roundTo(dtype: 'BF16' | 'F16', v: Float64Array): Float64Array {
  const bits = Uint16Array.from(v, (x) => (dtype === 'BF16' ? float64ToBF16Bits(x) : float64ToF16Bits(x)));
  return toFloat64(dtype, new Uint8Array(bits.buffer));
}

/** Weights N(0, 0.02²) (norms 1), rounded to `dtype`'s values. */
export function llamaWeights(c: TinyLlama, dtype: 'BF16' | 'F16', seed = 1): Map<string, { shape: number[]; values: Float64Array }> {
  const m = new Map<string, { shape: number[]; values: Float64Array }>();
  llamaTensors(c).forEach((t, i) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const v = t.shape.length === 1 ? new Float64Array(n).fill(1) : gaussian(n, seed * 1000 + i).map((x) => 0.02 * x);
    m.set(t.name, { shape: t.shape, values: roundTo(dtype, v) });
  });
  return m;
}

export const LLAMA_CONFIG = { model_type: 'llama', architectures: ['LlamaForCausalLM'] };

/** One file: model.safetensors with every tensor in `dtype` (default F32), plus config.json. */
export async function writeSingleFile(
  dir: string,
  w: Map<string, { shape: number[]; values: Float64Array }>,
  dtype: DType = 'F32',
  config: object | null = LLAMA_CONFIG,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    [...w].map(([name, t]) => ({ name, dtype, shape: t.shape, data: t.values })),
  );
  if (config) await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** `shards` shards of `dtype` with model.safetensors.index.json, tensors split round-robin, plus config.json. */
export async function writeSharded(
  dir: string,
  w: Map<string, { shape: number[]; values: Float64Array }>,
  dtype: DType,
  shards: number,
  config: object | null = LLAMA_CONFIG,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const files: TensorToWrite[][] = Array.from({ length: shards }, () => []);
  const weightMap: Record<string, string> = {};
  [...w].forEach(([name, t], i) => {
    files[i % shards].push({ name, dtype, shape: t.shape, data: t.values });
    weightMap[name] = `model-${String((i % shards) + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
  });
  for (let s = 0; s < shards; s++) {
    await writeSafetensors(
      join(dir, `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`),
      files[s],
    );
  }
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  if (config) await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}
