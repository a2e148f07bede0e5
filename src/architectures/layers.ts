/**
 * The building blocks of the Transformer graphs, in standard ONNX ops on the graph Builder, each computing what the
 * PyTorch module of the same name in transformers computes (float32 throughout):
 * nn.Linear (x·Wᵀ + b, W [out, in]) and GPT-2's Conv1D (x·W + b, W [in, out]); nn.LayerNorm; LlamaRMSNorm
 * (x·rsqrt(mean(x²) + ε), then ·w); ACT2FN's activations; scaled dot-product attention with an additive mask;
 * RoPE with rotate_half; repeat_kv for grouped-query attention.
 */
import type { Builder } from '../graph/builder.js';
import { DT } from '../graph/ir.js';
import type { Activation } from './config.js';

/** torch.finfo(torch.float32).min: the additive mask value transformers uses for masked attention scores. */
export const F32_MIN = -3.4028234663852886e38;

const f = (b: Builder, v: number): string => b.scalar(v, DT.FLOAT);

/**
 * nn.Linear (weight [out, in]) or GPT-2's Conv1D (weight [in, out]) over the last axis, as one Gemm over the tokens
 * flattened to rows ([…, in] → [rows, in] → [rows, out] → […, out]). A MatMul of [B, T, in] by a 2-D weight would
 * have the graph library's MatMul rule form the weight gradient as per-sample products [B, in, out] summed over B —
 * for GPT-2 small's tied head 4 × 154 MB per gradient at batch 4 — where the Gemm rule writes it as one product.
 */
export function linear(b: Builder, x: string, w: string, bias: string | null, layout: 'out-in' | 'in-out' = 'out-in'): string {
  const ws = b.staticDims(w, 'linear layer weight');
  const [inDim, outDim] = layout === 'out-in' ? [ws[1], ws[0]] : ws;
  const r = b.rank(x, 'linear layer input');
  const rows = r === 2 ? x : b.reshape(x, b.i64([-1, inDim]));
  const y = b.op('Gemm', bias ? [rows, w, bias] : [rows, w], layout === 'out-in' ? { transB: 1 } : {});
  if (r === 2) return y;
  const lead = b.slice1(b.shapeConst(x), 0, r - 1);
  return b.reshape(y, b.concat([lead, b.i64([outDim])], 0));
}

/** nn.LayerNorm over the last axis (the graph library decomposes it into primitives with gradient rules). */
export function layerNorm(b: Builder, x: string, w: string, bias: string, eps: number): string {
  return b.op('LayerNormalization', [x, w, bias], { axis: -1, epsilon: { f: eps } });
}

/** LlamaRMSNorm: w · x / √(mean(x²) + ε) over the last axis. */
export function rmsNorm(b: Builder, x: string, w: string, eps: number): string {
  const variance = b.reduceMean(b.mul(x, x), [-1], true);
  const inv = b.op('Reciprocal', [b.op('Sqrt', [b.add(variance, f(b, eps))])]);
  return b.mul(w, b.mul(x, inv));
}

/** ACT2FN[name]: exact (erf) GELU, the tanh GELUs, ReLU, SiLU, tanh. */
export function activate(b: Builder, x: string, act: Activation): string {
  switch (act) {
    case 'gelu':
      return b.mul(b.mul(x, f(b, 0.5)), b.add(f(b, 1), b.op('Erf', [b.mul(x, f(b, Math.SQRT1_2))])));
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': {
      const cube = b.mul(b.mul(x, x), x);
      const inner = b.mul(f(b, Math.sqrt(2 / Math.PI)), b.add(x, b.mul(f(b, 0.044715), cube)));
      return b.mul(b.mul(f(b, 0.5), x), b.add(f(b, 1), b.op('Tanh', [inner])));
    }
    case 'relu':
      return b.op('Relu', [x]);
    case 'silu':
    case 'swish':
      return b.mul(x, b.op('Sigmoid', [x]));
    case 'tanh':
      return b.op('Tanh', [x]);
  }
}

/** Length of axis `axis` of x as a rank-0 int64 tensor (static when known). */
export function dimOf(b: Builder, x: string, axis: number): string {
  const s = b.shapeOf(x);
  const d = s?.[axis];
  if (typeof d === 'number') return b.i64Scalar(d);
  return b.squeeze(b.slice1(b.shape(x), axis, axis + 1), [0]);
}

/** 0, 1, …, n−1 as int64 [n]. */
export function arange(b: Builder, n: string): string {
  return b.op('Range', [b.i64Scalar(0), n, b.i64Scalar(1)]);
}

