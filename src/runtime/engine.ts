/**
 * The training/analysis engine: loss, gradient and exact Hessian-vector product of a model's mean loss on a batch,
 * with the parameters fed as graph inputs (one session per graph, any weights). The gradient and Hv graphs come from
 * src/graph (reverse mode over ONNX); the forward pass (loss/accuracy) runs the model's own graph.
 * Every multi-batch quantity is a size-weighted mean over batches, i.e. the quantity of the mean loss over all data.
 */
import { dirname } from 'node:path';
import { WeightscopeError } from '../errors.js';
import { CE, type Criterion } from '../graph/criteria.js';
import { readOnnxModel, type ModelProto } from '../io/onnx-model.js';
import type { Batch, Dataset, LossKind } from './dataset.js';
import { sequentialBatches } from './dataset.js';
import { createForward, type EvalResult, type ForwardRunner } from './forward.js';
import { pruneTo } from './forward-graph.js';
import { checkParams, loadParams, specOf, type ParamMap, type ParamSpec } from './params.js';
import { batchCoupling } from './separable.js';
import { getSession, intraOpThreads, parseDevice, releaseSession, type Device, type RuntimeSession } from './session.js';
import type { HostTensor } from './wire.js';

/** What src/graph hands back for a gradient or Hv graph. */
export interface DiffGraph {
  readonly model: ModelProto;
  readonly params: readonly { readonly name: string; readonly dims: readonly number[]; readonly dtype?: unknown }[];
  /** Data inputs first (the model's input, then `y` for classification), then parameters (then `v.<param>`). */
  readonly inputs: readonly string[];
  /** 'loss', then 'grad.<param>' (or 'hv.<param>'). */
  readonly outputs: readonly string[];
}

/** Builds the differentiated graphs on demand (so a forward-only use never pays for them). */
export interface GraphSource {
  grad(): DiffGraph | Promise<DiffGraph>;
  hvp(): DiffGraph | Promise<DiffGraph>;
  /** The forward graph (parameters as inputs) and its logits output; default: the model itself. */
  forward?(): { model: ModelProto; logits: string };
  /** Name of the labels input of the differentiated graphs (default 'y'; null for language models). */
  labels?: string | null;
}

export interface L2Option {
  /** c in 0.5·c·‖θ‖². */
  readonly coef: number;
  /** Parameters the term covers (default all). */
  readonly params?: readonly string[];
}

export interface EngineOptions {
  readonly loss: LossKind;
  readonly device?: Device;
  /** Keep constant-folded copies of tied weights as separate parameters. */
  readonly untie?: boolean;
  readonly l2?: L2Option;
  /**
   * The criterion averaged over rows (src/graph/criteria.ts; default cross-entropy): the differentiated graphs'
   * loss and the forward pass's. A GraphSource given to createEngineWith must build its graphs with the same one.
   */
  readonly criterion?: Criterion;
  /** Which graph output holds the logits (default the first). */
  readonly logitsOutput?: string;
  /** Differentiate only these parameters (default every float initializer the loss depends on). */
  readonly params?: readonly string[];
  /**
   * Data-parallel lanes for gradient and Hv calls on the CPU: a batch is cut into this many contiguous shards that
   * run at once, one onnxruntime session (one intra-op thread each) per lane, and their results are size-weighted.
   * Default: the intra-op thread count, or 1 when the model may mix samples (separable.ts) or the device is a GPU.
   */
  readonly shards?: number;
}

export interface GradResult {
  readonly loss: number;
  readonly grads: ParamMap;
}

export interface HvpResult {
  readonly loss: number;
  readonly hv: ParamMap;
}

