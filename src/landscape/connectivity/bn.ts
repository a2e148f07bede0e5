/**
 * BatchNorm along a curve. A point w(t) needs its own running statistics (Garipov's `update_bn`): reset, then run the
 * clean data through the network in TRAINING mode (each BN normalises with its batch's statistics) and keep the
 * size-weighted average of the per-batch means and unbiased variances. ONNX inference graphs hold BN in eval form,
 * so this module rewrites every BatchNormalization node into the training-mode computation with standard ops:
 *   X3 = Reshape(X, [0, 0, −1]); m = ReduceMean(X3, [0, 2]); v = ReduceMean((X3 − m)², [0, 2]);
 *   Y = Reshape((X3 − m)/√(v + ε)·γ + β, Shape(X))
 * The same rewrite (without the extra outputs) is the graph curve training differentiates, as PyTorch trains curves
 * in train mode.
 */
import { WeightscopeError } from '../../errors.js';
import { onnx, longToNumber, tensorShape, type ModelProto } from '../../io/onnx-model.js';
import { DT } from '../../graph/ir.js';
import type { Batch, Dataset } from '../../runtime/dataset.js';
import { sequentialBatches } from '../../runtime/dataset.js';
import { paramsAsInputs, pruneTo } from '../../runtime/forward-graph.js';
import { specOf, type ParamMap, type ParamSpec } from '../../runtime/params.js';
import type { DeviceChoice } from '../../runtime/devices.js';
import { getSession } from '../../runtime/session.js';
import type { HostTensor } from '../../runtime/wire.js';

export interface BnLayer {
  /** Node name (or a generated label). */
  readonly node: string;
  readonly x: string;
  readonly scale: string;
  readonly bias: string;
  /** Initializer names of the running statistics. */
  readonly mean: string;
  readonly var: string;
  readonly epsilon: number;
}

const ATTR_INT = 2;
const ATTR_INTS = 7;

function opsetOf(model: ModelProto): number {
  const o = (model.opsetImport ?? []).find((x) => (x.domain ?? '') === '' || x.domain === 'ai.onnx');
  return o ? longToNumber(o.version ?? 0, 'opset version') : 1;
}

/** The BatchNormalization nodes of the main graph (nodes inside subgraphs are not supported). */
export function batchNormLayers(model: ModelProto): BnLayer[] {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name ?? ''));
  const out: BnLayer[] = [];
  (model.graph?.node ?? []).forEach((n, i) => {
    if (n.opType !== 'BatchNormalization' || (n.domain ?? '') !== '') return;
    const [x, scale, bias, mean, variance] = n.input ?? [];
    const label = n.name || `BatchNormalization_${i}`;
    const training = (n.attribute ?? []).find((a) => a.name === 'training_mode');
    if (training && longToNumber(training.i ?? 0) !== 0) {
      throw new WeightscopeError(
        'unsupported-op',
        `BatchNormalization '${label}' is exported in training mode; export the model in eval mode`,
      );
    }
    if (!mean || !variance || !inits.has(mean) || !inits.has(variance)) {
      throw new WeightscopeError('unsupported-op', `BatchNormalization '${label}': running mean/variance must be initializers`);
    }
    const eps = (n.attribute ?? []).find((a) => a.name === 'epsilon');
    out.push({ node: label, x: x ?? '', scale: scale ?? '', bias: bias ?? '', mean, var: variance, epsilon: eps?.f ?? 1e-5 });
  });
  return out;
}

/** Initializer names of every BN's running mean and variance: not curve parameters, recomputed per t. */
export function bnStatNames(model: ModelProto): string[] {
  return batchNormLayers(model).flatMap((l) => [l.mean, l.var]);
}

/** The BN running statistics as parameter specs (name, shape), in graph order. */
export function bnStatSpecs(model: ModelProto): ParamSpec[] {
  const inits = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  return bnStatNames(model).map((n) => specOf(n, tensorShape(inits.get(n) as onnx.ITensorProto)));
}

export interface TrainModeGraph {
  readonly model: ModelProto;
  /** Per BN layer (same order as batchNormLayers): outputs with the batch mean [1,C,1], biased var [1,C,1], Shape(X3). */
  readonly stats: readonly { readonly layer: BnLayer; readonly mean: string; readonly var: string; readonly shape: string }[];
}

