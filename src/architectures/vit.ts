/**
 * ViTForImageClassification (modeling_vit.py): patch embedding by a Conv with kernel = stride = patch_size, the cls
 * token in front, learned position embeddings; pre-LN layers (layernorm_before → self-attention → output dense +
 * residual; layernorm_after → intermediate dense → activation → output dense + residual); final layernorm; the
 * classifier on token 0. No pooler (the classification model builds ViT without one).
 */
import type { Builder } from '../graph/builder.js';
import type { CheckpointBinder } from './checkpoint.js';
import type { VitConfig } from './config.js';
import { activate, attention, layerNorm, linear, mergeHeads, splitHeads } from './layers.js';

export function buildVit(b: Builder, ck: CheckpointBinder, c: VitConfig, pixels: string): string {
  const { hidden: d, heads, intermediate: inner, patchSize: ps } = c;
  const hd = d / heads;
  const grid = Math.floor(c.imageSize / ps);
  const tokens = grid * grid + 1;
  const p = (name: string, shape: number[]): string => ck.param(`vit.${name}`, shape);
  const conv = b.op(
    'Conv',
    [
      pixels,
      p('embeddings.patch_embeddings.projection.weight', [d, c.channels, ps, ps]),
      p('embeddings.patch_embeddings.projection.bias', [d]),
    ],
    { kernel_shape: [ps, ps], strides: [ps, ps] },
  );
  const patches = b.transpose(b.reshape(conv, b.i64([0, d, grid * grid])), [0, 2, 1]); // [B, N, D]
  const cls = b.expand(p('embeddings.cls_token', [1, 1, d]), b.concat([b.slice1(b.shape(pixels), 0, 1), b.i64([1, d])], 0));
  let h = b.add(b.concat([cls, patches], 1), p('embeddings.position_embeddings', [1, tokens, d]));
  for (let i = 0; i < c.layers; i++) {
    const l = (name: string, shape: number[]): string => p(`encoder.layer.${i}.${name}`, shape);
    const x = layerNorm(b, h, l('layernorm_before.weight', [d]), l('layernorm_before.bias', [d]), c.eps);
    const proj = (name: string): string =>
      splitHeads(
        b,
        linear(b, x, l(`attention.attention.${name}.weight`, [d, d]), c.qkvBias ? l(`attention.attention.${name}.bias`, [d]) : null),
        heads,
        hd,
      );
    const a = attention(b, proj('query'), proj('key'), proj('value'), null, 1 / Math.sqrt(hd), true);
    h = b.add(linear(b, mergeHeads(b, a, heads, hd), l('attention.output.dense.weight', [d, d]), l('attention.output.dense.bias', [d])), h);
    const y = layerNorm(b, h, l('layernorm_after.weight', [d]), l('layernorm_after.bias', [d]), c.eps);
    const m = activate(b, linear(b, y, l('intermediate.dense.weight', [inner, d]), l('intermediate.dense.bias', [inner])), c.act);
    h = b.add(linear(b, m, l('output.dense.weight', [d, inner]), l('output.dense.bias', [d])), h);
  }
  h = layerNorm(b, h, p('layernorm.weight', [d]), p('layernorm.bias', [d]), c.eps);
  const n = c.labels.length;
  return linear(
    b,
    b.op('Gather', [h, b.i64Scalar(0)], { axis: 1 }),
    ck.param('classifier.weight', [n, d]),
    ck.param('classifier.bias', [n]),
  );
}
