/**
 * Rewrite composite ops into primitive ones that have gradient rules (the op table's `decomposed` entries: Gelu,
 * LayerNormalization, BatchNormalization, Dropout), and infer every value's dtype/shape on the way. The rewritten
 * graph computes the same function; gradients then come from the primitives' rules.
 */
import { WeightscopeError } from '../errors.js';
import { Builder } from './builder.js';
import type { Graph } from './ir.js';
import { opKey } from './op-names.js';
import { opDef } from './ops/index.js';

/** g's node list with composite ops decomposed and every value's info inferred (in place). */
export function decomposeAndInfer(g: Graph): void {
  const old = g.nodes;
  g.nodes = [];
  const b = new Builder(g, 'ws_fwd');
  for (const node of old) {
    const grad = opDef(node.opType, node.domain)?.grad;
    if (grad?.kind !== 'decompose') {
      b.addNode(node);
      continue;
    }
    try {
      grad.decompose(b, node);
    } catch (e) {
      if (e instanceof WeightscopeError) throw e;
      throw new WeightscopeError(
        'unsupported-op',
        `cannot decompose ${opKey(node.opType, node.domain)} node '${node.name}': ${(e as Error).message}`,
      );
    }
  }
}
