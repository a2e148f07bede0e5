/**
 * GPT2LMHeadModel (modeling_gpt2.py): token + learned position embeddings, pre-LN blocks (ln_1 → causal attention
 * with fused c_attn → c_proj; ln_2 → c_fc → activation → c_proj), ln_f, lm_head. Conv1D weights are [in, out];
 * the head is tied to wte unless tie_word_embeddings is false.
 */
import type { Builder } from '../graph/builder.js';
import type { CheckpointBinder } from './checkpoint.js';
import type { Gpt2Config } from './config.js';
import { activate, arange, attention, causalMask, dimOf, layerNorm, linear, mergeHeads, splitHeads } from './layers.js';

export function buildGpt2(b: Builder, ck: CheckpointBinder, c: Gpt2Config, ids: string): string {
  const { hidden: d, heads, inner } = c;
  const hd = d / heads;
  const p = (name: string, shape: number[]): string => ck.param(`transformer.${name}`, shape);
  const wte = p('wte.weight', [c.vocab, d]);
  const wpe = p('wpe.weight', [c.positions, d]);
  const t = dimOf(b, ids, 1);
  let h = b.add(b.op('Gather', [wte, ids]), b.op('Gather', [wpe, arange(b, t)]));
  const mask = causalMask(b, t, null);
  for (let i = 0; i < c.layers; i++) {
    const l = (name: string, shape: number[]): string => p(`h.${i}.${name}`, shape);
    const x = layerNorm(b, h, l('ln_1.weight', [d]), l('ln_1.bias', [d]), c.eps);
    const qkv = linear(b, x, l('attn.c_attn.weight', [d, 3 * d]), l('attn.c_attn.bias', [3 * d]), 'in-out');
    const [q, k, v] = b.opN('Split', [qkv, b.i64([d, d, d])], 3, { axis: -1 }).map((s) => splitHeads(b, s, heads, hd));
    let a: string;
    if (c.scaleByLayer) {
      // attn_weights / √d_head, then / (layer_idx + 1): two divisions, as transformers writes them.
      const scores = b.div(b.matmul(q, b.transpose(k, [0, 1, 3, 2])), b.scalar(c.scaleAttn ? Math.sqrt(hd) : 1, 1));
      a = b.matmul(b.op('Softmax', [b.add(b.div(scores, b.scalar(i + 1, 1)), mask)], { axis: -1 }), v);
    } else {
      a = attention(b, q, k, v, mask, c.scaleAttn ? 1 / Math.sqrt(hd) : 1, true);
    }
    h = b.add(h, linear(b, mergeHeads(b, a, heads, hd), l('attn.c_proj.weight', [d, d]), l('attn.c_proj.bias', [d]), 'in-out'));
    const y = layerNorm(b, h, l('ln_2.weight', [d]), l('ln_2.bias', [d]), c.eps);
    const m = activate(b, linear(b, y, l('mlp.c_fc.weight', [d, inner]), l('mlp.c_fc.bias', [inner]), 'in-out'), c.act);
    h = b.add(h, linear(b, m, l('mlp.c_proj.weight', [inner, d]), l('mlp.c_proj.bias', [d]), 'in-out'));
  }
  h = layerNorm(b, h, p('ln_f.weight', [d]), p('ln_f.bias', [d]), c.eps);
  // GPT2Config leaves tie_word_embeddings at PretrainedConfig's default (true); the file's lm_head copy is ignored.
  const tied = c.tied;
  let head: string;
  if (tied) {
    head = wte;
    ck.tie('lm_head.weight', wte);
  } else {
    head = ck.param('lm_head.weight', [c.vocab, d]);
  }
  return linear(b, h, head, null);
}
