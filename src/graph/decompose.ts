/**
 * Rewrite composite ops into primitive ones that have gradient rules (Gelu, LayerNormalization,
 * BatchNormalization, Dropout), and infer every value's dtype/shape on the way. The rewritten graph computes the
 * same function; gradients then come from the primitives' rules.
 */
import { WeightscopeError } from '../errors.js';
import { Builder } from './builder.js';
import { attrFloat, attrInt, attrString, DT, makeTensor, type GNode, type Graph } from './ir.js';

type Decomposer = (b: Builder, node: GNode) => void;

/** Bind the computed value to the node's original output name. */
function bind(b: Builder, value: string, name: string): void {
  if (name) b.op('Identity', [value], undefined, name);
}

const gelu: Decomposer = (b, node) => {
  const [x] = node.inputs;
  const c = (v: number): string => b.scalarLike(x, v);
  const approx = attrString(node, 'approximate', 'none');
  let inner: string;
  if (approx === 'tanh') {
    const cube = b.mul(b.mul(x, x), x);
    inner = b.op('Tanh', [b.mul(c(Math.sqrt(2 / Math.PI)), b.add(x, b.mul(c(0.044715), cube)))]);
  } else {
    inner = b.op('Erf', [b.mul(x, c(Math.SQRT1_2))]);
  }
  bind(b, b.mul(b.mul(c(0.5), x), b.add(c(1), inner)), node.outputs[0]);
};

const layerNorm: Decomposer = (b, node) => {
  const [x, scale, bias] = node.inputs;
  const r = b.rank(x, `LayerNormalization (node '${node.name}')`);
  let axis = attrInt(node, 'axis', -1);
  if (axis < 0) axis += r;
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
};

const batchNorm: Decomposer = (b, node) => {
  const [x, scale, bias, mean, variance] = node.inputs;
  const r = b.rank(x, `BatchNormalization (node '${node.name}')`);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const momentum = attrFloat(node, 'momentum', 0.9);
  // opset ≥ 14: training_mode attribute; older opsets signal training by asking for the statistics outputs.
  const training = b.opset >= 14 ? attrInt(node, 'training_mode', 0) === 1 : node.outputs.slice(1).some((o) => o);
  const chan = (t: string): string => b.unsqueeze(t, Array.from({ length: r - 2 }, (_, i) => i + 1));
  let m: string, v: string;
  if (training) {
    const axes = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
    const mk = b.reduceMean(x, axes, true);
    const dk = b.sub(x, mk);
    const vk = b.reduceMean(b.mul(dk, dk), axes, true);
    m = mk; v = vk;
    const flat = (t: string): string => b.reshape(t, b.i64([-1]));
    const run = (old: string, cur: string): string =>
      b.add(b.mul(old, b.scalarLike(x, momentum)), b.mul(flat(cur), b.scalarLike(x, 1 - momentum)));
    if (node.outputs[1]) bind(b, run(mean, mk), node.outputs[1]);
    if (node.outputs[2]) bind(b, run(variance, vk), node.outputs[2]);
  } else {
    m = chan(mean); v = chan(variance);
  }
  const y = b.add(b.mul(b.div(b.sub(x, m), b.op('Sqrt', [b.add(v, b.scalarLike(x, eps))])), chan(scale)), chan(bias));
  bind(b, y, node.outputs[0]);
};

const dropout: Decomposer = (b, node) => {
  // Evaluation semantics: identity, mask all true.
  bind(b, node.inputs[0], node.outputs[0]);
  if (node.outputs[1]) {
    b.op('ConstantOfShape', [b.shape(node.inputs[0])], { value: { t: makeTensor('', DT.BOOL, [1], [1]) } }, node.outputs[1]);
  }
};

const DECOMPOSERS: Record<string, Decomposer> = {
  Gelu: gelu,
  'com.microsoft:Gelu': gelu,
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
  Dropout: dropout,
};

/** A copy of g's node list with composite ops decomposed and every value's info inferred. */
export function decomposeAndInfer(g: Graph): void {
  const old = g.nodes;
  g.nodes = [];
  const b = new Builder(g, 'ws_fwd');
  for (const node of old) {
    const key = node.domain ? `${node.domain}:${node.opType}` : node.opType;
    const d = DECOMPOSERS[key];
    if (d) {
      try {
        d(b, node);
      } catch (e) {
        if (e instanceof WeightscopeError) throw e;
        throw new WeightscopeError('unsupported-op', `cannot decompose ${key} node '${node.name}': ${(e as Error).message}`);
      }
    } else b.addNode(node);
  }
}
