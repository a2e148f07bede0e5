/**
 * The training/analysis engine: loss, gradient and exact Hessian-vector product of a model's mean loss on a batch,
 * with the parameters fed as graph inputs (one session per graph, any weights). The gradient and Hv graphs come from
 * src/graph (reverse mode over ONNX); the forward pass (loss/accuracy) runs the model's own graph.
 * Every multi-batch quantity is a size-weighted mean over batches, i.e. the quantity of the mean loss over all data.
 * What the graphs are fed and give back: feeds.ts; data-parallel shards on the CPU: shards.ts.
 */
import { dirname } from 'node:path';
import { WeightscopeError } from '../errors.js';
import type { DerivedGraph } from '../graph/grad.js';
import { CE, type Criterion } from '../graph/criteria.js';
import { readOnnxModel, type ModelProto } from '../io/onnx-model.js';
import type { Batch, Dataset, LossKind } from './dataset.js';
import { sequentialBatches } from './dataset.js';
import type { Device, DeviceChoice } from './devices.js';
import { DiffFeeds, staticClasses, type DiffOutputs } from './feeds.js';
import { createForward, type EvalResult, type ForwardRunner } from './forward.js';
import { pruneTo } from './forward-graph.js';
import { checkParams, loadParams, specOf, type ParamMap, type ParamSpec } from './params.js';
import { batchCoupling, lossGraphCoupling } from './separable.js';
import { getSession, intraOpThreads, releaseSession, resolveDevice, type RuntimeSession } from './session.js';
import { mergeWeighted, Sharding } from './shards.js';
import type { HostTensor } from './wire.js';

/** What src/graph hands back for a gradient or Hv graph (graph/grad.ts's DerivedGraph, under the runtime's name). */
export type DiffGraph = DerivedGraph;

/** Builds the differentiated graphs on demand (so a forward-only use never pays for them). */
export interface GraphSource {
  grad(): DiffGraph | Promise<DiffGraph>;
  hvp(): DiffGraph | Promise<DiffGraph>;
  /** The forward graph (parameters as inputs) and its logits output; default: the model itself. */
  forward?(): { model: ModelProto; logits: string };
  /** Name of the labels input of the differentiated graphs (default 'y'; null for language models). */
  labels?: string | null;
  /**
   * Why the model may mix samples across a batch (runtime/separable.ts), or null, from a graph the source has
   * already shape-inferred; default: the model is analysed anew.
   */
  coupling?(): string | null;
}

export interface L2Option {
  /** c in 0.5·c·‖θ‖². */
  readonly coef: number;
  /** Parameters the term covers (default all). */
  readonly params?: readonly string[];
}

export interface EngineOptions {
  readonly loss: LossKind;
  /** A device, or 'auto' (a usable GPU, else the CPU); Engine.device says which one runs. Default 'cpu'. */
  readonly device?: DeviceChoice;
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
  /** The device the sessions run on ('auto' resolved). */
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
export async function createEngineWith(model: ModelProto, baseDir: string, source: GraphSource, opts: EngineOptions): Promise<Engine> {
  const device = await resolveDevice(opts.device);
  const lossKind = opts.loss;
  const criterion = opts.criterion ?? CE;
  const gradGraph = await source.grad();
  const params = gradGraph.params.map((p) => specOf(p.name, p.dims));
  const initial = (
    await loadParams(
      model,
      baseDir,
      params.map((p) => p.name),
    )
  ).values;
  const fwd = source.forward?.() ?? null;
  const forward: ForwardRunner = await createForward(fwd?.model ?? model, params, {
    device,
    logitsOutput: fwd?.logits ?? opts.logitsOutput,
  });
  const l2 = opts.l2 ?? null;
  if (l2) {
    const known = new Set(params.map((p) => p.name));
    const bad = (l2.params ?? []).filter((n) => !known.has(n));
    if (bad.length) throw new WeightscopeError('not-found', `L2 term names unknown parameters: ${bad.join(', ')}`);
  }
  const feeds = new DiffFeeds(
    params,
    source.labels === undefined ? 'y' : source.labels,
    lossKind,
    staticClasses(fwd?.model ?? model, forward.logitsName),
  );
  // Shards run on the CPU only, and only for a model that treats samples independently.
  const separable = (): boolean => (source.coupling ? source.coupling() : batchCoupling(model)) === null;
  const sharding = new Sharding(opts.shards ?? (device === 'cpu' && separable() ? intraOpThreads() : 1), device);

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

  /** Runs the grad or Hv graph on the batch — on one session, or shard by shard on parallel lanes, size-weighted. */
  async function runDiff(what: 'grad' | 'hvp', batch: Batch, fill: (f: Record<string, HostTensor>) => void): Promise<DiffOutputs> {
    const { graph, session } = await runner(what);
    const prefix = what === 'grad' ? 'grad.' : 'hv.';
    const one = async (b: Batch, s: RuntimeSession) => {
      const f = feeds.data(graph, b);
      fill(f);
      return { ...feeds.read(await s.run(f, undefined, { resident: feeds.residentNames(graph) }), prefix), size: b.size };
    };
    const parts = sharding.shardsOf(batch);
    if (parts.length === 1) return one(batch, session);
    const sessions = await sharding.sessions(what, graph, parts.length);
    return mergeWeighted(await Promise.all(parts.map((p, i) => one(p, sessions[i]))));
  }

  async function grad(values: ReadonlyMap<string, Float32Array>, batch: Batch): Promise<GradResult> {
    checkParams(params, values);
    feeds.check(batch);
    const { loss, map } = await runDiff('grad', batch, (f) => feeds.params(values, '', f));
    return { loss, grads: map };
  }

  async function hvp(values: ReadonlyMap<string, Float32Array>, batch: Batch, v: ReadonlyMap<string, Float32Array>): Promise<HvpResult> {
    checkParams(params, values);
    checkParams(params, v, 'direction v');
    feeds.check(batch);
    const { loss, map } = await runDiff('hvp', batch, (f) => {
      feeds.params(values, '', f);
      feeds.params(v, 'v.', f);
    });
    return { loss, hv: map };
  }

  /** Σ_b (size_b/N)·f_b over batches, for f = (loss, vector). */
  async function weighted(batches: Iterable<Batch>, one: (b: Batch) => Promise<DiffOutputs>): Promise<DiffOutputs> {
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
      feeds.check(batch);
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
      runners.clear();
      sessions.push(...(await sharding.drain()));
      await Promise.all(sessions.map((s) => releaseSession(s)));
    },
  };
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
    throw new WeightscopeError(
      'unsupported-dtype',
      `parameter '${wide.name}' is ${wide.dtype}; the runtime trains float32 parameters only`,
    );
  }
  const source: GraphSource = {
    grad: () => g.buildGradGraph(lossGraph),
    hvp: () => g.buildHvpGraph(lossGraph, { withGrad: false }),
    forward: () => ({ model: pruneTo(g.lossModel(lossGraph).model, [lossGraph.logits]), logits: lossGraph.logits }),
    labels: lossGraph.labels ?? null,
    // The loss graph is the model parsed and shape-inferred once: the batch-axis analysis reads it too.
    coupling: () => lossGraphCoupling(lossGraph),
  };
  return createEngineWith(proto, baseDir, source, opts);
}
