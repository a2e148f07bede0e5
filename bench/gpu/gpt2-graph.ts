/**
 * A GPT-2 language model as an ONNX graph, built with the project's graph builder from Hugging Face GPT-2 weights
 * (Conv1D layout [in, out]; lm_head tied to wte, used twice in the graph so its gradient is the sum), for the GPU
 * check (issue 19): the GPT-2-small-shaped LM that `weightscope grad|hvp` and PyTorch (bench/gpu/torch_cuda.py) time
 * on the same weights. Standard opset-14 ops only (Gather, MatMul, Split, Reshape, Transpose, Softmax, Where,
 * ReduceMean, Tanh …), as HF's GPT2LMHeadModel computes them: pre-LayerNorm blocks, causal attention scaled by
 * 1/√head_dim, gelu_new (tanh approximation). The sequence length is fixed when the graph is built; the batch is free.
 *
 * Checked against PyTorch on gpt2-tiny (test/bench/gpt2-graph.test.ts: loss, gradient and Hv of the fixture).
 *
 *   node bench/gpu/gpt2-graph.js --out DIR [--seq 128] [--batch 8] [--seed 1]
 * writes DIR/model.onnx, DIR/model.safetensors (the same float32 weights, HF names), DIR/lm_batch.safetensors
 * (x: int64 [batch, seq] uniform random tokens) and DIR/config.json for a GPT-2-small shape (124,439,808 parameters,
 * N(0, 0.02²) weights, LayerNorm weights 1, biases 0).
 */
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Builder } from '../../src/graph/builder.js';
import { DT, graphToModel, type Graph } from '../../src/graph/ir.js';
import { onnx } from '../../src/io/onnx-model.js';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import { Rng } from '../../src/util/random.js';
import { gaussianFiller } from '../checkpoint-writer.js';
import { gpt2Tensors as gpt2Shapes } from '../gpt2-small.js';

export interface Gpt2Config {
  readonly vocab: number;
  readonly positions: number;
  readonly d: number;
  readonly layers: number;
  readonly heads: number;
  readonly eps: number;
}

export const GPT2_SMALL: Gpt2Config = { vocab: 50257, positions: 1024, d: 768, layers: 12, heads: 12, eps: 1e-5 };

/** HF config.json fields → Gpt2Config. */
export function configFromHf(c: {
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  layer_norm_epsilon?: number;
}): Gpt2Config {
  return {
    vocab: c.vocab_size,
    positions: c.n_positions,
    d: c.n_embd,
    layers: c.n_layer,
    heads: c.n_head,
    eps: c.layer_norm_epsilon ?? 1e-5,
  };
}

/** The graph's parameters: HF GPT-2 names and shapes (no separate lm_head: it is wte); one list, bench/gpt2-small.ts's. */
export function gpt2Tensors(c: Gpt2Config): { name: string; shape: number[] }[] {
  return gpt2Shapes({ d: c.d, layers: c.layers, vocab: c.vocab, context: c.positions });
}

/** GPT-2 forward graph: input_ids int64 [batch, seq] → logits float32 [batch, seq, vocab]. */
export function gpt2Graph(c: Gpt2Config, seq: number, weights: ReadonlyMap<string, Float32Array>): Graph {
  if (seq < 1 || seq > c.positions) throw new Error(`seq ${seq} must be in 1..${c.positions}`);
  if (c.d % c.heads !== 0) throw new Error(`d ${c.d} is not a multiple of heads ${c.heads}`);
  const g: Graph = {
    name: 'gpt2',
    opset: 14,
    irVersion: 8,
    extraOpsets: [],
    nodes: [],
    inputs: ['input_ids'],
    outputs: [],
    values: new Map(),
    initializers: new Map(),
  };
  g.values.set('input_ids', { dtype: DT.INT64, shape: ['batch', seq] });
  for (const t of gpt2Tensors(c)) {
    const w = weights.get(t.name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (!w || w.length !== n) throw new Error(`weight ${t.name}: expected ${n} values, got ${w?.length ?? 'none'}`);
    g.initializers.set(t.name, {
      name: t.name,
      dataType: DT.FLOAT,
      dims: t.shape,
      rawData: new Uint8Array(w.buffer, w.byteOffset, w.byteLength),
    });
    g.values.set(t.name, { dtype: DT.FLOAT, shape: t.shape });
  }
  const b = new Builder(g, 'gpt2');
  const F = DT.FLOAT;
  const d = c.d,
    H = c.heads,
    hd = d / H;
  const f = (v: number) => b.scalar(v, F);
  const layerNorm = (x: string, p: string) => {
    const xc = b.sub(x, b.reduceMean(x, [-1], true));
    const inv = b.op('Sqrt', [b.add(b.reduceMean(b.mul(xc, xc), [-1], true), f(c.eps))]);
    return b.add(b.mul(b.div(xc, inv), `${p}.weight`), `${p}.bias`);
  };
  const linear = (x: string, p: string) => b.add(b.matmul(x, `${p}.weight`), `${p}.bias`);
  const geluNew = (x: string) => {
    const inner = b.mul(f(Math.sqrt(2 / Math.PI)), b.add(x, b.mul(f(0.044715), b.mul(x, b.mul(x, x)))));
    return b.mul(b.mul(f(0.5), x), b.add(f(1), b.op('Tanh', [inner])));
  };
  const causal = b.constant(
    DT.BOOL,
    [seq, seq],
    Array.from({ length: seq * seq }, (_, i) => (i % seq <= Math.floor(i / seq) ? 1 : 0)),
  );
  const minF32 = f(-3.4028234663852886e38); // HF fills masked scores with finfo(float32).min
  const positions = b.constant(
    DT.INT64,
    [seq],
    Array.from({ length: seq }, (_, i) => i),
  );
  let h = b.add(
    b.op('Gather', ['transformer.wte.weight', 'input_ids'], { axis: 0 }),
    b.op('Gather', ['transformer.wpe.weight', positions], { axis: 0 }),
  );
  for (let i = 0; i < c.layers; i++) {
    const p = `transformer.h.${i}.`;
    const qkv = linear(layerNorm(h, `${p}ln_1`), `${p}attn.c_attn`);
    const [q, k, v] = b.opN('Split', [qkv, b.i64([d, d, d])], 3, { axis: 2 });
    const heads = (x: string, perm: number[]) => b.transpose(b.reshape(x, b.i64([-1, seq, H, hd])), perm);
    const scores = b.mul(b.matmul(heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])), f(1 / Math.sqrt(hd)));
    const probs = b.op('Softmax', [b.where(causal, scores, minF32)], { axis: -1 });
    const ctx = b.reshape(b.transpose(b.matmul(probs, heads(v, [0, 2, 1, 3])), [0, 2, 1, 3]), b.i64([-1, seq, d]));
    h = b.add(h, linear(ctx, `${p}attn.c_proj`));
    h = b.add(h, linear(geluNew(linear(layerNorm(h, `${p}ln_2`), `${p}mlp.c_fc`)), `${p}mlp.c_proj`));
  }
  const hf = layerNorm(h, 'transformer.ln_f');
  b.op('MatMul', [hf, b.transpose('transformer.wte.weight', [1, 0])], undefined, 'logits');
  g.outputs = ['logits'];
  return g;
}

