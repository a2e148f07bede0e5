/**
 * Best-effort dtype/shape inference for one node, by the op table's rule for it (ops/). ONNX Runtime's Node binding
 * exposes no shape inference, and the gradient rules need ranks (for transposes, axes) and a few static sizes (conv).
 * Small integer tensors (shapes, axes) also carry their values when they are computable.
 */
import type { GNode, ValueInfo } from './ir.js';
import { opDef } from './ops/index.js';
import { UNKNOWN } from './ops/shapes.js';

/** Output infos of a node. Unknown ops give unknown infos (fine off the differentiable path). */
export function inferNode(node: GNode, get: (name: string) => ValueInfo, opset: number): ValueInfo[] {
  const def = opDef(node.opType, node.domain);
  if (!def) return node.outputs.map(() => UNKNOWN);
  const ins = node.inputs.map((n) => (n ? get(n) : UNKNOWN));
  return def.infer({ node, ins, x: ins[0] ?? UNKNOWN, opset });
}
