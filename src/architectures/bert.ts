/**
 * BERT and RoBERTa encoders with their sequence-classification and masked-LM heads (modeling_bert.py,
 * modeling_roberta.py): word + token-type + absolute position embeddings → LayerNorm; post-LN layers (self-attention
 * with the additive (1 − mask)·finfo.min padding mask → output dense + residual → LayerNorm; intermediate dense →
 * activation → output dense + residual → LayerNorm). BERT's classifier reads the tanh pooler of token 0; RoBERTa's
 * classification head is dense → tanh → out_proj on token 0. RoBERTa's positions count from padding_idx + 1 over
 * non-padding tokens. The masked-LM heads run at the one position the input marks (inputs.ts): dense → activation
 * (RoBERTa: exact GELU) → LayerNorm → decoder tied to the word embeddings, + bias.
 */
import type { Builder } from '../graph/builder.js';
import { DT } from '../graph/ir.js';
import type { CheckpointBinder } from './checkpoint.js';
import type { BertConfig } from './config.js';
import type { EncoderRow } from './inputs.js';
import { activate, arange, attention, dimOf, layerNorm, linear, mergeHeads, paddingMask, splitHeads } from './layers.js';

export function buildBert(b: Builder, ck: CheckpointBinder, c: BertConfig, packed: string, rows: readonly EncoderRow[]): string {
  const { hidden: d, heads, intermediate: inner } = c;
  const hd = d / heads;
  const pre = c.modelType;
  const p = (name: string, shape: number[]): string => ck.param(`${pre}.${name}`, shape);
  const row = (name: EncoderRow): string => b.op('Gather', [packed, b.i64Scalar(rows.indexOf(name))], { axis: 1 });
  const ids = row('input_ids');
  const mask = row('attention_mask');
  const types = row('token_type_ids');
  const word = p('embeddings.word_embeddings.weight', [c.vocab, d]);
  let e = b.add(b.op('Gather', [word, ids]), b.op('Gather', [p('embeddings.token_type_embeddings.weight', [c.typeVocab, d]), types]));
  let positions: string;
  if (c.paddingIdx !== null) {
    // create_position_ids_from_input_ids: cumsum(ids ≠ pad)·(ids ≠ pad) + padding_idx.
    const notPad = b.cast(b.op('Not', [b.op('Equal', [ids, b.i64Scalar(c.paddingIdx)])]), DT.INT64);
    positions = b.add(b.mul(b.op('CumSum', [notPad, b.i64Scalar(1)]), notPad), b.i64Scalar(c.paddingIdx));
  } else {
    positions = arange(b, dimOf(b, ids, 1));
  }
  e = b.add(e, b.op('Gather', [p('embeddings.position_embeddings.weight', [c.positions, d]), positions]));
  let h = layerNorm(b, e, p('embeddings.LayerNorm.weight', [d]), p('embeddings.LayerNorm.bias', [d]), c.eps);
  const ext = paddingMask(b, mask);
  for (let i = 0; i < c.layers; i++) {
    const l = (name: string, shape: number[]): string => p(`encoder.layer.${i}.${name}`, shape);
    const proj = (name: string): string =>
      splitHeads(b, linear(b, h, l(`attention.self.${name}.weight`, [d, d]), l(`attention.self.${name}.bias`, [d])), heads, hd);
    const a = attention(b, proj('query'), proj('key'), proj('value'), ext, 1 / Math.sqrt(hd), true);
    const ao = linear(b, mergeHeads(b, a, heads, hd), l('attention.output.dense.weight', [d, d]), l('attention.output.dense.bias', [d]));
    h = layerNorm(b, b.add(ao, h), l('attention.output.LayerNorm.weight', [d]), l('attention.output.LayerNorm.bias', [d]), c.eps);
    const m = activate(b, linear(b, h, l('intermediate.dense.weight', [inner, d]), l('intermediate.dense.bias', [inner])), c.act);
    const o = linear(b, m, l('output.dense.weight', [d, inner]), l('output.dense.bias', [d]));
    h = layerNorm(b, b.add(o, h), l('output.LayerNorm.weight', [d]), l('output.LayerNorm.bias', [d]), c.eps);
  }
  if (c.task === 'masked-lm') return maskedLmHead(b, ck, c, h, row('target_position'), word);
  const first = b.op('Gather', [h, b.i64Scalar(0)], { axis: 1 });
  const n = c.labels.length;
  if (pre === 'bert') {
    const pooled = b.op('Tanh', [linear(b, first, p('pooler.dense.weight', [d, d]), p('pooler.dense.bias', [d]))]);
    return linear(b, pooled, ck.param('classifier.weight', [n, d]), ck.param('classifier.bias', [n]));
  }
  const x = b.op('Tanh', [linear(b, first, ck.param('classifier.dense.weight', [d, d]), ck.param('classifier.dense.bias', [d]))]);
  return linear(b, x, ck.param('classifier.out_proj.weight', [n, d]), ck.param('classifier.out_proj.bias', [n]));
}

/** The MLM head at the marked position: logits [B, vocab] of the one predicted token per sample. */
function maskedLmHead(b: Builder, ck: CheckpointBinder, c: BertConfig, h: string, target: string, word: string): string {
  const d = c.hidden;
  const sel = b.unsqueeze(b.cast(target, DT.FLOAT), [2]);
  const x = b.reduceSum(b.mul(h, sel), [1], false);
  const bert = c.modelType === 'bert';
  const q = (name: string): string => (bert ? `cls.predictions.${name}` : `lm_head.${name}`);
  const dense = linear(
    b,
    x,
    ck.param(q(bert ? 'transform.dense.weight' : 'dense.weight'), [d, d]),
    ck.param(q(bert ? 'transform.dense.bias' : 'dense.bias'), [d]),
  );
  const act = activate(b, dense, bert ? c.act : 'gelu');
  const norm = bert ? 'transform.LayerNorm' : 'layer_norm';
  const t = layerNorm(b, act, ck.param(q(`${norm}.weight`), [d]), ck.param(q(`${norm}.bias`), [d]), c.eps);
  let decoder: string;
  if (c.tied) {
    decoder = word;
    ck.tie(q('decoder.weight'), word);
  } else {
    decoder = ck.param(q('decoder.weight'), [c.vocab, d]);
  }
  // decoder.bias is the head's `bias` parameter (one tensor, tied in transformers).
  const bias = ck.param(q('bias'), [c.vocab]);
  ck.tie(q('decoder.bias'), bias);
  return linear(b, t, decoder, bias);
}
