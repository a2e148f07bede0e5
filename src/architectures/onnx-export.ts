/**
 * ONNX exports in the Optimum / transformers.js layout (`onnx/model.onnx`, `decoder_model.onnx`,
 * `decoder_model_merged.onnx`) made runnable by the engine, which feeds one data tensor per batch:
 *
 * - the export's inputs are fed what transformers.js feeds on a first forward pass (models/modeling_utils.js:
 *   encoder_forward, decoder_forward, addPastKeyValues): `attention_mask` ones for unpadded tokens (or the packed
 *   row of an encoder's data), `token_type_ids` zeros (or the packed row), `position_ids` = cumsum(mask) − 1 with
 *   masked positions set to 1, each `past_key_values.*` an empty tensor whose symbolic dims are resolved as
 *   transformers.js resolves them (`batch_size` → batch, `batch_size x num_heads` → batch·heads, any other → 0, so
 *   the past length is 0), `use_cache_branch` false, `num_logits_to_keep` 0;
 * - an `If` whose condition is then a constant is replaced by the branch it takes (the merged decoder's
 *   use_cache_branch), and outputs other than the logits (`present.*`) are dropped;
 * - quantized exports (`*_quantized.onnx`, integer or block-quantized MatMuls) and float16 exports are refused:
 *   their weights are not the float32 parameters a Hessian is taken over.
 */
import { WeightscopeError } from '../errors.js';
import { Builder } from '../graph/builder.js';
import { DT, graphFromModel, graphToModel, makeTensor, prune, tensorValues, type GNode, type Graph, type OnnxTensor } from '../graph/ir.js';
import { onnx, tensorProtoBytes, type ModelProto } from '../io/onnx-model.js';
import { dimOf } from './layers.js';
import { ENCODER_ROWS, MASKED_LM_ROWS, type InputLayout } from './inputs.js';
import type { Task } from './config.js';

/** Files an Optimum export may hold, in the order they are chosen. */
export const EXPORT_FILES = ['model.onnx', 'decoder_model.onnx', 'decoder_model_merged.onnx'] as const;

/** Ops of quantized graphs (default domain and onnxruntime's com.microsoft). */
const QUANTIZED_OPS = new Set([
  'MatMulInteger',
  'ConvInteger',
  'QLinearMatMul',
  'QLinearConv',
  'DynamicQuantizeLinear',
  'QuantizeLinear',
  'DequantizeLinear',
  'MatMulNBits',
  'GatherBlockQuantized',
  'DynamicQuantizeMatMul',
  'MatMulIntegerToFloat',
  'QAttention',
  'QGemm',
]);

/** Names of quantized variants Optimum and transformers.js write beside model.onnx. */
export const QUANTIZED_FILE = /_(quantized|q4|q4f16|int8|uint8|bnb4|q8)\.onnx$/i;

function* allNodes(g: onnx.IGraphProto | null | undefined): Generator<onnx.INodeProto> {
  for (const n of g?.node ?? []) {
    yield n;
    for (const a of n.attribute ?? []) {
      yield* allNodes(a.g);
      for (const sub of a.graphs ?? []) yield* allNodes(sub);
    }
  }
}

function* allInitializers(g: onnx.IGraphProto | null | undefined): Generator<onnx.ITensorProto> {
  yield* g?.initializer ?? [];
  for (const n of g?.node ?? []) {
    for (const a of n.attribute ?? []) {
      yield* allInitializers(a.g);
      for (const sub of a.graphs ?? []) yield* allInitializers(sub);
    }
  }
}

/** A clear refusal for a quantized or half-precision export. */
export function refuseQuantized(model: ModelProto, file: string): void {
  if (QUANTIZED_FILE.test(file)) {
    throw new WeightscopeError(
      'unsupported-dtype',
      `${file} is a quantized export: gradients and Hessians need the float32 model (use onnx/model.onnx or the config.json route)`,
    );
  }
  for (const n of allNodes(model.graph)) {
    if (QUANTIZED_OPS.has(n.opType ?? '')) {
      throw new WeightscopeError(
        'unsupported-dtype',
        `${file} is a quantized graph (it uses ${n.opType}): gradients and Hessians need the float32 model (use the config.json route)`,
      );
    }
  }
  for (const t of allInitializers(model.graph)) {
    if (t.dataType === DT.FLOAT16 || t.dataType === 16) {
      throw new WeightscopeError(
        'unsupported-dtype',
        `${file} stores its weights in half precision ('${t.name}'): use the float32 export or the config.json route`,
      );
    }
  }
}