export interface Engine {
  readonly lossKind: LossKind;
  readonly criterion: Criterion;
  readonly device: Device;
  /** Parameters in graph order (also the order of flat vectors). */
  readonly params: readonly ParamSpec[];
  /** The model's data input name. */
  readonly inputName: string;
  /** The parameter values stored in the model (fresh copies). */
  initialParams(): ParamMap;
  /*
   * Batches are read-only once built: the gradient and Hv calls keep a batch's x/y resident in the runtime worker,
   * keyed by the arrays' identity, and send them only once. A caller that changes data in place must build a new
   * Batch (new arrays), or later calls would still see the old values.
   */
  /** Mean loss of the batch (including the L2 term, if any). */
  loss(params: ReadonlyMap<string, Float32Array>, batch: Batch): Promise<number>;
  grad(params: ReadonlyMap<string, Float32Array>, batch: Batch): Promise<GradResult>;
  hvp(params: ReadonlyMap<string, Float32Array>, batch: Batch, v: ReadonlyMap<string, Float32Array>): Promise<HvpResult>;
  /** Size-weighted mean gradient over batches (the gradient of the mean loss over all their samples). */
  gradMean(params: ReadonlyMap<string, Float32Array>, batches: Iterable<Batch>): Promise<GradResult>;
  /** Size-weighted mean Hv over batches. */
  hvpMean(params: ReadonlyMap<string, Float32Array>, batches: Iterable<Batch>, v: ReadonlyMap<string, Float32Array>): Promise<HvpResult>;
  /** Loss and accuracy of the data term (no L2) over a whole dataset. */
  evaluate(params: ReadonlyMap<string, Float32Array>, ds: Dataset, batchSize?: number): Promise<EvalResult>;
  logits(params: ReadonlyMap<string, Float32Array>, x: HostTensor): Promise<HostTensor>;
  /** The generated graph itself (for export). */
  graph(what: 'grad' | 'hvp'): Promise<ModelProto>;
  /** Frees this engine's sessions (another engine on the same graphs would build them again). */
  dispose(): Promise<void>;
}

interface Runner {
  readonly graph: DiffGraph;
  readonly session: RuntimeSession;
}

/**
 * An engine over `model` (parameters as initializers) with differentiated graphs from `source`. `baseDir` resolves
 * external initializer data.
 */