/** [B, T, H·D] → [B, H, T, D]. */
export function splitHeads(b: Builder, x: string, heads: number, dim: number): string {
  return b.transpose(b.reshape(x, b.i64([0, 0, heads, dim])), [0, 2, 1, 3]);
}

/** [B, H, T, D] → [B, T, H·D]. */
export function mergeHeads(b: Builder, x: string, heads: number, dim: number): string {
  return b.reshape(b.transpose(x, [0, 2, 1, 3]), b.i64([0, 0, heads * dim]));
}

/** repeat_kv: [B, KV, T, D] → [B, KV·rep, T, D], each kv head repeated rep times in place. */
export function repeatKv(b: Builder, x: string, rep: number, kvHeads: number, dim: number): string {
  if (rep === 1) return x;
  const x5 = b.unsqueeze(x, [2]); // [B, KV, 1, T, D]
  const shape = b.concat([b.slice1(b.shape(x5), 0, 2), b.i64([rep]), b.slice1(b.shape(x5), 3, 5)], 0);
  return b.reshape(b.expand(x5, shape), b.i64([0, kvHeads * rep, -1, dim]));
}

/**
 * softmax(q·kᵀ·scale + mask)·v for q [B, H, T, D], k and v [B, H, S, D]; `mask` is additive and broadcasts to
 * [B, H, T, S] (0 where attended, finfo.min where not). `divide` scales by dividing by 1/scale, as GPT-2 and BERT
 * write it (the last bit of rounding then matches theirs).
 */
export function attention(b: Builder, q: string, k: string, v: string, mask: string | null, scale: number, divide: boolean): string {
  let s = b.matmul(q, b.transpose(k, [0, 1, 3, 2]));
  if (scale !== 1) s = divide ? b.div(s, f(b, 1 / scale)) : b.mul(s, f(b, scale));
  if (mask) s = b.add(s, mask);
  return b.matmul(b.op('Softmax', [s], { axis: -1 }), v);
}

/**
 * The additive causal mask [T, T] (0 where key j ≤ query i, finfo.min elsewhere), optionally limited to a sliding
 * window: key j is attended when i − window < j ≤ i (transformers' sliding_window_overlay).
 */
export function causalMask(b: Builder, t: string, window: number | null): string {
  const pos = arange(b, t);
  const rows = b.unsqueeze(pos, [1]);
  const cols = b.unsqueeze(pos, [0]);
  let masked = b.op('Greater', [cols, rows]);
  if (window !== null) masked = b.op('Or', [masked, b.op('LessOrEqual', [cols, b.sub(rows, b.i64Scalar(window))])]);
  return b.where(masked, f(b, F32_MIN), f(b, 0));
}

/** The additive padding mask [B, 1, 1, T] of a 0/1 attention mask [B, T]: (1 − m)·finfo.min, as BERT extends it. */
export function paddingMask(b: Builder, mask: string): string {
  const m = b.unsqueeze(b.cast(mask, DT.FLOAT), [1, 2]);
  return b.mul(b.sub(f(b, 1), m), f(b, F32_MIN));
}

/** rotate_half(x) = cat(−x[..., D/2:], x[..., :D/2]) over the last axis of width `dim`. */
function rotateHalf(b: Builder, x: string, dim: number): string {
  const [x1, x2] = b.opN('Split', [x, b.i64([dim / 2, dim / 2])], 2, { axis: -1 });
  return b.concat([b.neg(x2), x1], -1);
}

/** q·cos + rotate_half(q)·sin, cos/sin [T, D] broadcasting over [B, H, T, D]. */
export function applyRope(b: Builder, x: string, cos: string, sin: string, dim: number): string {
  return b.add(b.mul(x, cos), b.mul(rotateHalf(b, x, dim), sin));
}

/**
 * cos and sin [T, D] of the rotary embedding at positions 0..T−1: freqs = pos·inv_freq in float32 (as transformers'
 * inv_freq @ position_ids), emb = cat(freqs, freqs).
 */
export function ropeTables(b: Builder, t: string, invFreq: Float32Array): { cos: string; sin: string } {
  const pos = b.unsqueeze(b.cast(arange(b, t), DT.FLOAT), [1]);
  const inv = b.constant(DT.FLOAT, [1, invFreq.length], invFreq);
  const freqs = b.mul(pos, inv);
  const emb = b.concat([freqs, freqs], -1);
  return { cos: b.op('Cos', [emb]), sin: b.op('Sin', [emb]) };
}