/** Initializers stored in external data files (model.onnx_data) read into the model, so the graph stands alone. */
export async function inlineExternalData(model: ModelProto, baseDir: string): Promise<void> {
  for (const t of allInitializers(model.graph)) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    t.rawData = await tensorProtoBytes(t, baseDir);
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    t.externalData = [];
  }
}

/** What the feeding needs to know beyond the graph: the task (from config.json) and the attention head count. */
export interface ExportContext {
  readonly task: Task | null;
  readonly heads?: number;
  /** For validating token data: vocabulary and token-type sizes when config.json tells them. */
  readonly vocab?: number;
  readonly typeVocab?: number;
}

const PAST = /^past_key_values\./;

/** The one constant value a node output holds, following Identity/Cast; undefined when not a constant. */
function constantOf(g: Graph, name: string): number | undefined {
  const producer = new Map<string, GNode>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  let cur = name;
  for (let hops = 0; hops < 16; hops++) {
    const init = g.initializers.get(cur);
    if (init) return tensorValues(init)?.[0];
    const n = producer.get(cur);
    if (!n) return undefined;
    if (n.opType === 'Identity' || n.opType === 'Cast') {
      cur = n.inputs[0];
      continue;
    }
    if (n.opType === 'Constant') {
      const t = n.attrs.find((a) => a.name === 'value')?.t;
      return t ? tensorValues(t)?.[0] : undefined;
    }
    return undefined;
  }
  return undefined;
}

/** Replace each If with a constant condition by the nodes of the branch it takes. */
export function foldConstantIfs(g: Graph): number {
  let folded = 0;
  for (;;) {
    const i = g.nodes.findIndex((n) => n.opType === 'If' && n.domain === '' && constantOf(g, n.inputs[0]) !== undefined);
    if (i < 0) return folded;
    const node = g.nodes[i];
    const cond = constantOf(g, node.inputs[0]) as number;
    const branch = node.attrs.find((a) => a.name === (cond ? 'then_branch' : 'else_branch'))?.g;
    if (!branch) throw new WeightscopeError('corrupt-file', `If node '${node.name}' has no ${cond ? 'then' : 'else'} branch`);
    g.nodes.splice(i, 1, ...inlineBranch(g, branch, node));
    folded++;
  }
}

/** The branch's nodes, its local names renamed where they would collide with the outer graph's, ending in the If's outputs. */
function inlineBranch(g: Graph, branch: onnx.IGraphProto, node: GNode): GNode[] {
  const taken = new Set<string>([...g.values.keys(), ...g.initializers.keys(), ...g.nodes.flatMap((n) => n.outputs)]);
  const rename = new Map<string, string>();
  const local = (name: string): string => {
    if (!name) return name;
    let n = name;
    for (let k = 0; taken.has(n); k++) n = `${node.name}/${name}${k ? `_${k}` : ''}`;
    taken.add(n);
    rename.set(name, n);
    return n;
  };
  for (const t of branch.initializer ?? []) {
    const n = local(t.name ?? '');
    g.initializers.set(n, { ...t, name: n } as OnnxTensor);
    g.values.set(n, { dtype: t.dataType ?? 0, shape: (t.dims ?? []).map(Number) });
  }
  const out: GNode[] = [];
  for (const [k, n] of (branch.node ?? []).entries()) {
    const hasSubgraph = (n.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length);
    const outputs = (n.output ?? []).map(local);
    if (hasSubgraph && [...rename].some(([a, b]) => a !== b)) {
      throw new WeightscopeError(
        'unsupported-op',
        `If node '${node.name}': a nested subgraph in a branch whose names had to be renamed is not supported`,
      );
    }
    out.push({
      name: `${node.name}/${n.name || `${n.opType}_${k}`}`,
      opType: n.opType ?? '',
      domain: n.domain && n.domain !== 'ai.onnx' ? n.domain : '',
      inputs: (n.input ?? []).map((x) => rename.get(x) ?? x),
      outputs,
      attrs: [...(n.attribute ?? [])],
    });
  }
  (branch.output ?? []).forEach((o, j) => {
    const target = node.outputs[j];
    if (!target) return;
    out.push({
      name: `${node.name}/out_${j}`,
      opType: 'Identity',
      domain: '',
      inputs: [rename.get(o.name ?? '') ?? o.name ?? ''],
      outputs: [target],
      attrs: [],
    });
  });
  return out;
}