export async function createEngineWith(
  model: ModelProto,
  baseDir: string,
  source: GraphSource,
  opts: EngineOptions,
): Promise<Engine> {
  const device = parseDevice(opts.device);
  const lossKind = opts.loss;
  const criterion = opts.criterion ?? CE;
  const gradGraph = await source.grad();
  const params = gradGraph.params.map((p) => specOf(p.name, p.dims));
  const initial = (await loadParams(model, baseDir, params.map((p) => p.name))).values;
  const fwd = source.forward?.() ?? null;
  const forward: ForwardRunner = await createForward(fwd?.model ?? model, params, {
    device,
    logitsOutput: fwd?.logits ?? opts.logitsOutput,
  });
  const labelsName = source.labels === undefined ? 'y' : source.labels;
  const l2 = opts.l2 ?? null;
  if (l2) {
    const known = new Set(params.map((p) => p.name));
    const bad = (l2.params ?? []).filter((n) => !known.has(n));
    if (bad.length) throw new WeightscopeError('not-found', `L2 term names unknown parameters: ${bad.join(', ')}`);
  }

  const runners = new Map<'grad' | 'hvp', Promise<Runner>>();
  function runner(what: 'grad' | 'hvp'): Promise<Runner> {
    let r = runners.get(what);
    if (!r) {
      r = (async () => {
        const graph = what === 'grad' ? gradGraph : await source.hvp();
        return { graph, session: await getSession(graph.model, { device }) };
      })();
      runners.set(what, r);
      r.catch(() => runners.delete(what));
    }
    return r;
  }

  // Data parallelism: onnxruntime parallelises inside each op, which pays off poorly for a small CNN's many small ops
  // (fmnist CNN gradient graph at batch 128: 9.2 ms at 1 thread, 7.9 ms at 2); two shards of 64 on single-threaded
  // sessions in two worker threads took 4.9 ms (measured on the raw graph; the engine's figures: bench/autodiff.bench.ts).
  const lanes = opts.shards ?? (device === 'cpu' && batchCoupling(model) === null ? intraOpThreads() : 1);
  if (!(Number.isInteger(lanes) && lanes >= 1)) throw new WeightscopeError('invalid-input', `shards must be a positive integer, not ${lanes}`);
  // Keyed by graph and shard count: a batch too small for every lane gets fewer shards, and a later, larger one
  // needs all k sessions (one cache entry per `what` handed a 2-session list to a 3-shard batch).
  const laneRunners = new Map<string, Promise<RuntimeSession[]>>();
  function laneSessions(what: 'grad' | 'hvp', graph: DiffGraph, k: number): Promise<RuntimeSession[]> {
    const key = `${what}:${k}`;
    let r = laneRunners.get(key);
    if (!r) {
      const threads = Math.max(1, Math.floor(intraOpThreads() / k));
      r = Promise.all(Array.from({ length: k }, (_, lane) => getSession(graph.model, { device, lane, threads })));
      laneRunners.set(key, r);
      r.catch(() => laneRunners.delete(key));
    }
    return r;
  }
  const shardCache = new WeakMap<Batch, Batch[]>();
  /** The batch cut into contiguous shards (views; the same objects each call, so they stay resident per lane). */
  function shardsOf(batch: Batch): Batch[] {
    const k = Math.min(lanes, Math.floor(batch.size / MIN_SHARD));
    if (k < 2) return [batch];
    let parts = shardCache.get(batch);
    if (!parts) {
      parts = [];
      for (let i = 0; i < k; i++) {
        const start = Math.floor((i * batch.size) / k), end = Math.floor(((i + 1) * batch.size) / k);
        parts.push({ x: rowsOf(batch.x, start, end), y: batch.y ? rowsOf(batch.y, start, end) : null, size: end - start });
      }
      shardCache.set(batch, parts);
    }
    return parts;
  }

  const paramNames = new Set(params.map((p) => p.name));
  function dataFeeds(g: DiffGraph, batch: Batch): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = {};
    for (const name of g.inputs) {
      if (paramNames.has(name) || name.startsWith('v.')) continue;
      if (name === labelsName) {
        if (!batch.y) throw new WeightscopeError('invalid-input', 'classification loss needs labels y in the dataset');
        feeds[name] = batch.y;
      } else {
        feeds[name] = batch.x;
      }
    }
    return feeds;
  }

  /** The data inputs of a graph (what dataFeeds fills): kept resident in the worker across calls. */
  const dataNames = new Map<DiffGraph, readonly string[]>();
  function residentNames(g: DiffGraph): readonly string[] {
    let names = dataNames.get(g);
    if (!names) {
      names = g.inputs.filter((n) => !paramNames.has(n) && !n.startsWith('v.'));
      dataNames.set(g, names);
    }
    return names;
  }

  function paramFeeds(values: ReadonlyMap<string, Float32Array>, prefix: string, feeds: Record<string, HostTensor>): void {
    for (const p of params) feeds[prefix + p.name] = { type: 'float32', data: values.get(p.name) as Float32Array, dims: p.dims };
  }

  function readOut(out: Record<string, HostTensor>, prefix: string): { loss: number; map: ParamMap } {
    const lossT = out.loss;
    if (!lossT) throw new WeightscopeError('invalid-input', 'the generated graph has no loss output');
    const map: ParamMap = new Map();
    for (const p of params) {
      const t = out[prefix + p.name];
      if (!t) throw new WeightscopeError('invalid-input', `the generated graph has no output ${prefix}${p.name}`);
      map.set(p.name, t.data as Float32Array);
    }
    const loss = Number((lossT.data as Float32Array)[0]);
    if (!Number.isFinite(loss)) throw new WeightscopeError('numerical', `the loss is ${loss}`);
    return { loss, map };
  }

  const classes = staticClasses(fwd?.model ?? model, forward.logitsName);
  function checkBatch(batch: Batch): void {
    if (lossKind === 'classification' && !batch.y) throw new WeightscopeError('invalid-input', 'classification loss needs labels y');
    if (lossKind === 'lm' && batch.x.type !== 'int64') throw new WeightscopeError('invalid-input', 'language-model loss needs int64 tokens');
    // A graph's one-hot/gather of an out-of-range label would not fail loudly: check here.
    const labels = (lossKind === 'classification' ? batch.y?.data : batch.x.data) as BigInt64Array;
    if (classes !== null) {
      const limit = BigInt(classes);
      for (let i = 0; i < labels.length; i++) {
        if (labels[i] < 0n || labels[i] >= limit) {
          const what = lossKind === 'classification' ? 'label' : 'token';
          throw new WeightscopeError('invalid-input', `${what} ${labels[i]} is outside the model's ${classes} classes`);
        }
      }
    }
  }

  /** Runs the grad or Hv graph on the batch — on one session, or shard by shard on parallel lanes, size-weighted. */
  async function runDiff(what: 'grad' | 'hvp', batch: Batch, fill: (feeds: Record<string, HostTensor>) => void): Promise<{ loss: number; map: ParamMap }> {
    const { graph, session } = await runner(what);
    const prefix = what === 'grad' ? 'grad.' : 'hv.';
    const one = async (b: Batch, s: RuntimeSession) => {
      const feeds = dataFeeds(graph, b);
      fill(feeds);
      return { ...readOut(await s.run(feeds, undefined, { resident: residentNames(graph) }), prefix), size: b.size };
    };
    const parts = shardsOf(batch);
    if (parts.length === 1) return one(batch, session);
    const sessions = await laneSessions(what, graph, parts.length);
    return mergeWeighted(await Promise.all(parts.map((p, i) => one(p, sessions[i]))));
  }

  async function grad(values: ReadonlyMap<string, Float32Array>, batch: Batch): Promise<GradResult> {
    checkParams(params, values);
    checkBatch(batch);
    const { loss, map } = await runDiff('grad', batch, (feeds) => paramFeeds(values, '', feeds));
    return { loss, grads: map };
  }

  async function hvp(values: ReadonlyMap<string, Float32Array>, batch: Batch, v: ReadonlyMap<string, Float32Array>): Promise<HvpResult> {
    checkParams(params, values);
    checkParams(params, v, 'direction v');
    checkBatch(batch);
    const { loss, map } = await runDiff('hvp', batch, (feeds) => {
      paramFeeds(values, '', feeds);
      paramFeeds(v, 'v.', feeds);
    });
    return { loss, hv: map };
  }

  /** Σ_b (size_b/N)·f_b over batches, for f = (loss, vector). */
  async function weighted(
    batches: Iterable<Batch>,
    one: (b: Batch) => Promise<{ loss: number; map: ParamMap }>,
  ): Promise<{ loss: number; map: ParamMap }> {
    const parts: { loss: number; map: ParamMap; size: number }[] = [];
    for (const b of batches) parts.push({ ...(await one(b)), size: b.size });
    return mergeWeighted(parts);
  }

  function l2Value(values: ReadonlyMap<string, Float32Array>): number {
    if (!l2) return 0;
    let s = 0;
    for (const name of l2.params ?? params.map((p) => p.name)) {
      const w = values.get(name) as Float32Array;
      for (let i = 0; i < w.length; i++) s += w[i] * w[i];
    }
    return 0.5 * l2.coef * s;
  }

  return {
    lossKind,
    criterion,
    device,
    params,
    inputName: forward.inputName,
    initialParams: () => new Map([...initial].map(([k, v]) => [k, v.slice()])),
    async loss(values, batch) {
      checkBatch(batch);
      const s = await forward.sums(values, batch, lossKind, criterion);
      return s.loss / s.count + l2Value(values);
    },
    grad,
    hvp,
    async gradMean(values, batches) {
      const r = await weighted(batches, async (b) => {
        const g = await grad(values, b);
        return { loss: g.loss, map: g.grads };
      });
      return { loss: r.loss, grads: r.map };
    },
    async hvpMean(values, batches, v) {
      const r = await weighted(batches, async (b) => {
        const h = await hvp(values, b, v);
        return { loss: h.loss, map: h.hv };
      });
      return { loss: r.loss, hv: r.map };
    },
    evaluate: (values, ds, batchSize = 256) => forward.evaluate(values, ds, { batchSize, loss: lossKind, criterion }),
    logits: (values, x) => forward.logits(values, x),
    async graph(what) {
      return (await runner(what)).graph.model;
    },
    async dispose() {
      const sessions = [forward.session];
      for (const r of runners.values()) sessions.push((await r).session);
      for (const r of laneRunners.values()) sessions.push(...(await r));
      runners.clear();
      laneRunners.clear();
      await Promise.all(sessions.map((s) => releaseSession(s)));
    },
  };
}

