/** Matrix products: MatMul (NumPy semantics, any rank), Gemm, Einsum. */
import { einsumTerms } from '../dim-product.js';
import type { Emitter } from '../emitter.js';
import { attrFloat, attrInt, type Dim } from '../ir.js';
import { unbroadcast } from '../broadcast.js';
import type { BatchCtx, OnAxis } from './batch-context.js';
import { broadcastShapes } from './shapes.js';
import { differentiable, NO_GRADIENT, type GradRule, type InferRule, type OpDef } from './types.js';

function swapLast(b: Emitter, x: string, why: string): string {
  const r = b.rank(x, why);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return b.transpose(x, perm);
}

const matMulGrad: GradRule = ({ b, node, g }) => {
  const [A, B] = node.inputs;
  const why = `MatMul gradient (node '${node.name}')`;
  const ra = b.rank(A, why),
    rb = b.rank(B, why);
  return [
    () => {
      if (rb === 1) return unbroadcast(b, b.mul(b.unsqueeze(g, [-1]), B), A);
      if (ra === 1) return unbroadcast(b, b.matmul(b.unsqueeze(g, [-2]), swapLast(b, B, why)), A);
      return unbroadcast(b, b.matmul(g, swapLast(b, B, why)), A);
    },
    () => {
      if (ra === 1 && rb === 1) return b.mul(g, A);
      if (ra === 1) return unbroadcast(b, b.mul(b.unsqueeze(A, [-1]), b.unsqueeze(g, [-2])), B);
      if (rb === 1) return unbroadcast(b, b.squeeze(b.matmul(swapLast(b, A, why), b.unsqueeze(g, [-1])), [-1]), B);
      return unbroadcast(b, b.matmul(swapLast(b, A, why), g), B);
    },
  ];
};

/** Y = alpha·op(A)·op(B) + beta·C; each gradient is again one Gemm. */
const gemmGrad: GradRule = ({ b, node, g }) => {
  const [A, B, C] = node.inputs;
  const ta = attrInt(node, 'transA', 0),
    tb = attrInt(node, 'transB', 0);
  const alpha = attrFloat(node, 'alpha', 1),
    beta = attrFloat(node, 'beta', 1);
  const gemm = (x: string, y: string, transA: number, transB: number): string =>
    b.op('Gemm', [x, y], { alpha: alpha === 1 ? undefined : { f: alpha }, transA: transA || undefined, transB: transB || undefined });
  return [
    () => (ta ? gemm(B, g, tb, 1) : gemm(g, B, 0, tb ? 0 : 1)),
    () => (tb ? gemm(g, A, 1, ta) : gemm(A, g, ta ? 0 : 1, 0)),
    () => unbroadcast(b, beta === 1 ? g : b.mul(g, b.scalarLike(g, beta)), C),
  ];
};

// ---- shapes ------------------------------------------------------------------------------------------------------

const matMulShape: InferRule = ({ x, ins }) => {
  const [a, b] = [ins[0].shape, ins[1].shape];
  if (!a || !b) return [{ dtype: x.dtype, shape: null }];
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]) ?? [];
  const out = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.splice(out.length - 1, 1);
  return [{ dtype: x.dtype, shape: out }];
};

const gemmShape: InferRule = ({ node, x, ins }) => {
  const [a, b] = [ins[0].shape, ins[1].shape];
  const ta = attrInt(node, 'transA', 0),
    tb = attrInt(node, 'transB', 0);
  return [{ dtype: x.dtype, shape: [a ? a[ta ? 1 : 0] : null, b ? b[tb ? 0 : 1] : null] }];
};

const einsumShape: InferRule = ({ node, x, ins }) => {
  const e = einsumTerms(node);
  if (!e || e.terms.length !== ins.length) return [{ dtype: x.dtype, shape: null }];
  const dims = new Map<string, Dim>();
  e.terms.forEach((t, i) =>
    [...t].forEach((c, j) => {
      const d = ins[i].shape?.[j] ?? null;
      if (!dims.has(c) || dims.get(c) === null || dims.get(c) === 1) dims.set(c, d);
    }),
  );
  return [{ dtype: x.dtype, shape: [...e.rhs].map((c) => dims.get(c) ?? null) }];
};

// ---- the batch axis ----------------------------------------------------------------------------------------------

function matMulBatch(c: BatchCtx): OnAxis {
  const ra = c.rank(0),
    rb = c.rank(1),
    ro = c.outRank();
  return c.sameAxis((i, f) => {
    if (i === 0) {
      if (ra === 1 || f.axis === ra - 1) c.mixes('contracts over the batch axis');
      return f.axis === ra - 2 ? (rb === 1 ? ro - 1 : ro - 2) : f.axis + ro - ra + (rb === 1 ? 1 : 0);
    }
    if (rb === 1 || f.axis === rb - 2) c.mixes('contracts over the batch axis');
    return f.axis === rb - 1 ? ro - 1 : f.axis + ro - rb + (ra === 1 ? 1 : 0);
  });
}

function gemmBatch(c: BatchCtx): OnAxis {
  const ta = attrInt(c.n, 'transA', 0),
    tb = attrInt(c.n, 'transB', 0);
  return c.sameAxis((i, f) => {
    if (i === 0 && f.axis !== (ta ? 1 : 0)) c.mixes(`contracts over the batch axis${ta ? ' (transA)' : ''}`);
    if (i === 1 && f.axis !== (tb ? 0 : 1)) c.mixes('contracts over the batch axis');
    return i === 2 ? f.axis + 2 - c.rank(2) : i;
  });
}

function einsumBatch(c: BatchCtx): OnAxis {
  const e = einsumTerms(c.n);
  if (!e) return c.mixes('has an equation the analysis cannot follow');
  let letter = '',
    b = '';
  for (const i of c.sampled) {
    const f = c.axisOf(i);
    const ch = e.terms[i]?.[f.axis];
    if (!ch || (letter && ch !== letter)) c.mixes('combines samples along different axes');
    letter = ch;
    b = f.b;
  }
  for (const i of c.sampled) if (e.terms[i].split(letter).length !== 2) c.mixes('repeats the batch letter');
  const axis = e.rhs.indexOf(letter);
  if (axis < 0) c.mixes('contracts over the batch axis');
  return { axis, b };
}

export const linalgOps: OpDef[] = [
  { op: 'MatMul', infer: matMulShape, grad: differentiable(matMulGrad), batch: { rule: matMulBatch } },
  { op: 'Gemm', infer: gemmShape, grad: differentiable(gemmGrad), batch: { rule: gemmBatch } },
  { op: 'Einsum', infer: einsumShape, grad: NO_GRADIENT, batch: { rule: einsumBatch } },
];