export interface AdaptedExport {
  readonly model: ModelProto;
  readonly layout: InputLayout;
  /** The export's inputs and what was fed to each. */
  readonly fed: Readonly<Record<string, string>>;
  readonly foldedIfs: number;
}

/**
 * The export as a graph with one data input and the logits as its one output (see the module comment).
 * `file` names it in messages.
 */
export function adaptExport(model: ModelProto, file: string, ctx: ExportContext): AdaptedExport {
  refuseQuantized(model, file);
  const g = graphFromModel(model);
  const inputs = [...g.inputs];
  const has = (n: string): boolean => inputs.includes(n);
  const logitsName = g.outputs.includes('logits') ? 'logits' : g.outputs[0];
  if (!logitsName) throw new WeightscopeError('invalid-input', `${file}: the graph has no outputs`);
  const decoder =
    inputs.some((n) => PAST.test(n) || n === 'use_cache_branch') || ctx.task === 'causal-lm' || (ctx.task === null && has('position_ids'));
  const fed: Record<string, string> = {};
  let layout: InputLayout;
  const b = new Builder(g, 'ws_feed');
  const before = g.nodes.length;
  const bind = (name: string, value: string, what: string): void => {
    b.op('Identity', [value], undefined, name);
    fed[name] = what;
  };
  // The graph's inputs become values computed from the one data input (input_ids or pixel_values stay inputs).
  const original = new Map(inputs.map((n) => [n, g.values.get(n)]));
  const keep = has('pixel_values') ? 'pixel_values' : decoder && has('input_ids') ? 'input_ids' : null;
  g.inputs = keep ? [keep] : [];
  for (const n of inputs) if (n !== keep) g.values.delete(n);
  if (keep) fed[keep] = 'the data x';
  if (has('pixel_values')) {
    const dims = original.get('pixel_values')?.shape ?? [];
    const channels = typeof dims[1] === 'number' ? dims[1] : 0;
    const size = typeof dims[2] === 'number' ? dims[2] : 0;
    layout = channels && size ? { kind: 'pixels', name: 'pixel_values', channels, size } : { kind: 'raw', name: 'pixel_values' };
    if (has('pixel_mask')) {
      const shape = b.concat([b.slice1(b.shape('pixel_values'), 0, 1), b.slice1(b.shape('pixel_values'), 2, 4)], 0);
      bind(
        'pixel_mask',
        b.op('ConstantOfShape', [shape], { value: { t: makeTensor('', DT.INT64, [1], [1]) } }),
        'ones [batch, height, width]',
      );
    }
  } else if (has('input_ids')) {
    let ids: string;
    let mask: string;
    let types: string | null = null;
    let marker: string | null = null;
    const vocab = ctx.vocab ?? 0;
    if (decoder) {
      layout = { kind: 'tokens', name: 'input_ids', vocab, maxSeq: null };
      ids = 'input_ids';
      mask = b.op('ConstantOfShape', [b.shape(ids)], { value: { t: makeTensor('', DT.INT64, [1], [1]) } });
      fed.attention_mask = 'ones [batch, sequence] (unpadded tokens)';
    } else {
      const rows = ctx.task === 'masked-lm' ? MASKED_LM_ROWS : ENCODER_ROWS;
      const taken =
        original.has('encoder_inputs') || g.values.has('encoder_inputs') || g.nodes.some((n) => n.outputs.includes('encoder_inputs'));
      const data = taken ? b.fresh('encoder_inputs') : 'encoder_inputs';
      g.values.set(data, { dtype: DT.INT64, shape: ['batch', rows.length, 'sequence'] });
      g.inputs.push(data);
      layout = { kind: 'encoder', name: data, rows, vocab, typeVocab: ctx.typeVocab ?? 0, maxSeq: null };
      const row = (k: number): string => b.op('Gather', [data, b.i64Scalar(k)], { axis: 1 });
      ids = row(0);
      mask = row(1);
      types = row(2);
      if (ctx.task === 'masked-lm') marker = row(3);
      fed.attention_mask = 'row 1 of the packed data';
      bind('input_ids', ids, 'row 0 of the packed data');
    }
    if (has('attention_mask')) bind('attention_mask', mask, fed.attention_mask);
    else delete fed.attention_mask;
    if (has('token_type_ids')) {
      bind(
        'token_type_ids',
        types ?? b.op('ConstantOfShape', [b.shape(ids)], { value: { t: makeTensor('', DT.INT64, [1], [0]) } }),
        types ? 'row 2 of the packed data' : 'zeros',
      );
    }
    if (has('position_ids')) {
      // cumsum(mask) − 1, masked positions 1 (create_position_ids); with all-ones masks this is 0..T−1.
      const pos = b.sub(b.op('CumSum', [mask, b.i64Scalar(1)]), b.i64Scalar(1));
      bind('position_ids', b.where(b.op('Equal', [mask, b.i64Scalar(0)]), b.i64Scalar(1), pos), 'cumsum(attention_mask) − 1');
    }
    if (marker) {
      // The masked-LM convention of the config.json route: the logits at the marked position only.
      const out = g.outputs.includes(logitsName) ? logitsName : g.outputs[0];
      g.outputs = [out];
      const sel = b.unsqueeze(b.cast(marker, DT.FLOAT), [2]);
      b.op('ReduceSum', [b.mul(out, sel), b.i64([1])], { keepdims: 0 }, 'logits_at_target');
    }
    const batch = b.unsqueeze(dimOf(b, ids, 0), [0]);
    for (const n of inputs.filter((x) => PAST.test(x))) {
      const info = original.get(n);
      const dims = info?.shape ?? [];
      const parts = dims.map((d) => {
        if (typeof d === 'number') return b.i64([d]);
        if (d === 'batch_size') return batch;
        if (d === 'batch_size x num_heads') {
          if (!ctx.heads)
            throw new WeightscopeError(
              'invalid-input',
              `${file}: input '${n}' has a 'batch_size x num_heads' dim and config.json gives no head count`,
            );
          return b.mul(batch, b.i64([ctx.heads]));
        }
        return b.i64([0]);
      });
      const dtype = info?.dtype ?? DT.FLOAT;
      bind(
        n,
        b.op('ConstantOfShape', [b.concat(parts, 0)], { value: { t: makeTensor('', dtype === DT.FLOAT16 ? DT.FLOAT : dtype, [1], [0]) } }),
        'empty (past length 0)',
      );
    }
    if (has('use_cache_branch')) bind('use_cache_branch', b.constant(DT.BOOL, [1], [0]), 'false');
    if (has('num_logits_to_keep')) bind('num_logits_to_keep', b.i64Scalar(0), '0 (all positions)');
  } else {
    throw new WeightscopeError(
      'invalid-input',
      `${file}: inputs ${inputs.join(', ')} are not an export weightscope can feed (it needs input_ids or pixel_values)`,
    );
  }
  const unfed = inputs.filter((n) => !(n in fed));
  if (unfed.length) {
    throw new WeightscopeError(
      'invalid-input',
      `${file}: input(s) ${unfed.join(', ')} are not among those transformers.js feeds on a first forward pass`,
    );
  }
  // Feeding nodes first, so every node still follows its inputs.
  g.nodes = [...g.nodes.slice(before), ...g.nodes.slice(0, before)];
  const foldedIfs = foldConstantIfs(g);
  const out = g.outputs.includes('logits_at_target') ? 'logits_at_target' : logitsName;
  g.outputs = [out];
  prune(g);
  const adapted = graphToModel(g, 'weightscope onnx-export');
  const decl = [...(model.graph?.output ?? [])].find((o) => o.name === out);
  if (decl?.type && adapted.graph?.output?.[0]) adapted.graph.output[0].type = decl.type;
  return { model: adapted, layout, fed, foldedIfs };
}
