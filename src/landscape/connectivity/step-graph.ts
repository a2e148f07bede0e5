/**
 * One whole training step of a curve's or surface's free control points as ONE onnxruntime graph: the point
 * w = Σ_k c_k θ_k, the model's loss gradient at w (src/graph's gradient graph), G = ∇L(w) + c·w, and momentum SGD on
 * every free point with gradient c_f·G (buf ← μ·buf + c_f·G; θ_f ← θ_f − lr·buf, torch.optim.SGD's rule). The
 * element-wise work of a step with many control points (a 3 × 3 patch moves 5 copies of every parameter) runs in
 * onnxruntime's vectorised kernels instead of JavaScript loops; arithmetic is float32 throughout (as PyTorch's).
 *
 * The control points travel packed: `points` [K, P] (P = all parameters flattened in spec order, the F free points
 * in rows 0..F−1), `moms` [F, P] the momentum buffers, `coef` [1, K] in the same row order, `hyper` [3] =
 * (lr, c, μ). Outputs: `loss` (the data loss at w), `sq` (‖w‖²), `points:next` [F, P], `moms:next` [F, P].
 */
import { WeightscopeError } from '../../errors.js';
import { Builder, buildGradGraph, buildLossGraph, DT, graphFromModel, graphToModel, prune } from '../../graph/index.js';
import type { Criterion } from '../../graph/criteria.js';
import type { ModelProto } from '../../io/onnx-model.js';
import type { Batch } from '../../runtime/dataset.js';
import { totalSize, type ParamSpec } from '../../runtime/params.js';
import { getSession, type DeviceChoice, type RuntimeSession } from '../../runtime/session.js';
import type { HostTensor } from '../../runtime/wire.js';

export interface StepGraph {
  readonly model: ModelProto;
  /** The model's data input and the labels' name. */
  readonly dataInput: string;
  readonly labels: string;
  /** Control points K, free points F, parameters P. */
  readonly K: number;
  readonly F: number;
  readonly P: number;
}

/**
 * The step graph for `model` (already in the form training differentiates, e.g. BN in training mode) with
 * parameters `specs`, K control points of which the first F (in the packed order) are free; the loss is `criterion`
 * (default cross-entropy).
 */
