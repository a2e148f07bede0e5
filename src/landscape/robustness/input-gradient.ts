/**
 * Gradients of the loss with respect to the data input, from src/graph's input-gradient graph (reverse mode over the
 * model's ONNX graph; its parameters are graph inputs, so one session serves every point of a path). The loss is
 * the batch's mean cross-entropy, so row n of the gradient is (1/B)·∂ℓ_n/∂x_n — the direction an attack follows.
 * On the CPU there is one single-threaded session per lane (parallel worker threads): callers give independent
 * batches to different lanes (an attack's batches never depend on each other).
 */
import { WeightscopeError } from '../../errors.js';
import { buildInputGradGraph, buildLossGraph } from '../../graph/index.js';
import type { ModelProto } from '../../io/onnx-model.js';
import { checkParams, type ParamSpec } from '../../runtime/params.js';
import { getSession, intraOpThreads, type DeviceChoice, type RuntimeSession } from '../../runtime/session.js';
import type { HostTensor } from '../../runtime/wire.js';

export interface InputGradient {
  /** The model's data input. */
  readonly inputName: string;
  /** Parameters fed per call (graph order). */
  readonly params: readonly ParamSpec[];
  /** Parallel lanes: batches on different lanes run at the same time. */
  readonly lanes: number;
  /** ∂(mean loss of the batch)/∂x ([b, ...sampleDims], row-major) and that mean loss, run on `lane`. */
  batch(
    lane: number,
    params: ReadonlyMap<string, Float32Array>,
    x: Float32Array,
    y: BigInt64Array,
    sampleDims: readonly number[],
  ): Promise<{ grad: Float32Array; loss: number }>;
}

export interface InputGradientOptions {
  readonly device?: DeviceChoice;
  /** Parallel lanes on the CPU (default: the intra-op thread count). */
  readonly lanes?: number;
}

/** An input-gradient runner for `model` (classification: float input, int64 labels) with `params` fed per call. */
export async function createInputGradient(
  model: ModelProto,
  params: readonly ParamSpec[],
  opts: InputGradientOptions = {},
): Promise<InputGradient> {
  const device = opts.device ?? 'cpu';
  const lg = buildLossGraph(model, { loss: 'classification', params: params.map((p) => p.name) });
  const x = lg.dataInputs.find((n) => n !== lg.labels);
  if (!x) throw new WeightscopeError('invalid-input', 'the model has no data input to attack');
  const graph = buildInputGradGraph(lg, x);
  const lanes = device === 'cpu' ? (opts.lanes ?? intraOpThreads()) : 1;
  if (!(Number.isInteger(lanes) && lanes >= 1))
    throw new WeightscopeError('invalid-input', `lanes must be a positive integer, got ${lanes}`);
  const sessions: RuntimeSession[] =
    lanes === 1
      ? [await getSession(graph.model, { device })]
      : await Promise.all(Array.from({ length: lanes }, (_, lane) => getSession(graph.model, { device, lane, threads: 1 })));
  const gradName = `grad.${x}`;
  const known = new Set(params.map((p) => p.name));
  const used = new Set(sessions[0].inputNames);
  for (const name of sessions[0].inputNames) {
    if (name !== x && name !== lg.labels && !known.has(name))
      throw new WeightscopeError('invalid-input', `the input-gradient graph needs an input '${name}' that is neither data nor a parameter`);
  }

  return {
    inputName: x,
    params,
    lanes,
    async batch(lane, values, xs, y, sampleDims) {
      checkParams(params, values);
      const dim = sampleDims.reduce((a, b) => a * b, 1);
      const b = y.length;
      if (b === 0 || xs.length !== b * dim)
        throw new WeightscopeError('shape-mismatch', `${xs.length} input values for ${b} samples of ${dim}`);
      const session = sessions[lane];
      if (!session) throw new WeightscopeError('invalid-input', `lane ${lane} of ${lanes}`);
      const feeds: Record<string, HostTensor> = {
        [x]: { type: 'float32', data: xs, dims: [b, ...sampleDims] },
        [lg.labels as string]: { type: 'int64', data: y, dims: [b] },
      };
      for (const p of params)
        if (used.has(p.name)) feeds[p.name] = { type: 'float32', data: values.get(p.name) as Float32Array, dims: p.dims };
      const out = await session.run(feeds, ['loss', gradName]);
      const g = out[gradName]?.data as Float32Array | undefined;
      if (!g || g.length !== b * dim)
        throw new WeightscopeError('shape-mismatch', 'the input-gradient graph returned a wrongly sized gradient');
      const loss = Number((out.loss.data as Float32Array)[0]);
      if (!Number.isFinite(loss)) throw new WeightscopeError('numerical', `the loss is ${loss}`);
      return { grad: g, loss };
    },
  };
}
