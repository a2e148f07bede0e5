/**
 * ONNX files in the shape Optimum exports them for transformers.js (no Python exporter is available here, so they
 * are built with the graph Builder from the fixtures' weights):
 *
 * - a GPT-2 `decoder_model.onnx`: inputs input_ids [batch_size, sequence_length], attention_mask
 *   [batch_size, past_sequence_length + sequence_length], position_ids [batch_size, sequence_length],
 *   past_key_values.{i}.key/value [batch_size, heads, past_sequence_length, head_dim]; outputs logits and
 *   present.{i}.key/value (the past concatenated with this step's keys and values);
 * - a GPT-2 `decoder_model_merged.onnx`: the same inputs plus use_cache_branch (bool [1]) and one If node whose
 *   then-branch runs with the past and whose else-branch runs without it, both reading the outer graph's weights;
 * - an encoder `model.onnx` (BERT): inputs input_ids, attention_mask, token_type_ids [batch_size, sequence_length].
 *
 * The tests then check that what weightscope feeds them (src/architectures/onnx-export.ts) gives the config.json
 * graph's numbers: every input is used, so a wrong feed would show.
 */
import { Builder } from '../../src/graph/builder.js';
import { DT, emptyGraph, graphFromModel, graphToModel, makeAttrs, type Graph } from '../../src/graph/ir.js';
import type { ModelProto } from '../../src/io/onnx-model.js';
import { activate, attention, dimOf, F32_MIN, layerNorm, linear, mergeHeads, splitHeads } from '../../src/architectures/layers.js';
import type { TestTensor } from './hf-folders.js';

export interface Gpt2Dims {
  vocab: number;
  positions: number;
  hidden: number;
  layers: number;
  heads: number;
  eps: number;
}

const pastName = (i: number, kv: 'key' | 'value') => `past_key_values.${i}.${kv}`;
const presentName = (i: number, kv: 'key' | 'value') => `present.${i}.${kv}`;

function declareDecoderInputs(g: Graph, c: Gpt2Dims, withPast: boolean): void {
  const hd = c.hidden / c.heads;
  const set = (n: string, dtype: number, shape: (number | string)[]) => g.values.set(n, { dtype, shape });
  set('input_ids', DT.INT64, ['batch_size', 'sequence_length']);
  set('attention_mask', DT.INT64, ['batch_size', 'past_sequence_length + sequence_length']);
  set('position_ids', DT.INT64, ['batch_size', 'sequence_length']);
  if (withPast) {
    for (let i = 0; i < c.layers; i++)
      for (const kv of ['key', 'value'] as const) set(pastName(i, kv), DT.FLOAT, ['batch_size', c.heads, 'past_sequence_length', hd]);
  }
}

/** GPT-2 with a kv cache on `b`'s graph (inputs declared already); returns logits and the presents. */
function decoderBody(b: Builder, c: Gpt2Dims, withPast: boolean): { logits: string; presents: string[] } {
  const d = c.hidden;
  const hd = d / c.heads;
  const ids = 'input_ids';
  let h = b.add(b.op('Gather', ['transformer.wte.weight', ids]), b.op('Gather', ['transformer.wpe.weight', 'position_ids']));
  const t = dimOf(b, ids, 1);
  const past = withPast ? dimOf(b, pastName(0, 'key'), 2) : b.i64Scalar(0);
  const rows = b.unsqueeze(b.add(b.op('Range', [b.i64Scalar(0), t, b.i64Scalar(1)]), past), [1]);
  const cols = b.unsqueeze(b.op('Range', [b.i64Scalar(0), b.add(past, t), b.i64Scalar(1)]), [0]);
  const causal = b.where(b.op('Greater', [cols, rows]), b.scalar(F32_MIN, DT.FLOAT), b.scalar(0, DT.FLOAT));
  const pad = b.mul(b.sub(b.scalar(1, DT.FLOAT), b.unsqueeze(b.cast('attention_mask', DT.FLOAT), [1, 2])), b.scalar(F32_MIN, DT.FLOAT));
  const mask = b.add(causal, pad);
  const presents: string[] = [];
  for (let i = 0; i < c.layers; i++) {
    const p = `transformer.h.${i}.`;
    const x = layerNorm(b, h, `${p}ln_1.weight`, `${p}ln_1.bias`, c.eps);
    const qkv = linear(b, x, `${p}attn.c_attn.weight`, `${p}attn.c_attn.bias`, 'in-out');
    let [q, k, v] = b.opN('Split', [qkv, b.i64([d, d, d])], 3, { axis: -1 }).map((s) => splitHeads(b, s, c.heads, hd));
    if (withPast) {
      k = b.concat([pastName(i, 'key'), k], 2);
      v = b.concat([pastName(i, 'value'), v], 2);
    }
    presents.push(b.op('Identity', [k]), b.op('Identity', [v]));
    const a = attention(b, q, k, v, mask, 1 / Math.sqrt(hd), true);
    h = b.add(h, linear(b, mergeHeads(b, a, c.heads, hd), `${p}attn.c_proj.weight`, `${p}attn.c_proj.bias`, 'in-out'));
    const y = layerNorm(b, h, `${p}ln_2.weight`, `${p}ln_2.bias`, c.eps);
    const m = activate(b, linear(b, y, `${p}mlp.c_fc.weight`, `${p}mlp.c_fc.bias`, 'in-out'), 'gelu_new');
    h = b.add(h, linear(b, m, `${p}mlp.c_proj.weight`, `${p}mlp.c_proj.bias`, 'in-out'));
  }
  h = layerNorm(b, h, 'transformer.ln_f.weight', 'transformer.ln_f.bias', c.eps);
  return { logits: linear(b, h, 'transformer.wte.weight', null), presents };
}

