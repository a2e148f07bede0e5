/**
 * Data parallelism for gradient and Hv calls: a batch cut into contiguous shards, one onnxruntime session per lane
 * (each in its own worker thread), results merged as size-weighted means. onnxruntime parallelises inside each op,
 * which pays off poorly for a small CNN's many small ops (fmnist CNN gradient graph at batch 128: 9.2 ms at 1 thread,
 * 7.9 ms at 2); two shards of 64 on single-threaded sessions in two worker threads took 4.9 ms (measured on the raw
 * graph; the engine's figures: bench/autodiff.bench.ts).
 */
import { WeightscopeError } from '../errors.js';
import type { DerivedGraph } from '../graph/grad.js';
import type { Batch } from './dataset.js';
import type { Device } from './devices.js';
import type { ParamMap } from './params.js';
import { getSession, intraOpThreads, type RuntimeSession } from './session.js';
import type { HostTensor } from './wire.js';

/** Fewest samples a data-parallel shard gets (smaller batches run whole). */
export const MIN_SHARD = 16;

/** Rows [start, end) of a tensor whose first axis is the batch: a view, no copy. */
function rowsOf(t: HostTensor, start: number, end: number): HostTensor {
  const row = t.dims.slice(1).reduce((a, c) => a * c, 1);
  return { type: t.type, data: t.data.subarray(start * row, end * row) as HostTensor['data'], dims: [end - start, ...t.dims.slice(1)] };
}

export class Sharding {
  readonly #lanes: number;
  readonly #device: Device;
  /**
   * Keyed by graph and shard count: a batch too small for every lane gets fewer shards, and a later, larger one
   * needs all k sessions (one cache entry per graph handed a 2-session list to a 3-shard batch).
   */
  readonly #sessions = new Map<string, Promise<RuntimeSession[]>>();
  readonly #shards = new WeakMap<Batch, Batch[]>();

  /** `lanes`: the most shards a batch is cut into (1: never sharded). */
  constructor(lanes: number, device: Device) {
    if (!(Number.isInteger(lanes) && lanes >= 1))
      throw new WeightscopeError('invalid-input', `shards must be a positive integer, not ${lanes}`);
    this.#lanes = lanes;
    this.#device = device;
  }

  /** The batch cut into contiguous shards (views; the same objects each call, so they stay resident per lane). */
  shardsOf(batch: Batch): Batch[] {
    const k = Math.min(this.#lanes, Math.floor(batch.size / MIN_SHARD));
    if (k < 2) return [batch];
    let parts = this.#shards.get(batch);
    if (!parts) {
      parts = [];
      for (let i = 0; i < k; i++) {
        const start = Math.floor((i * batch.size) / k),
          end = Math.floor(((i + 1) * batch.size) / k);
        parts.push({ x: rowsOf(batch.x, start, end), y: batch.y ? rowsOf(batch.y, start, end) : null, size: end - start });
      }
      this.#shards.set(batch, parts);
    }
    return parts;
  }

  /** One session per lane 0..k−1 for graph `what` (threads split between them). */
  sessions(what: string, graph: DerivedGraph, k: number): Promise<RuntimeSession[]> {
    const key = `${what}:${k}`;
    let r = this.#sessions.get(key);
    if (!r) {
      const threads = Math.max(1, Math.floor(intraOpThreads() / k));
      r = Promise.all(Array.from({ length: k }, (_, lane) => getSession(graph.model, { device: this.#device, lane, threads })));
      this.#sessions.set(key, r);
      r.catch(() => this.#sessions.delete(key));
    }
    return r;
  }

  /** Every lane session built so far, forgotten here (the caller releases them). */
  async drain(): Promise<RuntimeSession[]> {
    const all = (await Promise.all(this.#sessions.values())).flat();
    this.#sessions.clear();
    return all;
  }
}

/**
 * Σ (size/n)·(loss, map) with n = Σ size, in order (deterministic), written into the first part's arrays (fresh
 * outputs of a run, owned here): one pass per parameter.
 */
export function mergeWeighted(parts: readonly { loss: number; map: ParamMap; size: number }[]): { loss: number; map: ParamMap } {
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
      const x = xs[0],
        w1 = rest[0].size / n;
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
