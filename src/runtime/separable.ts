/**
 * Whether a model treats the samples of a batch independently, so that a batch may be cut into shards whose
 * gradients, size-weighted, equal the whole batch's (engine.ts runs shards on parallel lanes). Conservative: any op
 * that can mix samples — training-mode BatchNormalization (batch statistics, as connectivity's curve training uses),
 * a reduction, softmax or cumulative sum over axis 0 or over unknown axes, a Transpose or Flatten that moves the
 * batch axis, a Gemm contracting its rows (transA), control flow — makes the answer no. Not caught: negative axes
 * that happen to be axis 0, and a Reshape that folds the batch into another axis before such a mix.
 */
import type { ModelProto } from '../io/onnx-model.js';

type NodeProto = NonNullable<NonNullable<ModelProto['graph']>['node']>[number];

const REDUCE = new Set([
  'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum',
  'ReduceLogSumExp', 'ReduceSumSquare', 'ArgMax', 'ArgMin',
]);

function attrInts(n: NodeProto, name: string): number[] | null {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  if (!a) return null;
  if (a.ints && a.ints.length) return a.ints.map(Number);
  return a.i !== undefined && a.i !== null ? [Number(a.i)] : null;
}

/** Values of small int64 initializers and Constant nodes (reduction axes given as inputs). */
function constInts(model: ModelProto): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const t of model.graph?.initializer ?? []) if (t.name && t.int64Data?.length) out.set(t.name, t.int64Data.map(Number));
  for (const t of model.graph?.initializer ?? []) {
    if (t.name && t.dataType === 7 && t.rawData?.length) {
      const raw = t.rawData;
      const v = new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      out.set(t.name, [...v].map(Number));
    }
  }
  for (const n of model.graph?.node ?? []) {
    if (n.opType !== 'Constant') continue;
    const t = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
    if (!t || t.dataType !== 7) continue;
    const raw = t.rawData;
    const v = t.int64Data?.length
      ? t.int64Data.map(Number)
      : raw?.length ? [...new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))].map(Number) : [];
    out.set(n.output?.[0] ?? '', v);
  }
  return out;
}

/** The first node that may mix samples across axis 0 (a short description), or null if there is none. */
export function batchCoupling(model: ModelProto): string | null {
  const consts = constInts(model);
  for (const n of model.graph?.node ?? []) {
    const op = n.domain ? `${n.domain}:${n.opType}` : n.opType ?? '';
    const why = `${op} node '${n.name ?? ''}'`;
    if (op === 'BatchNormalization') {
      const training = attrInts(n, 'training_mode')?.[0] === 1 || (n.output ?? []).slice(1).some(Boolean);
      if (training) return `${why} uses batch statistics`;
    } else if (REDUCE.has(op)) {
      const axes = attrInts(n, 'axes') ?? attrInts(n, 'axis') ?? (n.input?.[1] ? consts.get(n.input[1]) ?? null : null);
      if (!axes || axes.length === 0) return `${why} reduces over all (or unknown) axes`;
      if (axes.includes(0)) return `${why} reduces over axis 0`;
    } else if (op === 'Softmax' || op === 'LogSoftmax' || op === 'Hardmax' || op === 'Flatten') {
      if (attrInts(n, 'axis')?.[0] === 0) return `${why} works along axis 0`;
    } else if (op === 'Transpose') {
      const perm = attrInts(n, 'perm');
      if (!perm || perm[0] !== 0) return `${why} moves the batch axis`;
    } else if (op === 'Gemm') {
      if (attrInts(n, 'transA')?.[0] === 1) return `${why} contracts over its rows (transA)`;
    } else if (op === 'CumSum' || op === 'If' || op === 'Loop' || op === 'Scan' || op.includes(':')) {
      return `${why} may mix samples`;
    }
  }
  return null;
}
