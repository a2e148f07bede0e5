/** Hugging Face folders for tests: config.json + model.safetensors from named tensors, and seeded random weights. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import type { DType } from '../../src/io/types.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { mulberry32 } from './random.js';

export interface TestTensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
  readonly dtype?: DType;
}

/** Writes `dir/config.json` and `dir/model.safetensors` (metadata format pt, as transformers saves). */
export async function writeHfFolder(
  dir: string,
  config: Record<string, unknown>,
  tensors: ReadonlyMap<string, TestTensor>,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 1));
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    [...tensors].map(([name, t]) => ({ name, dtype: t.dtype ?? 'F32', shape: t.shape, data: t.data })),
    { format: 'pt' },
  );
  return dir;
}

/** Gaussian N(0, sd²) weights from a seeded stream; 1-D `*.weight` of norms are 1 + noise so they matter. */
export function randomWeights(shapes: ReadonlyMap<string, readonly number[]>, seed: number, sd = 0.2): Map<string, TestTensor> {
  const u = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
  const out = new Map<string, TestTensor>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const norm = shape.length === 1 && /(norm|LayerNorm|layer_norm|ln_).*weight$|gamma$/.test(name);
    out.set(name, { shape, data: Float64Array.from({ length: n }, () => (norm ? 1 : 0) + sd * normal()) });
  }
  return out;
}

/** Every tensor of a safetensors file as float64 (for renaming and rewriting fixtures). */
export async function readAllTensors(path: string): Promise<Map<string, TestTensor>> {
  const r = await openSafetensors(path);
  try {
    const out = new Map<string, TestTensor>();
    for (const t of r.tensors) out.set(t.name, { shape: t.shape, data: await r.readFloat64(t.name), dtype: t.dtype });
    return out;
  } finally {
    await r.close();
  }
}

/** Values as float32 would hold them (what a graph fed these weights computes with). */
export function asFloat32(t: ReadonlyMap<string, TestTensor>): Map<string, Float64Array> {
  return new Map([...t].map(([k, v]) => [k, Float64Array.from(Float32Array.from(v.data))]));
}

/** Relative L2 distance ‖a − b‖ / ‖b‖. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
