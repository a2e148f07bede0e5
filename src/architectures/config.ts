/**
 * config.json → the facts a forward graph needs, per family, with Hugging Face transformers' defaults for absent keys
 * (configuration_gpt2.py, configuration_llama.py / _mistral.py / _qwen2.py, configuration_bert.py / _roberta.py,
 * configuration_vit.py). Anything a graph here would compute differently from transformers is refused by name rather
 * than approximated: an unknown `model_type`, a head class outside the list, a RoPE scaling type other than linear and
 * llama3, relative position embeddings, cross-attention, regression heads.
 *
 * Over 400 lines because it is one table of per-family defaults and refusals, read beside transformers' files.
 */
import { WeightscopeError } from '../errors.js';

export const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'mistral', 'qwen2', 'bert', 'roberta', 'vit'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** What the head computes; decides the loss and the data a model takes. */
export type Task = 'causal-lm' | 'sequence-classification' | 'masked-lm' | 'image-classification';

/** The head classes supported per model_type and the task each computes. */
export const ARCHITECTURES: Readonly<Record<string, { readonly modelType: ModelType; readonly task: Task }>> = {
  GPT2LMHeadModel: { modelType: 'gpt2', task: 'causal-lm' },
  LlamaForCausalLM: { modelType: 'llama', task: 'causal-lm' },
  MistralForCausalLM: { modelType: 'mistral', task: 'causal-lm' },
  Qwen2ForCausalLM: { modelType: 'qwen2', task: 'causal-lm' },
  BertForSequenceClassification: { modelType: 'bert', task: 'sequence-classification' },
  BertForMaskedLM: { modelType: 'bert', task: 'masked-lm' },
  RobertaForSequenceClassification: { modelType: 'roberta', task: 'sequence-classification' },
  RobertaForMaskedLM: { modelType: 'roberta', task: 'masked-lm' },
  ViTForImageClassification: { modelType: 'vit', task: 'image-classification' },
};

/** The one sentence every refusal of an architecture ends with. */
export const SUPPORTED_HINT =
  `supported: model_type ${SUPPORTED_MODEL_TYPES.join(', ')} with heads ${Object.keys(ARCHITECTURES).join(', ')}; ` +
  'any other model runs through an ONNX export of it (pass the .onnx file, or a folder whose onnx/ holds model.onnx)';

export type Json = Record<string, unknown>;

function bad(msg: string): WeightscopeError {
  return new WeightscopeError('invalid-input', `config.json: ${msg}`);
}

/** A config field: its value, or `dflt` when absent (null counts as absent, as transformers' `or` defaults do). */
function num(c: Json, key: string, dflt?: number, opts: { int?: boolean; positive?: boolean } = { int: true, positive: true }): number {
  const v = c[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw bad(`'${key}' is required`);
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`'${key}' must be a number, got ${JSON.stringify(v)}`);
  if (opts.int && !Number.isSafeInteger(v)) throw bad(`'${key}' must be an integer, got ${v}`);
  if (opts.positive && !(v > 0)) throw bad(`'${key}' must be positive, got ${v}`);
  return v;
}
const real = (c: Json, key: string, dflt: number): number => num(c, key, dflt, { int: false, positive: true });

