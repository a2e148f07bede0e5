/**
 * Gradient and Hessian-vector-product graphs of a loss graph. Hv = ∇θ⟨∇θ L, v⟩ differentiates the gradient
 * graph a second time (exact, as double backprop); no finite differences.
 */
import { WeightscopeError } from '../errors.js';
import { gradients } from './autodiff.js';
import { Builder } from './builder.js';
import { cloneGraph, graphToModel, isFloatType, prune, type Graph, type OnnxTensor } from './ir.js';
import { LOSS, type LossGraph, type ParamInfo } from './losses.js';
import { lowerInternalOps } from './lower.js';
import { tensorProtoToFloat64, type onnx } from '../io/onnx-model.js';

/** A parameter of a derived graph; graphs built elsewhere (runtime tests, hand-written graphs) may leave out dtype. */
export interface DerivedParam {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dtype?: ParamInfo['dtype'];
}

/** A graph derived from a loss graph — what the runtime runs (it calls this type DiffGraph too). */
export interface DerivedGraph {
  readonly model: onnx.ModelProto;
  readonly params: readonly DerivedParam[];
  /** Graph inputs in order: data inputs (the model's, then `y` for classification), parameters, then (Hv graphs) `v.NAME`. */
  readonly inputs: readonly string[];
  /** 'loss', then 'grad.NAME' and/or 'hv.NAME' (lossModel: the loss graph's outputs). */
  readonly outputs: readonly string[];
}

function declareLike(g: Graph, name: string, like: string): void {
  if (g.values.has(name) && !g.inputs.includes(name))
    throw new WeightscopeError('invalid-input', `the model already has a value named '${name}'`);
  const info = g.values.get(like)!;
  g.values.set(name, { dtype: info.dtype, shape: info.shape ? [...info.shape] : null });
  g.inputs.push(name);
}

function emit(b: Builder, value: string | undefined, like: string, name: string): void {
  if (b.g.values.has(name)) throw new WeightscopeError('invalid-input', `the model already has a value named '${name}'`);
  b.op('Identity', [value ?? b.zerosLike(like)], undefined, name);
}

/** ⟨a, v⟩ summed over pairs, as a scalar. */
function dot(b: Builder, pairs: [string | undefined, string][]): string | undefined {
  let s: string | undefined;
  for (const [a, v] of pairs) {
    if (!a) continue;
    const t = b.op('ReduceSum', [b.mul(a, v)], { keepdims: 0 });
    s = s ? b.add(s, t) : t;
  }
  return s;
}

function finish(g: Graph, lg: LossGraph, outputs: string[]): DerivedGraph {
  g.outputs = outputs;
  lowerInternalOps(g);
  prune(g);
  return { model: graphToModel(g), params: lg.params, inputs: [...g.inputs], outputs };
}

export function buildGradGraph(lg: LossGraph): DerivedGraph {
  const g = cloneGraph(lg.graph);
  const b = new Builder(g, 'ws_grad');
  const names = lg.params.map((p) => p.name);
  const grads = gradients(b, LOSS, names);
  names.forEach((n, i) => emit(b, grads[i], n, `grad.${n}`));
  return finish(g, lg, [LOSS, ...names.map((n) => `grad.${n}`)]);
}

export interface HvpOptions {
  /** Also output `grad.NAME` (computed anyway). Default true. */
  withGrad?: boolean;
}

export function buildHvpGraph(lg: LossGraph, opts: HvpOptions = {}): DerivedGraph {
  const g = cloneGraph(lg.graph);
  const b = new Builder(g, 'ws_hvp');
  const names = lg.params.map((p) => p.name);
  for (const n of names) declareLike(g, `v.${n}`, n);
  const grads = gradients(b, LOSS, names);
  const s = dot(
    b,
    grads.map((gr, i) => [gr, `v.${names[i]}`]),
  );
  const hv = s ? gradients(b, s, names) : names.map(() => undefined);
  const withGrad = opts.withGrad ?? true;
  if (withGrad) names.forEach((n, i) => emit(b, grads[i], n, `grad.${n}`));
  names.forEach((n, i) => emit(b, hv[i], n, `hv.${n}`));
  return finish(g, lg, [LOSS, ...(withGrad ? names.map((n) => `grad.${n}`) : []), ...names.map((n) => `hv.${n}`)]);
}

/** The float data input to differentiate: `input`, or the first float data input. */
function floatInput(g: Graph, lg: LossGraph, input?: string): string {
  const x = input ?? lg.dataInputs.find((n) => isFloatType(g.values.get(n)?.dtype ?? 0));
  if (!x || !lg.dataInputs.includes(x) || !isFloatType(g.values.get(x)?.dtype ?? 0)) {
    throw new WeightscopeError('invalid-input', `no float data input ${input ? `'${input}'` : ''} to differentiate`);
  }
  return x;
}

/** Gradient of the loss with respect to a float data input x (default: the first). Outputs loss, grad.x. */
export function buildInputGradGraph(lg: LossGraph, input?: string): DerivedGraph {
  const g = cloneGraph(lg.graph);
  const x = floatInput(g, lg, input);
  const b = new Builder(g, 'ws_igrad');
  const [gx] = gradients(b, LOSS, [x]);
  emit(b, gx, x, `grad.${x}`);
  return finish(g, lg, [LOSS, `grad.${x}`]);
}

/**
 * Hessian of the loss with respect to a float data input x (default: the first float data input), times `v.x`.
 * Outputs loss, grad.x, hv.x.
 */
export function buildInputHessianVectorGraph(lg: LossGraph, input?: string): DerivedGraph {
  const g = cloneGraph(lg.graph);
  const x = floatInput(g, lg, input);
  const b = new Builder(g, 'ws_ihvp');
  declareLike(g, `v.${x}`, x);
  const [gx] = gradients(b, LOSS, [x]);
  const s = dot(b, [[gx, `v.${x}`]]);
  const [hx] = s ? gradients(b, s, [x]) : [undefined];
  emit(b, gx, x, `grad.${x}`);
  emit(b, hx, x, `hv.${x}`);
  return finish(g, lg, [LOSS, `grad.${x}`, `hv.${x}`]);
}

/** The loss graph itself as a model: inputs data then parameters, outputs `loss` and the logits. */
export function lossModel(lg: LossGraph): DerivedGraph {
  const g = cloneGraph(lg.graph);
  return finish(g, lg, [...lg.graph.outputs]);
}

/** Initial parameter values, as the model stored them. */
export function paramTensors(lg: LossGraph): Map<string, OnnxTensor> {
  return new Map(lg.paramValues);
}

/**
 * Initial parameter values as typed arrays in each parameter's dtype (float32 → Float32Array), in `lg.params`
 * order. `baseDir` resolves external-data initializers (the model file's folder).
 */
export async function loadParamValues(lg: LossGraph, baseDir = '.'): Promise<Map<string, Float32Array | Float64Array>> {
  const out = new Map<string, Float32Array | Float64Array>();
  for (const p of lg.params) {
    const v = await tensorProtoToFloat64(lg.paramValues.get(p.name)!, baseDir);
    out.set(p.name, p.dtype === 'float32' ? Float32Array.from(v) : v);
  }
  return out;
}
