/** MatMul (NumPy semantics, any rank) and Gemm. */
import type { GradRule } from '../autodiff.js';
import type { Builder } from '../builder.js';
import { unbroadcast } from '../broadcast.js';
import { attrFloat, attrInt } from '../ir.js';

function swapLast(b: Builder, x: string, why: string): string {
  const r = b.rank(x, why);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return b.transpose(x, perm);
}

export const linalgRules: GradRule[] = [
  {
    op: 'MatMul',
    grad: ({ b, node, dOut: [g], needs }) => {
      const [A, B] = node.inputs;
      const why = `MatMul gradient (node '${node.name}')`;
      const ra = b.rank(A, why), rb = b.rank(B, why);
      let dA: string | undefined, dB: string | undefined;
      if (needs[0]) {
        if (rb === 1) dA = unbroadcast(b, b.mul(b.unsqueeze(g!, [-1]), B), A);
        else if (ra === 1) dA = unbroadcast(b, b.matmul(b.unsqueeze(g!, [-2]), swapLast(b, B, why)), A);
        else dA = unbroadcast(b, b.matmul(g!, swapLast(b, B, why)), A);
      }
      if (needs[1]) {
        if (ra === 1 && rb === 1) dB = b.mul(g!, A);
        else if (ra === 1) dB = unbroadcast(b, b.mul(b.unsqueeze(A, [-1]), b.unsqueeze(g!, [-2])), B);
        else if (rb === 1) dB = unbroadcast(b, b.squeeze(b.matmul(swapLast(b, A, why), b.unsqueeze(g!, [-1])), [-1]), B);
        else dB = unbroadcast(b, b.matmul(swapLast(b, A, why), g!), B);
      }
      return [dA, dB];
    },
  },
  {
    op: 'Gemm',
    // Y = alpha·op(A)·op(B) + beta·C; each gradient is again one Gemm.
    grad: ({ b, node, dOut: [g], needs }) => {
      const [A, B, C] = node.inputs;
      const ta = attrInt(node, 'transA', 0), tb = attrInt(node, 'transB', 0);
      const alpha = attrFloat(node, 'alpha', 1), beta = attrFloat(node, 'beta', 1);
      const gemm = (x: string, y: string, transA: number, transB: number): string =>
        b.op('Gemm', [x, y], { alpha: alpha === 1 ? undefined : { f: alpha }, transA: transA || undefined, transB: transB || undefined });
      const dA = !needs[0] ? undefined : ta ? gemm(B, g!, tb, 1) : gemm(g!, B, 0, tb ? 0 : 1);
      const dB = !needs[1] ? undefined : tb ? gemm(g!, A, 1, ta) : gemm(A, g!, ta ? 0 : 1, 0);
      let dC: string | undefined;
      if (C && needs[2]) dC = unbroadcast(b, beta === 1 ? g! : b.mul(g!, b.scalarLike(g!, beta)), C);
      return [dA, dB, dC];
    },
  },
];