/**
 * A copy of `model` with every BatchNormalization replaced by its training-mode computation (batch statistics).
 * The graph's outputs are unchanged; the per-layer statistics are values named in `stats` (add them as outputs to
 * read them).
 */
export function trainModeModel(model: ModelProto): TrainModeGraph {
  const graph = model.graph;
  if (!graph) throw new WeightscopeError('corrupt-file', 'ONNX model has no graph');
  const layers = batchNormLayers(model);
  const opset = opsetOf(model);
  if (layers.length > 0 && opset < 13) {
    throw new WeightscopeError('unsupported-op', `recomputing BatchNorm statistics needs opset ≥ 13, the model has ${opset}`);
  }
  const extraInits: onnx.ITensorProto[] = [];
  const stats: { layer: BnLayer; mean: string; var: string; shape: string }[] = [];
  const consts = new Map<string, string>();
  const i64 = (name: string, values: number[]): string => {
    const key = values.join(',');
    const have = consts.get(key);
    if (have) return have;
    extraInits.push(onnx.TensorProto.create({ name, dataType: DT.INT64, dims: [values.length], int64Data: values }));
    consts.set(key, name);
    return name;
  };
  const nodes: onnx.INodeProto[] = [];
  let li = 0;
  for (const n of graph.node ?? []) {
    if (n.opType !== 'BatchNormalization' || (n.domain ?? '') !== '') {
      nodes.push(n);
      continue;
    }
    const L = layers[li];
    const p = `__ws_bn${li}_`;
    li++;
    const flatShape = i64('__ws_bn_shape_nc_rest', [0, 0, -1]);
    const chanShape = i64('__ws_bn_shape_1c1', [1, -1, 1]);
    const reduce = (input: string, output: string): onnx.INodeProto =>
      opset >= 18
        ? onnx.NodeProto.create({
            opType: 'ReduceMean',
            input: [input, i64('__ws_bn_axes_02', [0, 2])],
            output: [output],
            attribute: [{ name: 'keepdims', type: ATTR_INT, i: 1 }],
          })
        : onnx.NodeProto.create({
            opType: 'ReduceMean',
            input: [input],
            output: [output],
            attribute: [
              { name: 'axes', type: ATTR_INTS, ints: [0, 2] },
              { name: 'keepdims', type: ATTR_INT, i: 1 },
            ],
          });
    const epsName = `${p}eps`;
    extraInits.push(onnx.TensorProto.create({ name: epsName, dataType: 1, dims: [], floatData: [L.epsilon] }));
    const node = (opType: string, input: string[], output: string): onnx.INodeProto =>
      onnx.NodeProto.create({ opType, input, output: [output] });
    nodes.push(
      node('Reshape', [L.x, flatShape], `${p}x3`),
      node('Shape', [`${p}x3`], `${p}shape3`),
      reduce(`${p}x3`, `${p}mean`),
      node('Sub', [`${p}x3`, `${p}mean`], `${p}d`),
      node('Mul', [`${p}d`, `${p}d`], `${p}d2`),
      reduce(`${p}d2`, `${p}var`),
      node('Add', [`${p}var`, epsName], `${p}vareps`),
      node('Sqrt', [`${p}vareps`], `${p}std`),
      node('Div', [`${p}d`, `${p}std`], `${p}xhat`),
      node('Reshape', [L.scale, chanShape], `${p}gamma`),
      node('Reshape', [L.bias, chanShape], `${p}beta`),
      node('Mul', [`${p}xhat`, `${p}gamma`], `${p}scaled`),
      node('Add', [`${p}scaled`, `${p}beta`], `${p}y3`),
      node('Shape', [L.x], `${p}xshape`),
      node('Reshape', [`${p}y3`, `${p}xshape`], (n.output ?? [])[0] ?? `${p}y`),
    );
    stats.push({ layer: L, mean: `${p}mean`, var: `${p}var`, shape: `${p}shape3` });
  }
  const usedStats = new Set(layers.flatMap((l) => [l.mean, l.var]));
  const initializer = [...(graph.initializer ?? []).filter((t) => !usedStats.has(t.name ?? '')), ...extraInits];
  const input = (graph.input ?? []).filter((i) => !usedStats.has(i.name ?? ''));
  return {
    model: onnx.ModelProto.create({ ...model, graph: onnx.GraphProto.create({ ...graph, node: nodes, initializer, input }) }),
    stats,
  };
}

