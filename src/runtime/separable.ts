/**
 * Whether a model treats the samples of a batch independently, so that a batch may be cut into shards whose
 * gradients, size-weighted, equal the whole batch's (engine.ts runs shards on parallel lanes). Conservative: any op
 * that can mix samples — training-mode BatchNormalization (batch statistics, as connectivity's curve training uses),
 * a reduction, softmax or cumulative sum over axis 0 or over unknown axes, a Transpose or Flatten that moves the
 * batch axis, a Gemm contracting its rows (transA), control flow — makes the answer no. Not caught: negative axes
 * that happen to be axis 0, and a Reshape that folds the batch into another axis before such a mix.
 */
import type { ModelProto } from '../io/onnx-model.js';
import { attr, attrInt, attrInts, graphFromModel, tensorValues, type GNode, type OnnxTensor } from '../graph/ir.js';

const REDUCE = new Set([
  'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum',
  'ReduceLogSumExp', 'ReduceSumSquare', 'ArgMax', 'ArgMin',
]);

/** Known values of the graph's constant tensors (initializers and Constant nodes), e.g. reduction axes given as inputs. */
function constantValue(name: string, inits: ReadonlyMap<string, OnnxTensor>, consts: Map<string, GNode>): number[] | null {
  const t = inits.get(name) ?? consts.get(name)?.attrs.find((a) => a.name === 'value')?.t ?? undefined;
  const v = t ? tensorValues(t) : null;
  return v ? [...v] : null;
}

/** The first node that may mix samples across axis 0 (a short description), or null if there is none. */
export function batchCoupling(model: ModelProto): string | null {
  const g = graphFromModel(model);
  const consts = new Map<string, GNode>();
  for (const n of g.nodes) if (n.opType === 'Constant' && n.domain === '') consts.set(n.outputs[0], n);
  for (const n of g.nodes) {
    const op = n.domain ? `${n.domain}:${n.opType}` : n.opType;
    const why = `${op} node '${n.name}'`;
    if (op === 'BatchNormalization') {
      if (attrInt(n, 'training_mode', 0) === 1 || n.outputs.slice(1).some(Boolean)) return `${why} uses batch statistics`;
    } else if (REDUCE.has(op)) {
      const axes = attrInts(n, 'axes') ?? (attr(n, 'axis') ? [attrInt(n, 'axis', 0)] : null)
        ?? (n.inputs[1] ? constantValue(n.inputs[1], g.initializers, consts) : null);
      if (!axes || axes.length === 0) return `${why} reduces over all (or unknown) axes`;
      if (axes.includes(0)) return `${why} reduces over axis 0`;
    } else if (op === 'Softmax' || op === 'LogSoftmax' || op === 'Hardmax' || op === 'Flatten') {
      if (attr(n, 'axis') && attrInt(n, 'axis', 0) === 0) return `${why} works along axis 0`;
    } else if (op === 'Transpose') {
      const perm = attrInts(n, 'perm');
      if (!perm || perm[0] !== 0) return `${why} moves the batch axis`;
    } else if (op === 'Gemm') {
      if (attrInt(n, 'transA', 0) === 1) return `${why} contracts over its rows (transA)`;
    } else if (op === 'CumSum' || op === 'If' || op === 'Loop' || op === 'Scan' || op.includes(':')) {
      return `${why} may mix samples`;
    }
  }
  return null;
}