/** Fewest samples a data-parallel shard gets (smaller batches run whole). */
const MIN_SHARD = 16;

/** Rows [start, end) of a tensor whose first axis is the batch: a view, no copy. */
function rowsOf(t: HostTensor, start: number, end: number): HostTensor {
  const row = t.dims.slice(1).reduce((a, c) => a * c, 1);
  return { type: t.type, data: t.data.subarray(start * row, end * row) as HostTensor['data'], dims: [end - start, ...t.dims.slice(1)] };
}

/**
 * Σ (size/n)·(loss, map) with n = Σ size, in order (deterministic), written into the first part's arrays (fresh
 * outputs of a run, owned here): one pass per parameter.
 */
function mergeWeighted(parts: readonly { loss: number; map: ParamMap; size: number }[]): { loss: number; map: ParamMap } {
  const n = parts.reduce((a, p) => a + p.size, 0);
  if (parts.length === 0 || n === 0) throw new WeightscopeError('invalid-input', 'no batches given');
  const [first, ...rest] = parts;
  if (rest.length === 0) return { loss: first.loss, map: first.map };
  const w0 = first.size / n;
  for (const [name, acc] of first.map) {
    const xs = rest.map((p) => {
      const x = p.map.get(name);
      if (!x || x.length !== acc.length) throw new WeightscopeError('shape-mismatch', `parameter sets differ at '${name}'`);
      return x;
    });
    if (xs.length === 1) {
      const x = xs[0], w1 = rest[0].size / n;
      for (let i = 0; i < acc.length; i++) acc[i] = w0 * acc[i] + w1 * x[i];
    } else {
      for (let i = 0; i < acc.length; i++) acc[i] *= w0;
      xs.forEach((x, k) => {
        const w = rest[k].size / n;
        for (let i = 0; i < acc.length; i++) acc[i] += w * x[i];
      });
    }
  }
  return { loss: parts.reduce((a, p) => a + (p.size / n) * p.loss, 0), map: first.map };
}

