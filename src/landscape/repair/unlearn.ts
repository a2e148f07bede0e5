/**
 * Unlearning on the path (the transformer recipe; bench/repair.md §6): the triggers reverse-engineered from clean data
 * on both endpoints (cleanse.ts) are stamped on a share of the curve's training rows with their true labels, so every
 * trained point of the path learns to ignore them; t is then the point with the best held-out clean accuracy whose
 * own reversal no longer finds the backdoor (verify). Only classes flagged by the anomaly index are unlearned: a
 * clean endpoint pair leaves the curve's training unchanged. No triggered or target data is read.
 */
import { WeightscopeError } from '../../errors.js';
import type { ModelProto } from '../../io/onnx-model.js';
import type { Batch, Dataset } from '../../runtime/dataset.js';
import type { ParamSpec } from '../../runtime/params.js';
import type { DeviceChoice } from '../../runtime/session.js';
import { argmaxRows } from '../../runtime/metrics.js';
import { Rng } from '../../util/random.js';
import { bnStatSpecs } from '../connectivity/bn.js';
import { curveEngine } from '../connectivity/connect.js';
import { createInputGradient } from '../robustness/input-gradient.js';
import {
  anomalyIndices,
  FLAG_INDEX,
  layoutOf,
  logL1Stats,
  type LogL1Stats,
  type ReverseOptions,
  type ReversedTrigger,
  reverseTrigger,
  stampRow,
  type TriggerLayout,
  type TriggerProbe,
} from './cleanse.js';

/** A point passes verification when each flagged target's reversed L1 lies at most this many robust deviations below the flagging endpoint's median. */
export const VERIFY_INDEX = 1;

export interface EndpointCleanse {
  readonly endpoint: 'A' | 'B';
  /** Reversed-trigger L1 per class (null: no mask reached 90 % success). */
  readonly l1: readonly (number | null)[];
  readonly anomaly: readonly number[];
  readonly flagged: readonly number[];
  readonly stats: LogL1Stats;
  /** Centre of mass (row, column) of each flagged mask, for images. */
  readonly centres: readonly { readonly target: number; readonly row: number; readonly col: number }[];
}

export interface Cleansing {
  readonly endpoints: readonly EndpointCleanse[];
  /** The flagged triggers (both endpoints'), stamped during curve training. */
  readonly triggers: readonly ReversedTrigger[];
  readonly layout: TriggerLayout;
  readonly seconds: number;
}

export interface Verification {
  readonly t: number;
  /** Per flagged target: the smallest reversed L1 at w(t) over the restarts and the L1 it had to reach. */
  readonly targets: readonly { readonly target: number; readonly l1: number | null; readonly threshold: number }[];
  readonly pass: boolean;
  readonly seconds: number;
}

/**
 * A probe on `model`'s input gradient (one lane per CPU thread) and its logits for samples of `dims`; `params` (one
 * endpoint) give the logits' width. Whether reversal may run on it: reversalSkipped.
 */
export async function createTriggerProbe(
  model: ModelProto,
  specs: readonly ParamSpec[],
  device: DeviceChoice,
  dims: readonly number[],
  params: ReadonlyMap<string, Float32Array>,
): Promise<TriggerProbe> {
  const ig = await createInputGradient(model, specs, { device });
  const engine = await curveEngine(model, specs, device);
  const size = dims.reduce((a, b) => a * b, 1);
  const probe = await engine.logits(params, { type: 'float32', data: new Float32Array(size), dims: [1, ...dims] });
  return {
    lanes: ig.lanes,
    classes: probe.data.length,
    batchNorm: bnStatSpecs(model).length > 0,
    async inputGrad(lane, params, x, y) {
      return (await ig.batch(lane, params, x, y, dims)).grad;
    },
    async predict(params, x, rows) {
      const out = new Int32Array(rows);
      argmaxRows(await engine.logits(params, { type: 'float32', data: x, dims: [rows, ...dims] }), out, 0);
      return out;
    },
  };
}

/** Classes reversed one by one at most: beyond, the recipe's unlearning is skipped (and an explicit one refused). */
export const MAX_REVERSAL_CLASSES = 100;

/**
 * Null when reversal can run on the probe's model; else the reason the recipe's unlearning is skipped — or, when the
 * caller asked for unlearning, a clear error. It cannot run with BatchNorm (a curve point's statistics would be stale
 * in the input-gradient graph), with fewer than 3 classes (the anomaly index needs a median of real classes), or with
 * more than MAX_REVERSAL_CLASSES (2 × classes × steps input-gradient batches).
 */
export function reversalSkipped(probe: Pick<TriggerProbe, 'classes' | 'batchNorm'>, explicit: boolean): string | null {
  const why = probe.batchNorm
    ? 'trigger reversal needs a model without BatchNormalization'
    : probe.classes < 3
      ? `trigger reversal needs a classifier with at least 3 classes, got ${probe.classes}`
      : probe.classes > MAX_REVERSAL_CLASSES
        ? `trigger reversal runs once per class and endpoint; ${probe.classes} classes is over the ${MAX_REVERSAL_CLASSES} it allows`
        : null;
  if (!why) return null;
  if (explicit) throw new WeightscopeError('invalid-input', `${why}: set unlearn 0`);
  return `${why}, so the recipe's unlearning was skipped`;
}

