/** Turns weightscope's private ops (rules/conv.ts) into standard ONNX ops before a graph is serialised. */
import { Builder } from './builder.js';
import { INTERNAL_DOMAIN, type GNode, type Graph } from './ir.js';
import { CONV_WEIGHT_GRAD, lowerConvWeightGrad, lowerPatchConv, PATCH_CONV } from './rules/conv.js';

const LOWERINGS: Record<string, (b: Builder, n: GNode) => void> = {
  [PATCH_CONV.op]: lowerPatchConv,
  [CONV_WEIGHT_GRAD.op]: lowerConvWeightGrad,
};

export function lowerInternalOps(g: Graph): void {
  if (!g.nodes.some((n) => n.domain === INTERNAL_DOMAIN)) return;
  const b = new Builder(g, 'ws_lower');
  const old = g.nodes;
  g.nodes = [];
  for (const n of old) {
    const lower = n.domain === INTERNAL_DOMAIN ? LOWERINGS[n.opType] : undefined;
    if (lower) lower(b, n);
    else if (n.domain === INTERNAL_DOMAIN) throw new Error(`no lowering for internal op ${n.opType}`);
    else g.nodes.push(n);
  }
}
