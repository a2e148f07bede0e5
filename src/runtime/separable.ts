/**
 * Whether a model treats the samples of a batch independently, so that a batch may be cut into shards whose
 * gradients, size-weighted, equal the whole batch's (engine.ts runs shards on parallel lanes). The answer comes from
 * the batch-axis dataflow of graph/batch-axis.ts on the model's graph with inferred shapes: training-mode
 * BatchNormalization (as connectivity's curve training uses), a reduction, softmax or cumulative sum along the
 * batch axis — also after Transposes and Reshapes move it —, a contraction over it, control flow or an op without a
 * rule each give a reason, and the engine then runs the batch whole.
 */
import type { ModelProto } from '../io/onnx-model.js';
import { batchAxisReason } from '../graph/batch-axis.js';
import { Builder } from '../graph/builder.js';
import { graphFromModel } from '../graph/ir.js';
import type { LossGraph } from '../graph/losses.js';
import { WeightscopeError } from '../errors.js';

/** The first node that may mix samples (a short description naming it), or null if there is none. */
export function batchCoupling(model: ModelProto): string | null {
  const g = graphFromModel(model);
  const nodes = g.nodes;
  g.nodes = [];
  const b = new Builder(g, 'ws_batch');
  try {
    for (const n of nodes) b.addNode(n); // infers every value's shape
  } catch (e) {
    if (e instanceof WeightscopeError) return `cannot analyse the batch axis: ${e.message}`;
    throw e;
  }
  return batchAxisReason(g);
}

/**
 * The same question for a model already turned into a loss graph (parsed, decomposed and shape-inferred once, by
 * src/graph): the samples enter at the model's data inputs and must come out per sample at the logits, which is all
 * the gradient and Hv graphs read (the loss itself averages over the batch, by design).
 */
export function lossGraphCoupling(lg: LossGraph): string | null {
  return batchAxisReason(lg.graph, { inputs: lg.dataInputs.filter((n) => n !== lg.labels), outputs: [lg.logits] });
}