/** Computes BN running statistics at any parameter values (one session, parameters as inputs). */
export interface BnStatsRunner {
  readonly layers: readonly BnLayer[];
  /** Running mean and (unbiased) variance per BN, by initializer name, as PyTorch's update_bn leaves them. */
  compute(params: ReadonlyMap<string, Float32Array>, ds: Dataset, batchSize: number): Promise<ParamMap>;
}

/** A runner for `model` whose curve parameters `specs` are fed per call. Null when the model has no BN. */
export async function createBnStatsRunner(
  model: ModelProto,
  specs: readonly ParamSpec[],
  opts: { device?: DeviceChoice } = {},
): Promise<BnStatsRunner | null> {
  const layers = batchNormLayers(model);
  if (layers.length === 0) return null;
  const tm = trainModeModel(model);
  const outputs = tm.stats.flatMap((s) => [s.mean, s.var, s.shape]);
  const statsGraph = pruneTo(
    paramsAsInputs(
      tm.model,
      specs.map((s) => s.name),
    ),
    outputs,
  );
  const session = await getSession(statsGraph, opts.device !== undefined ? { device: opts.device } : {});
  const inputs = new Set(session.inputNames);
  const names = new Set(specs.map((s) => s.name));
  const dataInputs = session.inputNames.filter((n) => !names.has(n));
  if (dataInputs.length !== 1) {
    throw new WeightscopeError(
      'invalid-input',
      `BatchNorm statistics need a model with one data input, found ${dataInputs.join(', ') || 'none'}`,
    );
  }
  const dataInput = dataInputs[0];
  return {
    layers,
    async compute(params, ds, batchSize) {
      const acc = tm.stats.map(() => ({ mean: null as Float64Array | null, var: null as Float64Array | null }));
      let seen = 0;
      for (const batch of sequentialBatches(ds, batchSize)) {
        const feeds: Record<string, HostTensor> = { [dataInput]: batch.x };
        for (const s of specs) {
          if (inputs.has(s.name)) feeds[s.name] = { type: 'float32', data: params.get(s.name) as Float32Array, dims: s.dims };
        }
        const out = await session.run(feeds, outputs);
        tm.stats.forEach((st, i) => accumulate(acc[i], out[st.mean], out[st.var], out[st.shape], batch, seen));
        seen += batch.size;
      }
      const res: ParamMap = new Map();
      tm.stats.forEach((st, i) => {
        res.set(st.layer.mean, Float32Array.from(acc[i].mean as Float64Array));
        res.set(st.layer.var, Float32Array.from(acc[i].var as Float64Array));
      });
      return res;
    },
  };
}

/** running ← (1 − m)·running + m·batch with m = b/(seen + b): the size-weighted cumulative average. */
function accumulate(
  acc: { mean: Float64Array | null; var: Float64Array | null },
  meanT: HostTensor | undefined,
  varT: HostTensor | undefined,
  shapeT: HostTensor | undefined,
  batch: Batch,
  seen: number,
): void {
  if (!meanT || !varT || !shapeT) throw new WeightscopeError('invalid-input', 'the BatchNorm statistics graph returned no values');
  const mean = meanT.data as Float32Array;
  const v = varT.data as Float32Array;
  const shape = shapeT.data as BigInt64Array;
  const perChannel = Number(shape[0]) * Number(shape[2]);
  if (perChannel < 2) throw new WeightscopeError('invalid-input', 'BatchNorm statistics need at least 2 values per channel in a batch');
  const unbias = perChannel / (perChannel - 1);
  const m = batch.size / (seen + batch.size);
  if (!acc.mean || !acc.var) {
    acc.mean = new Float64Array(mean.length);
    acc.var = new Float64Array(mean.length).fill(1);
  }
  for (let c = 0; c < mean.length; c++) {
    acc.mean[c] = (1 - m) * acc.mean[c] + m * mean[c];
    acc.var[c] = (1 - m) * acc.var[c] + m * v[c] * unbias;
  }
}
