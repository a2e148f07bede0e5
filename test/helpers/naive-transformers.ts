/**
 * Plain float64 loops computing what transformers' modeling_llama.py (and its Mistral/Qwen2 variants) and
 * modeling_bert.py / modeling_roberta.py compute, one sequence at a time, for checking the ONNX graphs built from
 * config.json on checkpoints the shared fixtures do not cover (head_dim ≠ hidden/heads, biases, RoPE scaling, sliding
 * windows, RoBERTa positions, masked-LM heads). Written from transformers' semantics, independently of
 * src/architectures (no shared code).
 */
export type Weights = ReadonlyMap<string, Float64Array>;

function W(w: Weights, name: string): Float64Array {
  const v = w.get(name);
  if (!v) throw new Error(`naive: no weight ${name}`);
  return v;
}

/** y = W·x (+ b), W [out, in] row-major. */
function linear(x: Float64Array, w: Float64Array, b: Float64Array | null, out: number): Float64Array {
  const n = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < n; i++) s += w[o * n + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rms(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let s = 0;
  for (const v of x) s += v * v;
  const inv = 1 / Math.sqrt(s / x.length + eps);
  return x.map((v, i) => w[i] * v * inv);
}

function layerNorm(x: Float64Array, w: Float64Array, b: Float64Array, eps: number): Float64Array {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  const vari = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
  const inv = 1 / Math.sqrt(vari + eps);
  return x.map((v, i) => (v - mean) * inv * w[i] + b[i]);
}

/** erf: the Maclaurin series below 0.5, the continued fraction of erfc above (both to ~1e-15). */
export function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  if (a < 0.5) {
    // Maclaurin series.
    let term = a;
    let sum = a;
    for (let n = 1; n < 40; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return (s * 2 * sum) / Math.sqrt(Math.PI);
  }
  // Continued fraction for erfc (Lentz), accurate for a ≥ 0.5.
  let f = a;
  let c = a;
  let d = 0;
  for (let k = 1; k < 2000; k++) {
    const ak = k / 2;
    d = a + ak * d;
    d = 1 / d;
    c = a + ak / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return s * (1 - erfc);
}

const gelu = (v: number): number => 0.5 * v * (1 + erf(v / Math.SQRT2));
const silu = (v: number): number => v / (1 + Math.exp(-v));

export interface NaiveLlama {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  inter: number;
  eps: number;
  theta: number;
  rope:
    | { type: 'default' }
    | { type: 'linear'; factor: number }
    | { type: 'llama3'; factor: number; low: number; high: number; old: number };
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  tied: boolean;
  window: number | null;
  /** Per-layer windows (Qwen2's max_window_layers), overriding `window`. */
  windows?: (number | null)[];
}

function invFreq(c: NaiveLlama): Float64Array {
  const half = c.headDim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => 1 / c.theta ** ((2 * i) / c.headDim));
  if (c.rope.type === 'linear') return inv.map((v) => v / (c.rope as { factor: number }).factor);
  if (c.rope.type === 'llama3') {
    const { factor, low, high, old } = c.rope;
    return inv.map((v) => {
      const wavelen = (2 * Math.PI) / v;
      if (wavelen < old / high) return v;
      if (wavelen > old / low) return v / factor;
      const smooth = (old / wavelen - low) / (high - low);
      return (1 - smooth) * (v / factor) + smooth * v;
    });
  }
  return inv;
}

/** Logits [T, vocab] of one sequence under Llama semantics. */
export function naiveLlama(c: NaiveLlama, w: Weights, ids: readonly number[]): Float64Array {
  const T = ids.length;
  const { hidden: d, headDim: hd } = c;
  const emb = W(w, 'model.embed_tokens.weight');
  let h = ids.map((id) => emb.slice(id * d, (id + 1) * d));
  const inv = invFreq(c);
  const rope = (x: Float64Array, pos: number): Float64Array => {
    const out = new Float64Array(hd);
    for (let j = 0; j < hd; j++) {
      const ang = pos * inv[j % (hd / 2)];
      const rot = j < hd / 2 ? -x[j + hd / 2] : x[j - hd / 2];
      out[j] = x[j] * Math.cos(ang) + rot * Math.sin(ang);
    }
    return out;
  };
  const opt = (on: boolean, n: string): Float64Array | null => (on ? W(w, n) : null);
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    const window = c.windows ? c.windows[l] : c.window;
    const x = h.map((v) => rms(v, W(w, `${p}input_layernorm.weight`), c.eps));
    const q = x.map((v) => linear(v, W(w, `${p}self_attn.q_proj.weight`), opt(c.qkvBias, `${p}self_attn.q_proj.bias`), c.heads * hd));
    const k = x.map((v) => linear(v, W(w, `${p}self_attn.k_proj.weight`), opt(c.qkvBias, `${p}self_attn.k_proj.bias`), c.kvHeads * hd));
    const vv = x.map((v) => linear(v, W(w, `${p}self_attn.v_proj.weight`), opt(c.qkvBias, `${p}self_attn.v_proj.bias`), c.kvHeads * hd));
    const attn = Array.from({ length: T }, () => new Float64Array(c.heads * hd));
    for (let hh = 0; hh < c.heads; hh++) {
      const kh = Math.floor(hh / (c.heads / c.kvHeads));
      for (let i = 0; i < T; i++) {
        const qi = rope(q[i].slice(hh * hd, (hh + 1) * hd), i);
        const scores: number[] = [];
        const js: number[] = [];
        for (let j = 0; j <= i; j++) {
          if (window !== null && i - j >= window) continue;
          const kj = rope(k[j].slice(kh * hd, (kh + 1) * hd), j);
          let s = 0;
          for (let e = 0; e < hd; e++) s += qi[e] * kj[e];
          scores.push(s / Math.sqrt(hd));
          js.push(j);
        }
        const m = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - m));
        const z = ex.reduce((a, b) => a + b, 0);
        js.forEach((j, n) => {
          for (let e = 0; e < hd; e++) attn[i][hh * hd + e] += (ex[n] / z) * vv[j][kh * hd + e];
        });
      }
    }
    h = h.map((v, i) =>
      v.map((a, e) => a + linear(attn[i], W(w, `${p}self_attn.o_proj.weight`), opt(c.oBias, `${p}self_attn.o_proj.bias`), d)[e]),
    );
    const y = h.map((v) => rms(v, W(w, `${p}post_attention_layernorm.weight`), c.eps));
    h = h.map((v, i) => {
      const g = linear(y[i], W(w, `${p}mlp.gate_proj.weight`), opt(c.mlpBias, `${p}mlp.gate_proj.bias`), c.inter).map(silu);
      const u = linear(y[i], W(w, `${p}mlp.up_proj.weight`), opt(c.mlpBias, `${p}mlp.up_proj.bias`), c.inter);
      const dn = linear(
        g.map((a, e) => a * u[e]),
        W(w, `${p}mlp.down_proj.weight`),
        opt(c.mlpBias, `${p}mlp.down_proj.bias`),
        d,
      );
      return v.map((a, e) => a + dn[e]);
    });
  }
  const head = c.tied ? emb : W(w, 'lm_head.weight');
  const out = new Float64Array(T * c.vocab);
  h.forEach((v, i) => out.set(linear(rms(v, W(w, 'model.norm.weight'), c.eps), head, null, c.vocab), i * c.vocab));
  return out;
}