export function gpt2OnnxBytes(c: Gpt2Config, seq: number, weights: ReadonlyMap<string, Float32Array>): Uint8Array {
  return onnx.ModelProto.encode(graphToModel(gpt2Graph(c, seq, weights), 'weightscope bench/gpu/gpt2-graph.ts')).finish();
}

/** Seeded random GPT-2 weights: N(0, 0.02²) matrices, LayerNorm weights 1, biases 0 (as bench/gpt2-small.ts). */
export function randomGpt2Weights(c: Gpt2Config, seed: number): Map<string, Float32Array> {
  const fill = gaussianFiller(seed);
  const out = new Map<string, Float32Array>();
  for (const t of gpt2Tensors(c)) {
    const w = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    if (t.shape.length > 1) fill(w, 0.02);
    else if (t.name.endsWith('.weight')) w.fill(1);
    out.set(t.name, w);
  }
  return out;
}

/** Seeded uniform tokens in [0, vocab), int64 [batch, seq]. */
export function randomTokens(vocab: number, batch: number, seq: number, seed: number): BigInt64Array {
  const rng = new Rng(seed);
  return BigInt64Array.from({ length: batch * seq }, () => BigInt(rng.int(vocab)));
}

/** Writes the GPT-2-small-shaped folder (see the header). Returns the parameter count. */
export async function writeGpt2SmallFolder(dir: string, seq: number, batch: number, seed: number): Promise<number> {
  const c = GPT2_SMALL;
  mkdirSync(dir, { recursive: true });
  const w = randomGpt2Weights(c, seed);
  await writeFile(join(dir, 'model.onnx'), gpt2OnnxBytes(c, seq, w));
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    [...w].map(([name, a]) => ({
      name,
      dtype: 'F32' as const,
      shape: gpt2Tensors(c).find((t) => t.name === name)!.shape,
      data: new Uint8Array(a.buffer),
    })),
    { format: 'pt', generator: 'weightscope bench/gpu/gpt2-graph.ts' },
  );
  const x = randomTokens(c.vocab, batch, seq, seed);
  await writeSafetensors(join(dir, 'lm_batch.safetensors'), [
    { name: 'x', dtype: 'I64', shape: [batch, seq], data: new Uint8Array(x.buffer) },
  ]);
  const hf = {
    vocab_size: c.vocab,
    n_positions: c.positions,
    n_embd: c.d,
    n_layer: c.layers,
    n_head: c.heads,
    layer_norm_epsilon: c.eps,
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    tie_word_embeddings: true,
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(hf, null, 1) + '\n');
  let params = 0;
  for (const a of w.values()) params += a.length;
  return params;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      seq: { type: 'string', default: '128' },
      batch: { type: 'string', default: '8' },
      seed: { type: 'string', default: '1' },
    },
  });
  if (!values.out) throw new Error('--out DIR is required');
  const t0 = performance.now();
  const n = await writeGpt2SmallFolder(values.out, Number(values.seq), Number(values.batch), Number(values.seed));
  console.log(JSON.stringify({ dir: values.out, params: n, seconds: (performance.now() - t0) / 1000 }));
}
