/** Test helpers for src/graph: run generated models with onnxruntime-node, compare arrays. */
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { openSafetensors } from '../../src/io/safetensors.js';
import { tensorValues, type OnnxTensor } from '../../src/graph/ir.js';
import { mulberry32 } from '../helpers/random.js';

const { onnx } = onnxProto;

export type Feeds = Record<string, ort.Tensor>;

const sessionOpts: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  logSeverityLevel: 3,
  graphOptimizationLevel: 'basic',
};

export async function session(model: onnxProto.onnx.IModelProto): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(onnx.ModelProto.encode(model as onnxProto.onnx.ModelProto).finish(), sessionOpts);
}

export async function run(model: onnxProto.onnx.IModelProto, feeds: Feeds): Promise<Record<string, Float64Array>> {
  const s = await session(model);
  try {
    return await runSession(s, feeds);
  } finally {
    await s.release();
  }
}

export async function runSession(s: ort.InferenceSession, feeds: Feeds): Promise<Record<string, Float64Array>> {
  const out = await s.run(feeds);
  const res: Record<string, Float64Array> = {};
  for (const [k, t] of Object.entries(out)) res[k] = Float64Array.from(t.data as ArrayLike<number | bigint>, Number);
  return res;
}

export function f32(dims: number[], data: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), dims);
}
export function f64(dims: number[], data: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor('float64', Float64Array.from(data), dims);
}
export function i64(dims: number[], data: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(Array.from(data), (v) => BigInt(v)),
    dims,
  );
}

export function paramFeeds(values: Map<string, OnnxTensor>): Feeds {
  const feeds: Feeds = {};
  for (const [name, t] of values) {
    const dims = (t.dims ?? []).map(Number);
    const v = tensorValues(t)!;
    feeds[name] = t.dataType === 11 ? f64(dims, v) : f32(dims, v);
  }
  return feeds;
}

export interface StTensor {
  dtype: string;
  shape: number[];
  data: Float64Array;
}

/** All tensors of a safetensors file as float64 (int64 values exact below 2^53), plus its metadata. */
export async function readSt(path: string): Promise<{ tensors: Map<string, StTensor>; metadata: Record<string, string> }> {
  const r = await openSafetensors(path);
  try {
    const tensors = new Map<string, StTensor>();
    for (const t of r.tensors) {
      let data: Float64Array;
      if (t.dtype === 'I64') {
        const b = await r.readBytes(t.name);
        data = Float64Array.from(new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), Number);
      } else data = await r.readFloat64(t.name);
      tensors.set(t.name, { dtype: t.dtype, shape: [...t.shape], data });
    }
    return { tensors, metadata: { ...r.metadata } };
  } finally {
    await r.close();
  }
}

export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-300);
}

export function dotp(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32). */
export function rng(seed: number): () => number {
  const u = mulberry32(seed);
  return () => u() * 2 - 1;
}
