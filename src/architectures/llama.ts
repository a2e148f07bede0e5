/**
 * LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM (modeling_llama.py, modeling_mistral.py,
 * modeling_qwen2.py): token embeddings, pre-RMSNorm blocks (input_layernorm → q/k/v projections, rotate_half RoPE on
 * q and k, grouped-query attention with repeat_kv, causal (or sliding-window) mask, o_proj; post_attention_layernorm →
 * down(act(gate(x)) · up(x))), final norm, lm_head (tied to embed_tokens when tie_word_embeddings).
 * Attention scores are q·kᵀ·head_dim^−½, as transformers scales them.
 */
import type { Builder } from '../graph/builder.js';
import type { CheckpointBinder } from './checkpoint.js';
import type { LlamaConfig } from './config.js';
import {
  activate,
  applyRope,
  attention,
  causalMask,
  dimOf,
  linear,
  mergeHeads,
  repeatKv,
  rmsNorm,
  ropeTables,
  splitHeads,
} from './layers.js';
import { inverseFrequencies } from './rope.js';

export function buildLlama(b: Builder, ck: CheckpointBinder, c: LlamaConfig, ids: string): string {
  const { hidden: d, heads, kvHeads, headDim: hd, intermediate: inner } = c;
  const p = (name: string, shape: number[]): string => ck.param(`model.${name}`, shape);
  const embed = p('embed_tokens.weight', [c.vocab, d]);
  let h = b.op('Gather', [embed, ids]);
  const t = dimOf(b, ids, 1);
  const { cos, sin } = ropeTables(b, t, inverseFrequencies(hd, c.ropeTheta, c.rope));
  const masks = new Map<number | null, string>();
  const maskFor = (w: number | null): string => {
    let m = masks.get(w);
    if (!m) masks.set(w, (m = causalMask(b, t, w)));
    return m;
  };
  for (let i = 0; i < c.layers; i++) {
    const l = (name: string, shape: number[]): string => p(`layers.${i}.${name}`, shape);
    const opt = (on: boolean, name: string, shape: number[]): string | null => (on ? l(name, shape) : null);
    const x = rmsNorm(b, h, l('input_layernorm.weight', [d]), c.eps);
    const proj = (name: string, n: number): string =>
      linear(b, x, l(`self_attn.${name}.weight`, [n * hd, d]), opt(c.qkvBias, `self_attn.${name}.bias`, [n * hd]));
    const q = applyRope(b, splitHeads(b, proj('q_proj', heads), heads, hd), cos, sin, hd);
    const k = applyRope(b, splitHeads(b, proj('k_proj', kvHeads), kvHeads, hd), cos, sin, hd);
    const v = splitHeads(b, proj('v_proj', kvHeads), kvHeads, hd);
    const rep = heads / kvHeads;
    const a = attention(b, q, repeatKv(b, k, rep, kvHeads, hd), repeatKv(b, v, rep, kvHeads, hd), maskFor(c.windows[i]), hd ** -0.5, false);
    h = b.add(
      h,
      linear(b, mergeHeads(b, a, heads, hd), l('self_attn.o_proj.weight', [d, heads * hd]), opt(c.oBias, 'self_attn.o_proj.bias', [d])),
    );
    const y = rmsNorm(b, h, l('post_attention_layernorm.weight', [d]), c.eps);
    const gate = activate(b, linear(b, y, l('mlp.gate_proj.weight', [inner, d]), opt(c.mlpBias, 'mlp.gate_proj.bias', [inner])), c.act);
    const up = linear(b, y, l('mlp.up_proj.weight', [inner, d]), opt(c.mlpBias, 'mlp.up_proj.bias', [inner]));
    h = b.add(h, linear(b, b.mul(gate, up), l('mlp.down_proj.weight', [d, inner]), opt(c.mlpBias, 'mlp.down_proj.bias', [d])));
  }
  h = rmsNorm(b, h, p('norm.weight', [d]), c.eps);
  let head: string;
  if (c.tied) {
    head = embed;
    ck.tie('lm_head.weight', embed);
  } else {
    head = ck.param('lm_head.weight', [c.vocab, d]);
  }
  return linear(b, h, head, null);
}