export function buildStepGraph(model: ModelProto, specs: readonly ParamSpec[], K: number, F: number, criterion?: Criterion): StepGraph {
  if (!(Number.isInteger(F) && F >= 1 && F <= K)) throw new WeightscopeError('invalid-input', `${F} free control points of ${K}`);
  const lg = buildLossGraph(model, { loss: 'classification', params: specs.map((s) => s.name), ...(criterion ? { criterion } : {}) });
  if (lg.labels === undefined)
    throw new WeightscopeError('invalid-input', 'control-point training needs a classification loss with labels');
  const data = lg.dataInputs.filter((n) => n !== lg.labels);
  if (data.length !== 1)
    throw new WeightscopeError(
      'invalid-input',
      `control-point training needs a model with one data input, found ${data.join(', ') || 'none'}`,
    );
  const P = totalSize(specs);
  const g = graphFromModel(buildGradGraph(lg).model);
  const b = new Builder(g, 'ws_step');
  const n0 = g.nodes.length;
  const decl = (name: string, dims: readonly number[]) => {
    g.inputs.push(name);
    g.values.set(name, { dtype: DT.FLOAT, shape: [...dims] });
  };
  for (const [name, dims] of [
    ['points', [K, P]],
    ['moms', [F, P]],
    ['coef', [1, K]],
    ['hyper', [3]],
  ] as const)
    decl(name, dims);
  const i64 = (v: number[]) => b.constant(DT.INT64, [v.length], v);
  const scalar = (i: number) => b.op('Gather', ['hyper', b.constant(DT.INT64, [], [i])], { axis: 0 });
  const [lr, l2, mu] = [0, 1, 2].map(scalar);
  // w = coef · points (one GEMV), cut into the parameters: these replace the parameter inputs.
  const w = b.reshape(b.matmul('coef', 'points'), i64([P]));
  let off = 0;
  for (const s of specs) {
    g.inputs.splice(g.inputs.indexOf(s.name), 1);
    b.op('Reshape', [b.op('Slice', [w, i64([off]), i64([off + s.size]), i64([0])]), i64([...s.dims])], undefined, s.name);
    off += s.size;
  }
  // Those nodes read only graph inputs: they go first, the gradient graph after them.
  g.nodes = [...g.nodes.slice(n0), ...g.nodes.slice(0, n0)];
  for (const s of specs) g.values.set(`grad.${s.name}`, { dtype: DT.FLOAT, shape: [...s.dims] });
  const grad =
    specs.length === 1
      ? b.reshape(`grad.${specs[0].name}`, i64([P]))
      : b.concat(
          specs.map((s) => b.reshape(`grad.${s.name}`, i64([s.size]))),
          0,
        );
  const G = b.add(grad, b.mul(l2, w)); // [P]
  b.op('ReduceSum', [b.mul(w, w)], { keepdims: 0 }, 'sq');
  // Free points' coefficients as a column [F, 1]; the updates broadcast over the parameters.
  const cFree = b.reshape(b.op('Slice', ['coef', i64([0]), i64([F]), i64([1])]), i64([F, 1]));
  const buf = b.op('Add', [b.mul(mu, 'moms'), b.mul(cFree, G)], undefined, 'moms:next');
  b.op('Sub', [b.op('Slice', ['points', i64([0]), i64([F]), i64([0])]), b.mul(lr, buf)], undefined, 'points:next');
  g.values.set('loss', { dtype: DT.FLOAT, shape: [] });
  g.outputs = ['loss', 'sq', 'points:next', 'moms:next'];
  prune(g);
  return { model: graphToModel(g), dataInput: data[0], labels: lg.labels, K, F, P };
}

/** Runs a step graph. */
export interface StepRunner {
  readonly graph: StepGraph;
  /** One step: the data loss at w, ‖w‖², and the free points' and buffers' next values ([F, P] each). */
  run(
    batch: Batch,
    points: Float32Array,
    moms: Float32Array,
    coef: Float32Array,
    hyper: Float32Array,
  ): Promise<{ loss: number; sq: number; points: Float32Array; moms: Float32Array }>;
}

export async function createStepRunner(graph: StepGraph, device: DeviceChoice): Promise<StepRunner> {
  const session: RuntimeSession = await getSession(graph.model, { device });
  const { K, F, P } = graph;
  const out = (o: Record<string, HostTensor>, name: string, size: number): Float32Array => {
    const t = o[name];
    if (!t || t.type !== 'float32' || t.data.length !== size)
      throw new WeightscopeError('shape-mismatch', `the step graph returned no (or a wrongly sized) '${name}'`);
    return t.data as Float32Array;
  };
  return {
    graph,
    async run(batch, points, moms, coef, hyper) {
      if (!batch.y) throw new WeightscopeError('invalid-input', 'classification loss needs labels y');
      const o = await session.run(
        {
          [graph.dataInput]: batch.x,
          [graph.labels]: batch.y,
          points: { type: 'float32', data: points, dims: [K, P] },
          moms: { type: 'float32', data: moms, dims: [F, P] },
          coef: { type: 'float32', data: coef, dims: [1, K] },
          hyper: { type: 'float32', data: hyper, dims: [3] },
        },
        ['loss', 'sq', 'points:next', 'moms:next'],
      );
      const loss = out(o, 'loss', 1)[0];
      if (!Number.isFinite(loss)) throw new WeightscopeError('numerical', `the loss is ${loss}`);
      return { loss, sq: out(o, 'sq', 1)[0], points: out(o, 'points:next', F * P), moms: out(o, 'moms:next', F * P) };
    },
  };
}
