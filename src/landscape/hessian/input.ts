/**
 * The input Hessian (Zhao et al. 2020's robustness correlate): curvature of the mean loss with respect to the data
 * input. The direction is one per-sample-shaped perturbation δ applied to every sample (x_n + δ), so the operator is
 * ∂²L/∂δ² = mean over samples of the per-sample input Hessians, dim = the size of one sample (for softmax
 * regression: mean_n Wᵀ(diag p_n − p_n p_nᵀ)W). The graph is src/graph's input-Hessian-vector graph; one Hv per
 * batch tiles δ over the batch and sums the rows of the result.
 */
import { WeightscopeError } from '../../errors.js';
import { buildInputHessianVectorGraph, buildLossGraph, type DerivedGraph } from '../../graph/index.js';
import type { ModelProto } from '../../io/onnx-model.js';
import type { Batch } from '../../runtime/dataset.js';
import type { Engine } from '../../runtime/engine.js';
import { getSession, type RuntimeSession } from '../../runtime/session.js';
import type { HostTensor } from '../../runtime/wire.js';
import { batchMeanOperator, sampleCount, type CountingOperator } from './engine-operator.js';

export interface InputOperatorOptions {
  readonly onApply?: (count: number) => void;
}

function inputGraph(model: ModelProto, engine: Engine): { graph: DerivedGraph; x: string } {
  if (engine.lossKind !== 'classification') {
    throw new WeightscopeError(
      'invalid-input',
      'the input Hessian needs float inputs (classification); token ids cannot be differentiated',
    );
  }
  const lg = buildLossGraph(model, { loss: 'classification', params: engine.params.map((p) => p.name), criterion: engine.criterion });
  const x = engine.inputName;
  return { graph: buildInputHessianVectorGraph(lg, x), x };
}

/**
 * v ↦ (∂²L/∂δ²) v for the mean loss over `batches` at `params`, v of one sample's size. `model` must be the model
 * the engine was built from (its parameters are fed as inputs, so any values work).
 */
export async function inputHessianOperator(
  model: ModelProto,
  engine: Engine,
  params: ReadonlyMap<string, Float32Array>,
  batches: readonly Batch[],
  opts: InputOperatorOptions = {},
): Promise<CountingOperator> {
  sampleCount(batches); // a non-empty batch list before batches[0] is read
  const first = batches[0].x;
  if (first.type !== 'float32') throw new WeightscopeError('invalid-input', `the input Hessian needs float32 inputs, got ${first.type}`);
  const dim = first.dims.slice(1).reduce((p, d) => p * d, 1);
  for (const b of batches) {
    if (b.x.dims.slice(1).reduce((p, d) => p * d, 1) !== dim)
      throw new WeightscopeError('shape-mismatch', 'batches differ in sample shape');
  }
  const { graph, x } = inputGraph(model, engine);
  const session: RuntimeSession = await getSession(graph.model, { device: engine.device });
  const paramNames = new Set(engine.params.map((p) => p.name));
  const vName = `v.${x}`;

  function feeds(b: Batch, v: Float32Array): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = {};
    for (const name of graph.inputs) {
      if (name === vName) {
        const tiled = new Float32Array(b.size * dim);
        for (let r = 0; r < b.size; r++) tiled.set(v, r * dim);
        out[name] = { type: 'float32', data: tiled, dims: b.x.dims };
      } else if (name === x) {
        out[name] = b.x;
      } else if (name === 'y') {
        if (!b.y) throw new WeightscopeError('invalid-input', 'classification loss needs labels y');
        out[name] = b.y;
      } else if (paramNames.has(name)) {
        const spec = engine.params.find((p) => p.name === name)!;
        out[name] = { type: 'float32', data: params.get(name) as Float32Array, dims: spec.dims };
      } else {
        throw new WeightscopeError('invalid-input', `the input-Hessian graph needs an input '${name}' that the data does not provide`);
      }
    }
    return out;
  }

  return batchMeanOperator(
    dim,
    `one sample has ${dim}`,
    batches,
    (v) => {
      const v32 = Float32Array.from(v);
      return async (b, out, weight) => {
        const r = await session.run(feeds(b, v32), ['loss', `hv.${x}`]);
        const hv = r[`hv.${x}`]?.data as Float32Array | undefined;
        if (!hv || hv.length !== b.size * dim)
          throw new WeightscopeError('shape-mismatch', 'the input-Hessian graph returned a wrongly sized hv');
        // Rows hold (1/size)·H_k δ; their sum is the batch's mean Hessian times δ, weighted by size/N.
        for (let k = 0; k < b.size; k++) for (let i = 0; i < dim; i++) out[i] += weight * hv[k * dim + i];
        return Number((r.loss.data as Float32Array)[0]);
      };
    },
    opts.onApply,
  );
}
