/**
 * Many perturbed copies of a model's loss in one onnxruntime run: L(w + s_g·z_k) for D noise draws z_k (every
 * parameter) × G scales s_g, from one graph. The loss graph is copied per (k, g) with its parameters replaced by
 * w + s_g·z_k; what does not depend on the parameters (the data path up to the first weight) is computed once.
 * A first layer that is linear in its weights and reads only data (Gemm, MatMul, Conv) is split exactly:
 * f(x, w + s·z) = f(x, w) + s·f(x, z) (its bias with it), so each draw costs one first-layer product for all G
 * scales, and the unperturbed product is shared by all copies. Built only from Builder's public methods and
 * src/graph's IR; graphs with control-flow subgraphs are refused (the caller evaluates copies one by one then).
 */
import { WeightscopeError } from '../../errors.js';
import { Builder, cloneGraph, graphToModel, LOSS, prune, type GNode, type Graph, type LossGraph } from '../../graph/index.js';
import type { ModelProto } from '../../io/onnx-model.js';

/** Input names of the noise (one per parameter, [D, ...dims]) and the scales ([G]). */
export const noiseInput = (param: string): string => `ws_noise.${param}`;
export const SCALES = 'ws_noise_scales';
export const LOSSES = 'ws_losses';

export interface PerturbedGraph {
  readonly model: ModelProto;
  readonly draws: number;
  readonly scales: number;
  /** Parameters whose first-layer product was split (reported for benchmarks). */
  readonly split: readonly string[];
}

/** Ops linear in their weight (and bias) inputs jointly, when the first input is data. */
const LINEAR_IN_WEIGHT: Record<string, number[]> = { Gemm: [1, 2], MatMul: [1], Conv: [1, 2] };

function hasSubgraph(n: GNode): boolean {
  return n.attrs.some((a) => a.g || (a.graphs && a.graphs.length > 0));
}

/** True when the graph can be copied value by value (no control-flow bodies reading outer names). */
export function copyable(lg: LossGraph): boolean {
  return !lg.graph.nodes.some(hasSubgraph);
}

/**
 * The graph computing `ws_losses` [D·G] (index k·G + g) = the loss at w + scales[g]·noise[k] on the fed data, for
 * D = `draws` and G = `scales`. Inputs: the loss graph's data inputs, its parameters, one noise input per parameter
 * and the scales.
 */
export function perturbedLossGraph(lg: LossGraph, draws: number, scales: number): PerturbedGraph {
  if (!copyable(lg))
    throw new WeightscopeError('unsupported-op', 'the loss graph has control-flow subgraphs; its copies cannot be batched');
  if (!(Number.isInteger(draws) && draws >= 1 && Number.isInteger(scales) && scales >= 1)) {
    throw new WeightscopeError('invalid-input', `draws and scales per run must be positive integers, got ${draws} and ${scales}`);
  }
  const src = lg.graph;
  const g: Graph = cloneGraph(src);
  const original = g.nodes;
  g.nodes = [];
  const b = new Builder(g, 'ws_le');
  const params = new Set(lg.params.map((p) => p.name));
  for (const p of lg.params) {
    const info = src.values.get(p.name)!;
    const name = noiseInput(p.name);
    if (g.values.has(name)) throw new WeightscopeError('invalid-input', `the model already has a value named '${name}'`);
    g.values.set(name, { dtype: info.dtype, shape: [draws, ...(info.shape ?? p.dims)] });
  }
  if (g.values.has(SCALES) || g.values.has(LOSSES))
    throw new WeightscopeError('invalid-input', `the model already has a value named '${SCALES}' or '${LOSSES}'`);
  const dtype = src.values.get(lg.params[0]?.name ?? '')?.dtype ?? 1;
  g.values.set(SCALES, { dtype, shape: [scales] });

  // Values that depend on the parameters (copied per draw and scale); the rest is shared.
  const dep = new Set(params);
  for (const n of original) if (n.inputs.some((x) => x && dep.has(x))) for (const o of n.outputs) if (o) dep.add(o);

  const memo = new Map<string, string>();
  const once = (key: string, make: () => string): string => {
    let v = memo.get(key);
    if (v === undefined) memo.set(key, (v = make()));
    return v;
  };
  const scale = (s: number) => once(`s${s}`, () => b.op('Gather', [SCALES, b.i64Scalar(s)], { axis: 0 }));
  const noise = (p: string, k: number) => once(`z${k}|${p}`, () => b.op('Gather', [noiseInput(p), b.i64Scalar(k)], { axis: 0 }));
  const perturbed = (p: string, k: number, s: number) => once(`w${k}.${s}|${p}`, () => b.add(p, b.mul(noise(p, k), scale(s))));
  const copyName = (v: string, k: number, s: number) => `${v}#${k}.${s}`;
  const rename = (v: string, k: number, s: number): string =>
    !v ? v : params.has(v) ? perturbed(v, k, s) : dep.has(v) ? copyName(v, k, s) : v;

  const split: string[] = [];
  for (const n of original) {
    if (!n.outputs.some((o) => o && dep.has(o))) {
      b.addNode(n);
      continue;
    }
    const slots = n.domain === '' ? LINEAR_IN_WEIGHT[n.opType] : undefined;
    const splittable =
      slots !== undefined &&
      n.outputs.length === 1 &&
      !dep.has(n.inputs[0]) &&
      params.has(n.inputs[1]) &&
      n.inputs.every((x, i) => i === 0 || !x || slots.includes(i)) &&
      n.inputs.every((x, i) => i === 0 || !x || params.has(x) || !dep.has(x));
    if (splittable) {
      const [out] = n.outputs;
      const base = `${out}#base`;
      b.addNode({ ...n, name: `${n.name}#base`, outputs: [base] });
      for (let k = 0; k < draws; k++) {
        // The linear part: noise in every weight slot; a constant bias has no noise and drops out.
        const inputs = n.inputs.map((x, i) => (i === 0 ? x : params.has(x) ? noise(x, k) : ''));
        while (inputs.length > 0 && inputs[inputs.length - 1] === '') inputs.pop();
        const delta = `${out}#delta${k}`;
        b.addNode({ ...n, name: `${n.name}#delta${k}`, inputs, outputs: [delta] });
        for (let s = 0; s < scales; s++) b.op('Add', [base, b.mul(delta, scale(s))], undefined, copyName(out, k, s));
      }
      split.push(n.inputs[1]);
      continue;
    }
    for (let k = 0; k < draws; k++) {
      for (let s = 0; s < scales; s++) {
        b.addNode({
          ...n,
          name: `${n.name}#${k}.${s}`,
          inputs: n.inputs.map((x) => rename(x, k, s)),
          outputs: n.outputs.map((o) => (o ? copyName(o, k, s) : o)),
        });
      }
    }
  }
  const losses: string[] = [];
  for (let k = 0; k < draws; k++) for (let s = 0; s < scales; s++) losses.push(b.reshape(copyName(LOSS, k, s), b.i64([1])));
  b.op('Concat', losses, { axis: 0 }, LOSSES);
  g.inputs = [...g.inputs, ...lg.params.map((p) => noiseInput(p.name)), SCALES];
  g.outputs = [LOSSES];
  prune(g);
  return { model: graphToModel(g), draws, scales, split };
}
