/**
 * Normalisations. BatchNormalization and LayerNormalization are decomposed into primitives with gradient rules (mean,
 * variance, Sqrt, Div); BatchNormalization in training mode (opset ≥ 14's attribute, or older opsets asking for the
 * statistics outputs) uses the batch's statistics and updates the running ones.
 */
import type { Emitter } from '../emitter.js';
import { attrFloat, attrInt, attrInts, normAxis, type GNode, type ValueInfo } from '../ir.js';
import { PER_IMAGE, type BatchCtx, type Flow } from './batch-context.js';
import { SAME_AS_INPUT, UNKNOWN } from './shapes.js';
import { decomposed, family, NO_GRADIENT, type BatchSpec, type OpDef } from './types.js';
import { bind } from './unary.js';

const isTraining = (node: GNode, opset: number): boolean =>
  opset >= 14 ? attrInt(node, 'training_mode', 0) === 1 : node.outputs.slice(1).some(Boolean);

function layerNorm(b: Emitter, node: GNode): void {
  const [x, scale, bias] = node.inputs;
  const r = b.rank(x, `LayerNormalization (node '${node.name}')`);
  const axis = normAxis(attrInt(node, 'axis', -1), r);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const axes = Array.from({ length: r - axis }, (_, i) => axis + i);
  const mean = b.reduceMean(x, axes, true);
  const d = b.sub(x, mean);
  const variance = b.reduceMean(b.mul(d, d), axes, true);
  const std = b.op('Sqrt', [b.add(variance, b.scalarLike(x, eps))]);
  let y = b.mul(b.div(d, std), scale);
  if (bias) y = b.add(y, bias);
  bind(b, y, node.outputs[0]);
  if (node.outputs[1]) bind(b, mean, node.outputs[1]);
  if (node.outputs[2]) bind(b, b.op('Reciprocal', [std]), node.outputs[2]);
}

function batchNorm(b: Emitter, node: GNode): void {
  const [x, scale, bias, mean, variance] = node.inputs;
  const r = b.rank(x, `BatchNormalization (node '${node.name}')`);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const momentum = attrFloat(node, 'momentum', 0.9);
  const chan = (t: string): string =>
    b.unsqueeze(
      t,
      Array.from({ length: r - 2 }, (_, i) => i + 1),
    );
  let m: string, v: string;
  if (isTraining(node, b.opset)) {
    const axes = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
    const mk = b.reduceMean(x, axes, true);
    const dk = b.sub(x, mk);
    const vk = b.reduceMean(b.mul(dk, dk), axes, true);
    m = mk;
    v = vk;
    const flat = (t: string): string => b.reshape(t, b.i64([-1]));
    const run = (old: string, cur: string): string =>
      b.add(b.mul(old, b.scalarLike(x, momentum)), b.mul(flat(cur), b.scalarLike(x, 1 - momentum)));
    if (node.outputs[1]) bind(b, run(mean, mk), node.outputs[1]);
    if (node.outputs[2]) bind(b, run(variance, vk), node.outputs[2]);
  } else {
    m = chan(mean);
    v = chan(variance);
  }
  const y = b.add(b.mul(b.div(b.sub(x, m), b.op('Sqrt', [b.add(v, b.scalarLike(x, eps))])), chan(scale)), chan(bias));
  bind(b, y, node.outputs[0]);
}

const batchNormBatch: BatchSpec = {
  rule: (c: BatchCtx): (Flow | undefined)[] => {
    c.only(0);
    if (isTraining(c.n, c.opset)) c.mixes('uses batch statistics');
    if (c.axisOf(0).axis === 1) c.mixes('would scale samples by channel parameters');
    return [c.ins[0]];
  },
};

/** Normalises over the axes from `axis` on (LayerNormalization) or over the listed ones. */
const normalisesOver = (axes: (c: BatchCtx, r: number) => number[]): BatchSpec => ({
  rule: (c) => {
    c.only(0);
    const f = c.axisOf(0);
    if (axes(c, c.rank(0)).includes(f.axis)) c.mixes('normalises over the batch axis');
    return f;
  },
});

export const normalizationOps: OpDef[] = [
  {
    op: 'BatchNormalization',
    infer: ({ node, x, ins }) => {
      const stats = (i: number): ValueInfo => ins[i] ?? UNKNOWN;
      return [{ dtype: x.dtype, shape: x.shape }, stats(3), stats(4), stats(3), stats(4)].slice(0, node.outputs.length);
    },
    grad: decomposed(batchNorm),
    batch: batchNormBatch,
  },
  {
    op: 'LayerNormalization',
    infer: ({ node, x }) => {
      const r = x.shape?.length;
      const a = r === undefined ? 0 : normAxis(attrInt(node, 'axis', -1), r);
      const stat: ValueInfo = { dtype: x.dtype, shape: x.shape ? x.shape.map((d, i) => (i < a ? d : 1)) : null };
      return [{ dtype: x.dtype, shape: x.shape }, stat, stat].slice(0, node.outputs.length);
    },
    grad: decomposed(layerNorm),
    batch: normalisesOver((c, r) => {
      const a = normAxis(attrInt(c.n, 'axis', -1), r);
      return Array.from({ length: r - a }, (_, i) => a + i);
    }),
  },
  {
    op: 'MeanVarianceNormalization',
    infer: SAME_AS_INPUT,
    grad: NO_GRADIENT,
    batch: normalisesOver((c, r) => (attrInts(c.n, 'axes') ?? [0, 2, 3]).map((a) => normAxis(a, r))),
  },
  {
    op: 'LpNormalization',
    infer: SAME_AS_INPUT,
    grad: NO_GRADIENT,
    batch: normalisesOver((c, r) => [normAxis(attrInt(c.n, 'axis', -1), r)]),
  },
  ...family(['InstanceNormalization', 'GroupNormalization', 'LRN'], { infer: SAME_AS_INPUT, grad: NO_GRADIENT, batch: PER_IMAGE }),
];
