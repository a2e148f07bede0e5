/**
 * Datasets: a safetensors file with `x` (float32 images/features [N, ...] or int64 tokens [N, S]) and `y` (int64
 * labels [N]; absent for language models). Batches are copies of chosen rows; epochs are index orders — shuffled
 * with the project's seeded xoshiro128** (src/util/random.ts), optionally tiled to a fixed number of samples.
 */
import { WeightscopeError } from '../errors.js';
import { openSafetensors } from '../io/safetensors.js';
import type { TensorInfo, TensorReader } from '../io/types.js';
import type { Rng } from '../util/random.js';
import type { HostTensor } from './wire.js';

export type LossKind = 'classification' | 'lm';

export interface Dataset {
  /** Number of samples (rows of x). */
  readonly n: number;
  /** float32 features or int64 tokens, first dim = n. */
  readonly x: HostTensor;
  /** int64 labels [n], or null (language-model data). */
  readonly y: BigInt64Array | null;
}

export interface Batch {
  readonly x: HostTensor;
  /** int64 labels [size] as a tensor, or null. */
  readonly y: HostTensor | null;
  readonly size: number;
}

export interface LoadDatasetOptions {
  /** Tensor holding the inputs (default 'x'). */
  readonly x?: string;
  /** Tensor holding the labels (default 'y'; absent is allowed only for int64 x, i.e. tokens). */
  readonly y?: string;
}

function bad(path: string, msg: string): WeightscopeError {
  return new WeightscopeError('invalid-input', `${path}: ${msg}`, { path });
}

/** Copy the little-endian bytes into an aligned buffer we own (the reader's bytes may be an unaligned view). */
function aligned(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

async function readInts(r: TensorReader, info: TensorInfo, path: string): Promise<BigInt64Array> {
  const bytes = await r.readBytes(info.name);
  if (info.dtype === 'I64') return new BigInt64Array(aligned(bytes));
  if (info.dtype === 'I32') return BigInt64Array.from(new Int32Array(aligned(bytes)), (v) => BigInt(v));
  throw bad(path, `tensor '${info.name}' must be int64 (or int32), got ${info.dtype}`);
}

export async function loadDataset(path: string, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const xName = opts.x ?? 'x';
  const yName = opts.y ?? 'y';
  const r = await openSafetensors(path);
  try {
    const xi = r.tensors.find((t) => t.name === xName);
    if (!xi) throw bad(path, `no tensor '${xName}' (has: ${r.tensors.map((t) => t.name).join(', ') || 'none'})`);
    if (xi.shape.length < 2) throw bad(path, `'${xName}' must be [N, ...] with at least 2 dims, got [${xi.shape.join(', ')}]`);
    let x: HostTensor;
    if (xi.dtype === 'F32') {
      x = { type: 'float32', data: new Float32Array(aligned(await r.readBytes(xName))), dims: [...xi.shape] };
    } else if (xi.dtype === 'F64' || xi.dtype === 'F16' || xi.dtype === 'BF16') {
      x = { type: 'float32', data: Float32Array.from(await r.readFloat64(xName)), dims: [...xi.shape] };
    } else if (xi.dtype === 'I64' || xi.dtype === 'I32') {
      x = { type: 'int64', data: await readInts(r, xi, path), dims: [...xi.shape] };
    } else {
      throw bad(path, `'${xName}' must be float (features) or int64 (tokens), got ${xi.dtype}`);
    }
    const yi = r.tensors.find((t) => t.name === yName);
    let y: BigInt64Array | null = null;
    if (yi) {
      if (yi.shape.length !== 1 || yi.shape[0] !== xi.shape[0]) {
        throw bad(path, `'${yName}' must be [${xi.shape[0]}] to match '${xName}', got [${yi.shape.join(', ')}]`);
      }
      y = await readInts(r, yi, path);
    } else if (opts.y !== undefined) {
      throw bad(path, `no tensor '${yName}'`);
    } else if (x.type !== 'int64') {
      throw bad(path, `no labels '${yName}': only token datasets (int64 '${xName}') may come without labels`);
    }
    return makeDataset(x, y);
  } finally {
    await r.close();
  }
}

/** A dataset from arrays already in memory (validated). */
export function makeDataset(x: HostTensor, y: BigInt64Array | null): Dataset {
  if (x.type !== 'float32' && x.type !== 'int64') {
    throw new WeightscopeError('invalid-input', `dataset x must be float32 or int64, got ${x.type}`);
  }
  const n = x.dims[0] ?? 0;
  if (x.dims.length < 2 || n <= 0)
    throw new WeightscopeError('invalid-input', `dataset x must be [N, ...] with N > 0, got [${x.dims.join(', ')}]`);
  const size = x.dims.reduce((p, d) => p * d, 1);
  if (x.data.length !== size)
    throw new WeightscopeError('shape-mismatch', `dataset x has ${x.data.length} values for dims [${x.dims.join(', ')}]`);
  if (y) {
    if (y.length !== n) throw new WeightscopeError('shape-mismatch', `dataset y has ${y.length} labels for ${n} samples`);
    for (let i = 0; i < n; i++) {
      if (y[i] < 0n) throw new WeightscopeError('invalid-input', `dataset label y[${i}] = ${y[i]} is negative`);
    }
  }
  return { n, x, y };
}

/** What loss a dataset implies: labels → classification; int64 tokens without labels → language model. */
export function inferLossKind(ds: Dataset): LossKind {
  if (ds.y) return 'classification';
  if (ds.x.type === 'int64') return 'lm';
  throw new WeightscopeError('invalid-input', 'dataset has float inputs but no labels y');
}

/** The rows `indices` of the dataset as one batch (copied). */
export function takeBatch(ds: Dataset, indices: ArrayLike<number>): Batch {
  const size = indices.length;
  if (size === 0) throw new WeightscopeError('invalid-input', 'a batch needs at least one sample');
  const row = ds.x.data.length / ds.n;
  const dims = [size, ...ds.x.dims.slice(1)];
  let x: HostTensor;
  if (ds.x.type === 'int64') {
    const src = ds.x.data as BigInt64Array;
    const out = new BigInt64Array(size * row);
    for (let b = 0; b < size; b++) out.set(src.subarray(indices[b] * row, (indices[b] + 1) * row), b * row);
    x = { type: 'int64', data: out, dims };
  } else {
    const src = ds.x.data as Float32Array;
    const out = new Float32Array(size * row);
    for (let b = 0; b < size; b++) out.set(src.subarray(indices[b] * row, (indices[b] + 1) * row), b * row);
    x = { type: 'float32', data: out, dims };
  }
  let y: HostTensor | null = null;
  if (ds.y) {
    const out = new BigInt64Array(size);
    for (let b = 0; b < size; b++) out[b] = ds.y[indices[b]];
    y = { type: 'int64', data: out, dims: [size] };
  }
  return { x, y, size };
}

/** Rows start..end-1 (the first `count` samples, e.g. the fixtures' "first 128 of the clean subset"). */
export function sliceBatch(ds: Dataset, start: number, end: number): Batch {
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= ds.n)) {
    throw new WeightscopeError('invalid-input', `sample range ${start}..${end} is outside the dataset's ${ds.n} samples`);
  }
  return takeBatch(
    ds,
    Array.from({ length: end - start }, (_, i) => start + i),
  );
}

