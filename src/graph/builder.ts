/**
 * Graph builder: appends nodes to a Graph and infers their outputs' dtype/shape as it goes (from the op table, via
 * infer.ts). Used to build loss graphs and by every gradient rule, so everything a rule emits is an ordinary node the
 * autodiff can differentiate. The helpers (add, matmul, reshape, …) live in emitter.ts.
 */
import { Emitter } from './emitter.js';
import { inferNode } from './infer.js';
import type { Graph } from './ir.js';

export class Builder extends Emitter {
  constructor(g: Graph, prefix = 'ws') {
    super(g, prefix, inferNode);
  }
}
