/** Turns weightscope's private ops (the op table's entries with a `lower`) into standard ONNX ops before serialisation. */
import { Builder } from './builder.js';
import type { Graph } from './ir.js';
import { INTERNAL_DOMAIN } from './op-names.js';
import { opDef } from './ops/index.js';

export function lowerInternalOps(g: Graph): void {
  if (!g.nodes.some((n) => n.domain === INTERNAL_DOMAIN)) return;
  const b = new Builder(g, 'ws_lower');
  const old = g.nodes;
  g.nodes = [];
  for (const n of old) {
    if (n.domain !== INTERNAL_DOMAIN) {
      g.nodes.push(n);
      continue;
    }
    const lower = opDef(n.opType, n.domain)?.lower;
    if (!lower) throw new Error(`no lowering for internal op ${n.opType}`);
    lower(b, n);
  }
}