export interface EpochOptions {
  /** Shuffle with this generator; without it the order is 0, 1, 2, … */
  readonly rng?: Rng;
  /**
   * Samples per epoch: the dataset's indices repeated (i mod n) until this many, then shuffled — as the
   * Zhao et al. repair code tiles its small clean set. Default n.
   */
  readonly samplesPerEpoch?: number;
}

/** The sample order of one epoch. */
export function epochOrder(n: number, opts: EpochOptions = {}): Uint32Array {
  const total = opts.samplesPerEpoch ?? n;
  if (!Number.isInteger(total) || total <= 0) {
    throw new WeightscopeError('invalid-input', `samples per epoch must be a positive integer, got ${total}`);
  }
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i % n;
  if (opts.rng) opts.rng.shuffle(order);
  return order;
}

/** Split an epoch order into batches of `batchSize`; the last partial batch is kept (weigh it by its size). */
export function* batchesOf(ds: Dataset, order: Uint32Array, batchSize: number): Generator<Batch> {
  checkBatchSize(batchSize);
  for (let s = 0; s < order.length; s += batchSize) yield takeBatch(ds, order.subarray(s, Math.min(order.length, s + batchSize)));
}

/** Batches over the whole dataset in order (evaluation). */
export function* sequentialBatches(ds: Dataset, batchSize: number): Generator<Batch> {
  checkBatchSize(batchSize);
  for (let s = 0; s < ds.n; s += batchSize) yield sliceBatch(ds, s, Math.min(ds.n, s + batchSize));
}

export function batchCount(samples: number, batchSize: number): number {
  return Math.ceil(samples / batchSize);
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new WeightscopeError('invalid-input', `batch size must be a positive integer, got ${batchSize}`);
  }
}