function addWeights(g: Graph, weights: ReadonlyMap<string, TestTensor>): void {
  for (const [name, t] of weights) {
    if (t.dtype !== undefined && t.dtype !== 'F32') continue;
    const data = Float32Array.from(t.data);
    g.initializers.set(name, { name, dataType: DT.FLOAT, dims: [...t.shape], rawData: new Uint8Array(data.buffer) });
    g.values.set(name, { dtype: DT.FLOAT, shape: [...t.shape] });
  }
}

/** GPT-2 decoder_model.onnx (with past inputs) from the checkpoint's tensors. */
export function gpt2DecoderExport(c: Gpt2Dims, weights: ReadonlyMap<string, TestTensor>): ModelProto {
  const g = emptyGraph('decoder_model', 17);
  addWeights(g, weights);
  declareDecoderInputs(g, c, true);
  g.inputs = [
    'input_ids',
    'attention_mask',
    'position_ids',
    ...Array.from({ length: c.layers }, (_, i) => [pastName(i, 'key'), pastName(i, 'value')]).flat(),
  ];
  const b = new Builder(g, 'export');
  const { logits, presents } = decoderBody(b, c, true);
  b.op('Identity', [logits], undefined, 'logits');
  presents.forEach((p, k) => b.op('Identity', [p], undefined, presentName(Math.floor(k / 2), k % 2 ? 'value' : 'key')));
  g.outputs = ['logits', ...presents.map((_, k) => presentName(Math.floor(k / 2), k % 2 ? 'value' : 'key'))];
  return graphToModel(g, 'test optimum-like export');
}

/** GPT-2 decoder_model_merged.onnx: one If on use_cache_branch over the with-past and no-past decoders. */
export function gpt2MergedExport(c: Gpt2Dims, weights: ReadonlyMap<string, TestTensor>): ModelProto {
  const g = emptyGraph('decoder_model_merged', 17);
  addWeights(g, weights);
  declareDecoderInputs(g, c, true);
  g.values.set('use_cache_branch', { dtype: DT.BOOL, shape: [1] });
  g.inputs = [
    'input_ids',
    'attention_mask',
    'position_ids',
    ...Array.from({ length: c.layers }, (_, i) => [pastName(i, 'key'), pastName(i, 'value')]).flat(),
    'use_cache_branch',
  ];
  const outs = ['logits', ...Array.from({ length: c.layers }, (_, i) => [presentName(i, 'key'), presentName(i, 'value')]).flat()];
  const branch = (withPast: boolean, prefix: string) => {
    const sub = emptyGraph(prefix, 17);
    // The branch reads the outer graph's inputs and weights by name: seed their types for shape inference only.
    for (const [k, v] of g.values) sub.values.set(k, { ...v });
    const b = new Builder(sub, prefix);
    const { logits, presents } = decoderBody(b, c, withPast);
    sub.outputs = [b.op('Identity', [logits]), ...presents.map((p) => b.op('Identity', [p]))];
    return graphToModel(sub).graph!;
  };
  g.nodes.push({
    name: 'optimum::if',
    opType: 'If',
    domain: '',
    inputs: ['use_cache_branch'],
    outputs: outs,
    attrs: makeAttrs({}).concat([
      { name: 'then_branch', type: 5, g: branch(true, 'then') },
      { name: 'else_branch', type: 5, g: branch(false, 'else') },
    ]),
  });
  for (const o of outs) g.values.set(o, { dtype: DT.FLOAT, shape: null });
  g.outputs = outs;
  return graphToModel(g, 'test optimum-like export');
}

/**
 * An encoder export with Optimum's three inputs, from a graph weightscope built (whose one input packs them):
 * input_ids, attention_mask, token_type_ids are stacked back into that input in front of it.
 */
export function encoderExport(built: ModelProto): ModelProto {
  const g = graphFromModel(built);
  const packed = g.inputs[0];
  const b = new Builder(g, 'export');
  const names = ['input_ids', 'attention_mask', 'token_type_ids'];
  for (const n of names) g.values.set(n, { dtype: DT.INT64, shape: ['batch_size', 'sequence_length'] });
  const before = g.nodes.length;
  const stacked = b.concat(
    names.map((n) => b.unsqueeze(n, [1])),
    1,
  );
  b.op('Identity', [stacked], undefined, packed);
  g.nodes = [...g.nodes.slice(before), ...g.nodes.slice(0, before)];
  g.inputs = names;
  return graphToModel(g, 'test optimum-like export');
}