/** The size of the logits' last axis when the model declares it (classes, or vocabulary size). */
function staticClasses(model: ModelProto, logits: string): number | null {
  const out = (model.graph?.output ?? []).find((o) => o.name === logits);
  const dims = out?.type?.tensorType?.shape?.dim ?? [];
  const last = dims[dims.length - 1];
  const v = last?.dimValue;
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Batches of a whole dataset in order, for gradMean/hvpMean. */
export function datasetBatches(ds: Dataset, batchSize: number): Iterable<Batch> {
  return sequentialBatches(ds, batchSize);
}

/**
 * An engine for an ONNX model (path or decoded), with gradient and Hv graphs generated by src/graph. The forward
 * pass runs src/graph's loss graph cut down to the logits, so re-tied weights (a tied copy read as Transpose of its
 * source) are shared there too.
 */
export async function createEngine(model: string | ModelProto, opts: EngineOptions): Promise<Engine> {
  const proto = typeof model === 'string' ? await readOnnxModel(model) : model;
  const baseDir = typeof model === 'string' ? dirname(model) : process.cwd();
  const g = await import('../graph/index.js');
  const lossGraph = g.buildLossGraph(proto, {
    loss: opts.loss,
    ...(opts.logitsOutput !== undefined ? { logitsOutput: opts.logitsOutput } : {}),
    ...(opts.l2 ? { l2: { coef: opts.l2.coef, ...(opts.l2.params ? { params: [...opts.l2.params] } : {}) } } : {}),
    ...(opts.params ? { params: [...opts.params] } : {}),
    ...(opts.untie !== undefined ? { untie: opts.untie } : {}),
    ...(opts.criterion ? { criterion: opts.criterion } : {}),
  });
  const wide = lossGraph.params.find((p) => p.dtype !== 'float32');
  if (wide) {
    throw new WeightscopeError('unsupported-dtype', `parameter '${wide.name}' is ${wide.dtype}; the runtime trains float32 parameters only`);
  }
  const source: GraphSource = {
    grad: () => g.buildGradGraph(lossGraph),
    hvp: () => g.buildHvpGraph(lossGraph, { withGrad: false }),
    forward: () => ({ model: pruneTo(g.lossModel(lossGraph).model, [lossGraph.logits]), logits: lossGraph.logits }),
    labels: lossGraph.labels ?? null,
  };
  return createEngineWith(proto, baseDir, source, opts);
}
