/**
 * config.json + checkpoint → the forward graph in standard ONNX ops, the checkpoint's tensors as its parameters
 * (float32 initializers named as in the file). The graph's one input is described by its InputLayout (inputs.ts) and
 * its one output is `logits`. No export step: the graph is built from the config with the graph library's Builder.
 */
import { WeightscopeError } from '../errors.js';
import { Builder } from '../graph/builder.js';
import { DT, emptyGraph, graphToModel, type Graph } from '../graph/ir.js';
import type { onnx, ModelProto } from '../io/onnx-model.js';
import type { TensorReader } from '../io/types.js';
import { buildBert } from './bert.js';
import { CheckpointBinder, type BoundParam, type TiedCopy } from './checkpoint.js';
import { readArchConfig, type ArchConfig, type Json } from './config.js';
import { buildGpt2 } from './gpt2.js';
import { ENCODER_ROWS, MASKED_LM_ROWS, type InputLayout } from './inputs.js';
import { buildLlama } from './llama.js';
import { buildVit } from './vit.js';

export { readArchConfig, SUPPORTED_MODEL_TYPES, SUPPORTED_HINT, ARCHITECTURES } from './config.js';
export type { ArchConfig, Task, ModelType, Json } from './config.js';
export type { InputLayout, EncoderRow } from './inputs.js';
export { ENCODER_ROWS, MASKED_LM_ROWS } from './inputs.js';
export type { BoundParam, TiedCopy } from './checkpoint.js';

/** ONNX opset of the built graphs (LayerNormalization is a standard op from 17). */
const OPSET = 17;
export const LOGITS = 'logits';

export interface ArchitectureGraph {
  readonly config: ArchConfig;
  /** The forward graph with every parameter as a float32 initializer. */
  readonly model: ModelProto;
  readonly layout: InputLayout;
  /** Parameters in graph order, named as in the checkpoint. */
  readonly params: readonly BoundParam[];
  /** Tensors of the file that transformers ties to a parameter (written back as copies of it). */
  readonly tied: readonly TiedCopy[];
}

/** The input a config's graph takes (the service's fit checks ask before any weight is read). */
export function inputLayoutOf(config: Json): InputLayout {
  return layoutOf(readArchConfig(config));
}

function layoutOf(c: ArchConfig): InputLayout {
  switch (c.modelType) {
    case 'gpt2':
      return { kind: 'tokens', name: 'input_ids', vocab: c.vocab, maxSeq: c.positions };
    case 'llama':
    case 'mistral':
    case 'qwen2':
      return { kind: 'tokens', name: 'input_ids', vocab: c.vocab, maxSeq: null };
    case 'bert':
    case 'roberta':
      return {
        kind: 'encoder',
        name: 'encoder_inputs',
        rows: c.task === 'masked-lm' ? MASKED_LM_ROWS : ENCODER_ROWS,
        vocab: c.vocab,
        typeVocab: c.typeVocab,
        // RoBERTa's positions start after padding_idx.
        maxSeq: c.paddingIdx !== null ? c.positions - c.paddingIdx - 1 : c.positions,
      };
    case 'vit':
      return { kind: 'pixels', name: 'pixel_values', channels: c.channels, size: c.imageSize };
  }
}

/** The graph (no parameter values yet) of `config` over the tensors `reader` lists. */
export function planArchitecture(
  config: Json,
  tensors: TensorReader['tensors'],
): { config: ArchConfig; graph: Graph; layout: InputLayout; binder: CheckpointBinder } {
  const c = readArchConfig(
    config,
    tensors.map((t) => t.name),
  );
  const g = emptyGraph(c.architecture, OPSET);
  const layout = layoutOf(c);
  const binder = new CheckpointBinder(tensors, c.prefix, g, `${c.architecture} (config.json)`);
  const b = new Builder(g, 'hf');
  let logits: string;
  switch (layout.kind) {
    case 'tokens':
      g.inputs.push(layout.name);
      g.values.set(layout.name, { dtype: DT.INT64, shape: ['batch', 'sequence'] });
      logits =
        c.modelType === 'gpt2'
          ? buildGpt2(b, binder, c, layout.name)
          : buildLlama(b, binder, c as Extract<ArchConfig, { modelType: 'llama' }>, layout.name);
      break;
    case 'encoder':
      g.inputs.push(layout.name);
      g.values.set(layout.name, { dtype: DT.INT64, shape: ['batch', layout.rows.length, 'sequence'] });
      logits = buildBert(b, binder, c as Extract<ArchConfig, { modelType: 'bert' }>, layout.name, layout.rows);
      break;
    case 'pixels':
      g.inputs.push(layout.name);
      g.values.set(layout.name, { dtype: DT.FLOAT, shape: ['batch', layout.channels, layout.size, layout.size] });
      logits = buildVit(b, binder, c as Extract<ArchConfig, { modelType: 'vit' }>, layout.name);
      break;
    default:
      throw new WeightscopeError('invalid-input', 'no graph for a raw input layout');
  }
  b.op('Identity', [logits], undefined, LOGITS);
  g.outputs = [LOGITS];
  return { config: c, graph: g, layout, binder };
}

/** One parameter's values as a float32 ONNX tensor: F32 bytes as stored, other float dtypes widened (F64 rounded). */
async function initializer(reader: TensorReader, p: BoundParam): Promise<onnx.ITensorProto> {
  const raw =
    p.dtype === 'F32' ? await reader.readBytes(p.name) : new Uint8Array(Float32Array.from(await reader.readFloat64(p.name)).buffer);
  return { name: p.name, dataType: DT.FLOAT, dims: [...p.shape], rawData: raw };
}

/** The forward graph of a Hugging Face model from its config.json and checkpoint, parameters loaded. */
export async function buildArchitecture(config: Json, reader: TensorReader): Promise<ArchitectureGraph> {
  const { config: c, graph, layout, binder } = planArchitecture(config, reader.tensors);
  const params = binder.params;
  for (const p of params) graph.initializers.set(p.name, await initializer(reader, p));
  // Parameters are initializers, not inputs (the graph library lists them as inputs only in derived graphs).
  graph.inputs = graph.inputs.filter((n) => !graph.initializers.has(n));
  const model = graphToModel(graph, 'weightscope architectures');
  declareLogits(model, c);
  return { config: c, model, layout, params, tied: binder.tied };
}

/** The logits' static last axis (vocabulary or classes), so the runtime can check labels and tokens against it. */
function declareLogits(model: ModelProto, c: ArchConfig): void {
  const width =
    c.modelType === 'vit' || (c.task !== 'causal-lm' && c.task !== 'masked-lm')
      ? (c as { labels: readonly string[] }).labels.length
      : (c as { vocab: number }).vocab;
  const rank = c.task === 'causal-lm' ? 3 : 2;
  const dims = [{ dimParam: 'batch' }, ...(rank === 3 ? [{ dimParam: 'sequence' }] : []), { dimValue: width }];
  const out = model.graph?.output?.[0];
  if (out) out.type = { tensorType: { elemType: DT.FLOAT, shape: { dim: dims } } };
}