/** Runs `jobs` over the probe's lanes (each lane takes the next job when it is free). */
async function onLanes<T>(lanes: number, jobs: readonly ((lane: number) => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, jobs.length) }, async (_, lane) => {
      while (next < jobs.length) {
        const j = next++;
        out[j] = await jobs[j](lane);
      }
    }),
  );
  return out;
}

function centre(mask: Float32Array, L: TriggerLayout, width: number | null): { row: number; col: number } | null {
  if (!width) return null;
  let r = 0;
  let c = 0;
  let s = 0;
  for (let j = 0; j < L.pixels; j++) {
    r += mask[j] * Math.floor(j / width);
    c += mask[j] * (j % width);
    s += mask[j];
  }
  return s > 0 ? { row: r / s, col: c / s } : null;
}

/** Reverse-engineers every class's trigger on each endpoint and flags the anomalous ones. */
export async function cleanseEndpoints(
  probe: TriggerProbe,
  /** The path's endpoints, A then B (one is enough to inspect a single model). */
  endpoints: readonly ReadonlyMap<string, Float32Array>[],
  data: Dataset,
  o: ReverseOptions,
  progress?: (done: number, total: number) => void,
): Promise<Cleansing> {
  const classes = probe.classes;
  const t0 = performance.now();
  const L = layoutOf(data);
  const width = data.x.dims.length === 4 ? data.x.dims[3] : null;
  const result: EndpointCleanse[] = [];
  const triggers: ReversedTrigger[] = [];
  let done = 0;
  for (const [e, params] of endpoints.entries()) {
    const rev = await onLanes(
      probe.lanes,
      Array.from({ length: classes }, (_, k) => async (lane: number) => {
        const r = await reverseTrigger(probe, params, data, L, k, lane, o);
        progress?.(++done, endpoints.length * classes);
        return r;
      }),
    );
    const l1 = rev.map((r) => r.l1);
    const anomaly = anomalyIndices(l1);
    const flagged = rev.filter((r, k) => anomaly[k] > FLAG_INDEX && Number.isFinite(r.l1)).map((r) => r.target);
    for (const k of flagged) triggers.push(rev[k]);
    result.push({
      endpoint: e === 0 ? 'A' : 'B',
      l1: l1.map((v) => (Number.isFinite(v) ? v : null)),
      anomaly,
      flagged,
      stats: logL1Stats(l1),
      centres: flagged.flatMap((k) => {
        const c = centre(rev[k].mask, L, width);
        return c ? [{ target: k, ...c }] : [];
      }),
    });
  }
  return { endpoints: result, triggers, layout: L, seconds: (performance.now() - t0) / 1000 };
}

/** A batch transform for curve training: each row, with probability `share`, gets one of the flagged triggers stamped on (label kept). */
export function unlearningBatches(c: Cleansing, share: number, seed: number): (b: Batch) => Batch {
  if (!(share > 0 && share <= 1)) throw new WeightscopeError('invalid-input', `the unlearning share must be in (0, 1], got ${share}`);
  if (c.triggers.length === 0) return (b) => b;
  const rng = new Rng(seed);
  return (b) => {
    const src = b.x.data as Float32Array;
    const x = Float32Array.from(src);
    for (let i = 0; i < b.size; i++) {
      if (rng.uniform() >= share) continue;
      stampRow(src, x, i, c.triggers[rng.int(c.triggers.length)], c.layout);
    }
    return { ...b, x: { type: 'float32', data: x, dims: b.x.dims } };
  };
}

/**
 * Reverses each flagged target again at w(t) (one restart per lane; the smallest L1 counts) and passes the point when
 * every target's L1 is within VERIFY_INDEX robust deviations of the median of the endpoint(s) that flagged it.
 */
export async function verifyPoint(
  probe: TriggerProbe,
  params: ReadonlyMap<string, Float32Array>,
  t: number,
  data: Dataset,
  c: Cleansing,
  o: ReverseOptions,
): Promise<Verification> {
  const t0 = performance.now();
  const targets = [...new Set(c.triggers.map((r) => r.target))].sort((a, b) => a - b);
  const rows = [];
  for (const k of targets) {
    const threshold = Math.max(
      ...c.endpoints.filter((e) => e.flagged.includes(k)).map((e) => Math.exp(e.stats.median - VERIFY_INDEX * e.stats.mad)),
    );
    const restarts = await onLanes(
      probe.lanes,
      Array.from(
        { length: probe.lanes },
        (_, r) => (lane: number) => reverseTrigger(probe, params, data, c.layout, k, lane, { ...o, seed: o.seed + 7919 * (r + 1) }),
      ),
    );
    const l1 = Math.min(...restarts.map((r) => r.l1));
    rows.push({ target: k, l1: Number.isFinite(l1) ? l1 : null, threshold });
  }
  return { t, targets: rows, pass: rows.every((r) => r.l1 === null || r.l1 >= r.threshold), seconds: (performance.now() - t0) / 1000 };
}