function bool(c: Json, key: string, dflt: boolean): boolean {
  const v = c[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw bad(`'${key}' must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function str(c: Json, key: string, dflt: string): string {
  const v = c[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string') throw bad(`'${key}' must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** Activation names transformers' ACT2FN maps to functions the graph builds exactly. */
export const ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu', 'silu', 'swish', 'tanh'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

function activation(c: Json, key: string, dflt: string): Activation {
  const a = str(c, key, dflt);
  if (!(ACTIVATIONS as readonly string[]).includes(a)) throw bad(`${key} '${a}' is not supported (supported: ${ACTIVATIONS.join(', ')})`);
  return a as Activation;
}

/** Classes of a classification head: id2label's size (as PretrainedConfig derives num_labels), else num_labels, else 2. */
export function labelNames(c: Json): string[] {
  const id2label = c.id2label;
  if (id2label && typeof id2label === 'object' && !Array.isArray(id2label)) {
    const entries = Object.entries(id2label as Record<string, unknown>);
    const names: string[] = new Array<string>(entries.length);
    for (const [k, v] of entries) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= entries.length || names[i] !== undefined) {
        throw bad(`id2label keys must be the class indices 0..${entries.length - 1}, got '${k}'`);
      }
      names[i] = String(v);
    }
    return names;
  }
  const n = num(c, 'num_labels', 2);
  return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
}

interface Common {
  readonly modelType: ModelType;
  readonly architecture: string;
  readonly task: Task;
  /** Prefix of the base model's tensor names (from_pretrained's base_model_prefix). */
  readonly prefix: string;
}

export interface Gpt2Config extends Common {
  readonly modelType: 'gpt2';
  readonly vocab: number;
  readonly positions: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly inner: number;
  readonly act: Activation;
  readonly eps: number;
  readonly scaleAttn: boolean;
  readonly scaleByLayer: boolean;
  /** lm_head reads wte (PretrainedConfig's default tie_word_embeddings = true). */
  readonly tied: boolean;
}

export type RopeScaling =
  | { readonly type: 'default' }
  | { readonly type: 'linear'; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMax: number;
    };

export interface LlamaConfig extends Common {
  readonly modelType: 'llama' | 'mistral' | 'qwen2';
  readonly vocab: number;
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly act: Activation;
  readonly eps: number;
  readonly ropeTheta: number;
  readonly rope: RopeScaling;
  readonly qkvBias: boolean;
  readonly oBias: boolean;
  readonly mlpBias: boolean;
  readonly tied: boolean;
  /** Per layer: the sliding window (keys within the last W positions), or null for full causal attention. */
  readonly windows: readonly (number | null)[];
}

export interface BertConfig extends Common {
  readonly modelType: 'bert' | 'roberta';
  readonly vocab: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly intermediate: number;
  readonly act: Activation;
  readonly positions: number;
  readonly typeVocab: number;
  readonly eps: number;
  /** RoBERTa: positions count from padding_idx + 1 over non-padding tokens. */
  readonly paddingIdx: number | null;
  readonly labels: readonly string[];
  /** Masked-LM decoder reads the word embeddings (tie_word_embeddings, default true). */
  readonly tied: boolean;
}

export interface VitConfig extends Common {
  readonly modelType: 'vit';
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly intermediate: number;
  readonly act: Activation;
  readonly eps: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly channels: number;
  readonly qkvBias: boolean;
  readonly labels: readonly string[];
}

export type ArchConfig = Gpt2Config | LlamaConfig | BertConfig | VitConfig;

/** The head class: config.architectures[0], or the one a model_type implies when there is a single choice. */
function headOf(c: Json, modelType: ModelType, tensorNames: readonly string[]): { architecture: string; task: Task } {
  const archs = c.architectures;
  if (Array.isArray(archs) && archs.length > 0) {
    const a = String(archs[0]);
    const known = ARCHITECTURES[a];
    if (!known) throw new WeightscopeError('unsupported-op', `architecture ${a} is not supported; ${SUPPORTED_HINT}`, { architecture: a });
    if (known.modelType !== modelType) throw bad(`architecture ${a} does not belong to model_type '${modelType}'`);
    return { architecture: a, ...known };
  }
  // No `architectures` (a base-model save): the causal LMs and ViT have one head here; encoders show theirs in the file.
  const implied: Partial<Record<ModelType, string>> = {
    gpt2: 'GPT2LMHeadModel',
    llama: 'LlamaForCausalLM',
    mistral: 'MistralForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
    vit: 'ViTForImageClassification',
  };
  let a = implied[modelType];
  if (!a && (modelType === 'bert' || modelType === 'roberta')) {
    const cls = modelType === 'bert' ? 'Bert' : 'Roberta';
    if (tensorNames.some((n) => n.startsWith('classifier.'))) a = `${cls}ForSequenceClassification`;
    else if (tensorNames.some((n) => n.startsWith('cls.predictions.') || n.startsWith('lm_head.'))) a = `${cls}ForMaskedLM`;
  }
  if (!a) throw bad(`no 'architectures' entry and no head in the checkpoint to tell which ${modelType} head it is; ${SUPPORTED_HINT}`);
  return { architecture: a, ...ARCHITECTURES[a] };
}

function ropeScaling(c: Json): RopeScaling {
  const rs = c.rope_scaling;
  if (rs === undefined || rs === null) return { type: 'default' };
  if (typeof rs !== 'object' || Array.isArray(rs)) throw bad(`rope_scaling must be an object, got ${JSON.stringify(rs)}`);
  const r = rs as Json;
  const type = str(r, 'rope_type', str(r, 'type', 'default'));
  if (type === 'default') return { type: 'default' };
  if (type === 'linear') return { type, factor: real(r, 'factor', NaN) };
  if (type === 'llama3') {
    return {
      type,
      factor: real(r, 'factor', NaN),
      lowFreqFactor: real(r, 'low_freq_factor', NaN),
      highFreqFactor: real(r, 'high_freq_factor', NaN),
      originalMax: num(r, 'original_max_position_embeddings'),
    };
  }
  throw new WeightscopeError('unsupported-op', `config.json: rope_scaling type '${type}' is not supported (supported: linear, llama3)`, {
    rope_type: type,
  });
}

/** Per-layer attention windows of Mistral (one window everywhere) and Qwen2 (layer_types, or max_window_layers). */
function windows(c: Json, modelType: LlamaConfig['modelType'], layers: number): (number | null)[] {
  const full = Array.from({ length: layers }, (): number | null => null);
  if (modelType === 'llama') return full;
  const w = c.sliding_window;
  if (w === undefined || w === null) return full;
  const size = num(c, 'sliding_window');
  if (modelType === 'mistral') return full.map(() => size);
  if (!bool(c, 'use_sliding_window', false)) return full;
  const types = c.layer_types;
  if (Array.isArray(types)) {
    if (types.length !== layers) throw bad(`layer_types has ${types.length} entries for ${layers} layers`);
    return types.map((t) => (t === 'sliding_attention' ? size : null));
  }
  const from = num(c, 'max_window_layers', 28, { int: true, positive: false });
  return full.map((_, i) => (i >= from ? size : null));
}

function readGpt2(c: Json, head: { architecture: string; task: Task }): Gpt2Config {
  if (bool(c, 'add_cross_attention', false))
    throw new WeightscopeError('unsupported-op', 'config.json: GPT-2 with cross-attention is not supported');
  const hidden = num(c, 'n_embd', typeof c.hidden_size === 'number' ? (c.hidden_size as number) : 768);
  const heads = num(c, 'n_head', typeof c.num_attention_heads === 'number' ? (c.num_attention_heads as number) : 12);
  if (hidden % heads !== 0) throw bad(`n_embd ${hidden} is not divisible by n_head ${heads}`);
  return {
    modelType: 'gpt2',
    ...head,
    prefix: 'transformer',
    vocab: num(c, 'vocab_size', 50257),
    positions: num(c, 'n_positions', typeof c.max_position_embeddings === 'number' ? (c.max_position_embeddings as number) : 1024),
    hidden,
    layers: num(c, 'n_layer', typeof c.num_hidden_layers === 'number' ? (c.num_hidden_layers as number) : 12),
    heads,
    inner: num(c, 'n_inner', 4 * hidden),
    act: activation(c, 'activation_function', 'gelu_new'),
    eps: real(c, 'layer_norm_epsilon', 1e-5),
    scaleAttn: bool(c, 'scale_attn_weights', true),
    scaleByLayer: bool(c, 'scale_attn_by_inverse_layer_idx', false),
    tied: bool(c, 'tie_word_embeddings', true),
  };
}

function readLlama(c: Json, modelType: LlamaConfig['modelType'], head: { architecture: string; task: Task }): LlamaConfig {
  const hidden = num(c, 'hidden_size');
  const heads = num(c, 'num_attention_heads');
  const kvHeads = num(c, 'num_key_value_heads', heads);
  if (heads % kvHeads !== 0) throw bad(`num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const headDim = num(c, 'head_dim', Math.floor(hidden / heads));
  const prf = c.partial_rotary_factor;
  if (prf !== undefined && prf !== null && prf !== 1) {
    throw new WeightscopeError('unsupported-op', `config.json: partial_rotary_factor ${JSON.stringify(prf)} is not supported (only 1)`);
  }
  const layers = num(c, 'num_hidden_layers');
  const attnBias = modelType === 'llama' && bool(c, 'attention_bias', false);
  return {
    modelType,
    ...head,
    prefix: 'model',
    vocab: num(c, 'vocab_size'),
    hidden,
    intermediate: num(c, 'intermediate_size'),
    layers,
    heads,
    kvHeads,
    headDim,
    act: activation(c, 'hidden_act', 'silu'),
    eps: real(c, 'rms_norm_eps', 1e-6),
    ropeTheta: real(c, 'rope_theta', 10000),
    rope: ropeScaling(c),
    // Qwen2 always has q/k/v biases and no o_proj bias; Llama's attention_bias covers all four; Mistral has none.
    qkvBias: modelType === 'qwen2' || attnBias,
    oBias: attnBias,
    mlpBias: modelType === 'llama' && bool(c, 'mlp_bias', false),
    tied: bool(c, 'tie_word_embeddings', false),
    windows: windows(c, modelType, layers),
  };
}

function readBert(c: Json, modelType: 'bert' | 'roberta', head: { architecture: string; task: Task }): BertConfig {
  const pet = str(c, 'position_embedding_type', 'absolute');
  if (pet !== 'absolute')
    throw new WeightscopeError('unsupported-op', `config.json: position_embedding_type '${pet}' is not supported (only absolute)`);
  if (bool(c, 'is_decoder', false))
    throw new WeightscopeError('unsupported-op', `config.json: ${modelType} as a decoder (is_decoder) is not supported`);
  const labels = labelNames(c);
  if (head.task === 'sequence-classification') {
    const pt = str(c, 'problem_type', 'single_label_classification');
    if (pt !== 'single_label_classification' || labels.length < 2) {
      throw new WeightscopeError(
        'unsupported-op',
        `config.json: problem_type '${pt}' with ${labels.length} label(s) is not supported (single-label classification with ≥ 2 labels only)`,
      );
    }
  }
  const hidden = num(c, 'hidden_size', 768);
  const heads = num(c, 'num_attention_heads', 12);
  if (hidden % heads !== 0) throw bad(`hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  return {
    modelType,
    ...head,
    prefix: modelType,
    vocab: num(c, 'vocab_size', modelType === 'bert' ? 30522 : 50265),
    hidden,
    layers: num(c, 'num_hidden_layers', 12),
    heads,
    intermediate: num(c, 'intermediate_size', 3072),
    act: activation(c, 'hidden_act', 'gelu'),
    positions: num(c, 'max_position_embeddings', 512),
    typeVocab: num(c, 'type_vocab_size', 2),
    eps: real(c, 'layer_norm_eps', 1e-12),
    paddingIdx: modelType === 'roberta' ? num(c, 'pad_token_id', 1, { int: true, positive: false }) : null,
    labels,
    tied: bool(c, 'tie_word_embeddings', true),
  };
}

function readVit(c: Json, head: { architecture: string; task: Task }): VitConfig {
  const hidden = num(c, 'hidden_size', 768);
  const heads = num(c, 'num_attention_heads', 12);
  if (hidden % heads !== 0) throw bad(`hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  const labels = labelNames(c);
  const pt = str(c, 'problem_type', 'single_label_classification');
  if (pt !== 'single_label_classification' || labels.length < 2) {
    throw new WeightscopeError(
      'unsupported-op',
      `config.json: problem_type '${pt}' with ${labels.length} label(s) is not supported (single-label classification with ≥ 2 labels only)`,
    );
  }
  const imageSize = num(c, 'image_size', 224);
  const patchSize = num(c, 'patch_size', 16);
  if (patchSize > imageSize) throw bad(`patch_size ${patchSize} is larger than image_size ${imageSize}`);
  return {
    modelType: 'vit',
    ...head,
    prefix: 'vit',
    hidden,
    layers: num(c, 'num_hidden_layers', 12),
    heads,
    intermediate: num(c, 'intermediate_size', 3072),
    act: activation(c, 'hidden_act', 'gelu'),
    eps: real(c, 'layer_norm_eps', 1e-12),
    imageSize,
    patchSize,
    channels: num(c, 'num_channels', 3),
    qkvBias: bool(c, 'qkv_bias', true),
    labels,
  };
}

/**
 * The architecture of a config.json. `tensorNames` (the checkpoint's) only disambiguate an encoder config without
 * `architectures`.
 */
export function readArchConfig(c: Json, tensorNames: readonly string[] = []): ArchConfig {
  const mt = c.model_type;
  if (typeof mt !== 'string') throw bad(`no 'model_type' (it names the architecture); ${SUPPORTED_HINT}`);
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(mt)) {
    throw new WeightscopeError('unsupported-op', `model_type '${mt}' is not supported; ${SUPPORTED_HINT}`, { model_type: mt });
  }
  const modelType = mt as ModelType;
  const head = headOf(c, modelType, tensorNames);
  switch (modelType) {
    case 'gpt2':
      return readGpt2(c, head);
    case 'llama':
    case 'mistral':
    case 'qwen2':
      return readLlama(c, modelType, head);
    case 'bert':
    case 'roberta':
      return readBert(c, modelType, head);
    case 'vit':
      return readVit(c, head);
  }
}
