/**
 * One whole training step of a curve's or surface's free control points as ONE onnxruntime graph: the point
 * w = Σ_k c_k θ_k, the model's loss gradient at w (src/graph's gradient graph), G = ∇L(w) + c·w, and momentum SGD on
 * every free point with gradient c_f·G (buf ← μ·buf + c_f·G; θ_f ← θ_f − lr·buf, torch.optim.SGD's rule). The
 * element-wise work of a step with many control points (a 3 × 3 patch moves 5 copies of every parameter) then runs
 * in onnxruntime's vectorised kernels instead of JavaScript loops; arithmetic is float32 throughout (as PyTorch's).
 *
 * Inputs: the model's data inputs (and labels), `cp{k}/{param}` for every control point k, `mom{f}/{param}` for every
 * free point f, `coef` [K] and `hyper` [3] = (lr, c, μ). Outputs: `loss` (the data loss at w), `sq` (‖w‖²), and
 * `cp{k}/{param}:next`, `mom{f}/{param}:next` for the free points.
 */
import { WeightscopeError } from '../../errors.js';
import { Builder, buildGradGraph, buildLossGraph, DT, graphFromModel, graphToModel, prune } from '../../graph/index.js';
import type { ModelProto } from '../../io/onnx-model.js';
import type { Batch } from '../../runtime/dataset.js';
import type { ParamSpec } from '../../runtime/params.js';
import { getSession, type Device, type RuntimeSession } from '../../runtime/session.js';
import type { HostTensor } from '../../runtime/wire.js';

export const cpInput = (k: number, p: string): string => `cp${k}/${p}`;
export const momInput = (f: number, p: string): string => `mom${f}/${p}`;
export const next = (name: string): string => `${name}:next`;

export interface StepGraph {
  readonly model: ModelProto;
  /** Data inputs of the model, then the labels' name. */
  readonly dataInputs: readonly string[];
  readonly labels: string;
}

/**
 * The step graph for `model` (already in the form training differentiates, e.g. BN in training mode) with
 * parameters `specs`, K control points and the free ones `free` (indices into 0..K−1).
 */
export function buildStepGraph(model: ModelProto, specs: readonly ParamSpec[], K: number, free: readonly number[]): StepGraph {
  const lg = buildLossGraph(model, { loss: 'classification', params: specs.map((s) => s.name) });
  if (lg.labels === undefined) throw new WeightscopeError('invalid-input', 'control-point training needs a classification loss with labels');
  const g = graphFromModel(buildGradGraph(lg).model);
  const b = new Builder(g, 'ws_step');
  const n0 = g.nodes.length;
  const decl = (name: string, dims: readonly number[]) => {
    g.inputs.push(name);
    g.values.set(name, { dtype: DT.FLOAT, shape: [...dims] });
  };
  decl('coef', [K]);
  decl('hyper', [3]);
  const scalarOf = (input: string, i: number) => b.op('Gather', [input, b.constant(DT.INT64, [], [i])], { axis: 0 });
  const coef = Array.from({ length: K }, (_, k) => scalarOf('coef', k));
  const [lr, l2, mu] = [0, 1, 2].map((i) => scalarOf('hyper', i));
  // w_p = Σ_k c_k·θ_k,p replaces the parameter input p.
  for (const s of specs) {
    g.inputs.splice(g.inputs.indexOf(s.name), 1);
    for (let k = 0; k < K; k++) decl(cpInput(k, s.name), s.dims);
    b.op('Sum', Array.from({ length: K }, (_, k) => b.mul(cpInput(k, s.name), coef[k])), undefined, s.name);
  }
  // Those nodes read only graph inputs: they go first, the gradient graph after them.
  g.nodes = [...g.nodes.slice(n0), ...g.nodes.slice(0, n0)];
  const outputs = ['loss', 'sq'];
  const squares: string[] = [];
  for (const s of specs) {
    g.values.set(`grad.${s.name}`, { dtype: DT.FLOAT, shape: [...s.dims] });
    const G = b.add(`grad.${s.name}`, b.mul(l2, s.name));
    squares.push(b.op('ReduceSum', [b.mul(s.name, s.name)], { keepdims: 0 }));
    free.forEach((k, f) => {
      decl(momInput(f, s.name), s.dims);
      const buf = b.op('Add', [b.mul(mu, momInput(f, s.name)), b.mul(coef[k], G)], undefined, next(momInput(f, s.name)));
      b.op('Sub', [cpInput(k, s.name), b.mul(lr, buf)], undefined, next(cpInput(k, s.name)));
      outputs.push(next(cpInput(k, s.name)), buf);
    });
  }
  b.op('Sum', squares, undefined, 'sq');
  g.values.set('loss', { dtype: DT.FLOAT, shape: [] });
  g.outputs = outputs;
  prune(g);
  return { model: graphToModel(g), dataInputs: lg.dataInputs.filter((n) => n !== lg.labels), labels: lg.labels };
}

/** Runs step graphs: feeds the control points and buffers, hands back the outputs. */
export interface StepRunner {
  /** One step: the data loss at w and ‖w‖², and the free points' and buffers' next values (by input name). */
  run(batch: Batch, points: readonly ReadonlyMap<string, Float32Array>[], bufs: readonly ReadonlyMap<string, Float32Array>[], coef: Float32Array, hyper: Float32Array): Promise<{ loss: number; sq: number; out: Record<string, HostTensor> }>;
}

export async function createStepRunner(graph: StepGraph, specs: readonly ParamSpec[], free: readonly number[], device: Device): Promise<StepRunner> {
  if (graph.dataInputs.length !== 1) throw new WeightscopeError('invalid-input', `control-point training needs a model with one data input, found ${graph.dataInputs.join(', ') || 'none'}`);
  const session: RuntimeSession = await getSession(graph.model, { device });
  const fetches = session.outputNames;
  const x = graph.dataInputs[0];
  return {
    async run(batch, points, bufs, coef, hyper) {
      if (!batch.y) throw new WeightscopeError('invalid-input', 'classification loss needs labels y');
      const feeds: Record<string, HostTensor> = {
        [x]: batch.x,
        [graph.labels]: batch.y,
        coef: { type: 'float32', data: coef, dims: [coef.length] },
        hyper: { type: 'float32', data: hyper, dims: [3] },
      };
      for (const s of specs) {
        points.forEach((p, k) => (feeds[cpInput(k, s.name)] = { type: 'float32', data: p.get(s.name) as Float32Array, dims: s.dims }));
        free.forEach((_, f) => (feeds[momInput(f, s.name)] = { type: 'float32', data: bufs[f].get(s.name) as Float32Array, dims: s.dims }));
      }
      const out = await session.run(feeds, fetches);
      const loss = Number((out.loss.data as Float32Array)[0]);
      if (!Number.isFinite(loss)) throw new WeightscopeError('numerical', `the loss is ${loss}`);
      return { loss, sq: Number((out.sq.data as Float32Array)[0]), out };
    },
  };
}
