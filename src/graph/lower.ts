/** Turns weightscope's private ops (rules/conv.ts PATCH_CONV) into standard ONNX ops before a graph is serialised. */
import { Builder } from './builder.js';
import type { Graph } from './ir.js';
import { lowerPatchConv, PATCH_CONV } from './rules/conv.js';

export function lowerInternalOps(g: Graph): void {
  if (!g.nodes.some((n) => n.domain === PATCH_CONV.domain)) return;
  const b = new Builder(g, 'ws_lower');
  const old = g.nodes;
  g.nodes = [];
  for (const n of old) {
    if (n.domain === PATCH_CONV.domain && n.opType === PATCH_CONV.op) lowerPatchConv(b, n);
    else g.nodes.push(n);
  }
}