export interface NaiveBert {
  kind: 'bert' | 'roberta';
  task: 'sequence-classification' | 'masked-lm';
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  inter: number;
  eps: number;
  labels: number;
  padIdx: number;
}

/** BERT / RoBERTa on one sequence: classifier logits, or the masked-LM logits at position `target`. */
export function naiveBert(
  c: NaiveBert,
  w: Weights,
  ids: readonly number[],
  mask: readonly number[],
  types: readonly number[],
  target = 0,
): Float64Array {
  const T = ids.length;
  const d = c.hidden;
  const hd = d / c.heads;
  const p0 = `${c.kind}.`;
  const row = (name: string, r: number): Float64Array => W(w, name).slice(r * d, (r + 1) * d);
  let pos = Array.from({ length: T }, (_, i) => i);
  if (c.kind === 'roberta') {
    let run = 0;
    pos = ids.map((id) => (id !== c.padIdx ? (++run, run + c.padIdx) : c.padIdx));
  }
  let h = ids.map((id, i) => {
    const e = row(`${p0}embeddings.word_embeddings.weight`, id);
    const t = row(`${p0}embeddings.token_type_embeddings.weight`, types[i]);
    const q = row(`${p0}embeddings.position_embeddings.weight`, pos[i]);
    return layerNorm(
      e.map((v, k) => v + t[k] + q[k]),
      W(w, `${p0}embeddings.LayerNorm.weight`),
      W(w, `${p0}embeddings.LayerNorm.bias`),
      c.eps,
    );
  });
  for (let l = 0; l < c.layers; l++) {
    const p = `${p0}encoder.layer.${l}.`;
    const proj = (n: string) => h.map((v) => linear(v, W(w, `${p}attention.self.${n}.weight`), W(w, `${p}attention.self.${n}.bias`), d));
    const [q, k, v] = [proj('query'), proj('key'), proj('value')];
    const ctx = Array.from({ length: T }, () => new Float64Array(d));
    for (let hh = 0; hh < c.heads; hh++) {
      for (let i = 0; i < T; i++) {
        const sc: number[] = [];
        const js: number[] = [];
        for (let j = 0; j < T; j++) {
          if (!mask[j]) continue;
          let s = 0;
          for (let e = 0; e < hd; e++) s += q[i][hh * hd + e] * k[j][hh * hd + e];
          sc.push(s / Math.sqrt(hd));
          js.push(j);
        }
        const m = Math.max(...sc);
        const ex = sc.map((s) => Math.exp(s - m));
        const z = ex.reduce((a, b) => a + b, 0);
        js.forEach((j, n) => {
          for (let e = 0; e < hd; e++) ctx[i][hh * hd + e] += (ex[n] / z) * v[j][hh * hd + e];
        });
      }
    }
    h = h.map((x, i) => {
      const a = linear(ctx[i], W(w, `${p}attention.output.dense.weight`), W(w, `${p}attention.output.dense.bias`), d);
      return layerNorm(
        a.map((u, e) => u + x[e]),
        W(w, `${p}attention.output.LayerNorm.weight`),
        W(w, `${p}attention.output.LayerNorm.bias`),
        c.eps,
      );
    });
    h = h.map((x) => {
      const m = linear(x, W(w, `${p}intermediate.dense.weight`), W(w, `${p}intermediate.dense.bias`), c.inter).map(gelu);
      const o = linear(m, W(w, `${p}output.dense.weight`), W(w, `${p}output.dense.bias`), d);
      return layerNorm(
        o.map((u, e) => u + x[e]),
        W(w, `${p}output.LayerNorm.weight`),
        W(w, `${p}output.LayerNorm.bias`),
        c.eps,
      );
    });
  }
  if (c.task === 'masked-lm') {
    const q = (n: string): string => (c.kind === 'bert' ? `cls.predictions.${n}` : `lm_head.${n}`);
    const dense = linear(
      h[target],
      W(w, q(c.kind === 'bert' ? 'transform.dense.weight' : 'dense.weight')),
      W(w, q(c.kind === 'bert' ? 'transform.dense.bias' : 'dense.bias')),
      d,
    ).map(gelu);
    const ln = c.kind === 'bert' ? 'transform.LayerNorm' : 'layer_norm';
    const t = layerNorm(dense, W(w, q(`${ln}.weight`)), W(w, q(`${ln}.bias`)), c.eps);
    return linear(t, W(w, `${p0}embeddings.word_embeddings.weight`), W(w, q('bias')), c.vocab);
  }
  if (c.kind === 'bert') {
    const pooled = linear(h[0], W(w, 'bert.pooler.dense.weight'), W(w, 'bert.pooler.dense.bias'), d).map(Math.tanh);
    return linear(pooled, W(w, 'classifier.weight'), W(w, 'classifier.bias'), c.labels);
  }
  const x = linear(h[0], W(w, 'classifier.dense.weight'), W(w, 'classifier.dense.bias'), d).map(Math.tanh);
  return linear(x, W(w, 'classifier.out_proj.weight'), W(w, 'classifier.out_proj.bias'), c.labels);
}
