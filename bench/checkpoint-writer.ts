/**
 * The benchmarks' one checkpoint writer: generated safetensors streamed to disk tensor by tensor in chunks of 1 Mi
 * values, so a multi-GB model (a 7B folder is 13.5 GB) never sits in memory. Each file is written to PATH.tmp and
 * renamed, so an interrupted run leaves no half file under the real name.
 *  - streamSafetensors: any tensors, any values (the caller fills each chunk), F32 or raw BF16 bits;
 *  - writeCheckpoint: one F32 file of Gaussian N(0, 0.02²) matrices, norm weights 1 and biases 0;
 *  - writeHfFolder: the same in F32 or BF16 as a Hugging Face folder (shards ≤ maxShardBytes + index, config.json).
 * Used by gpt2-small.ts, llm.ts, scale-out.bench.ts and gpu/llama-folder.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../src/util/random.js';

export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export type Dtype = 'F32' | 'BF16';

/** The chunk to fill: float32 values for 'F32', raw bfloat16 bits for 'BF16'. */
export type Chunk<D extends Dtype> = D extends 'F32' ? Float32Array : Uint16Array;

const numel = (t: TensorSpec): number => t.shape.reduce((a, b) => a * b, 1);

/** Writes `tensors` in the given order, each chunk's values from `fill`; returns the number of values written. */
export async function streamSafetensors<D extends Dtype>(
  path: string,
  tensors: readonly TensorSpec[],
  dtype: D,
  fill: (t: TensorSpec, chunk: Chunk<D>) => void,
  generator: string,
): Promise<number> {
  const size = dtype === 'F32' ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', generator } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size * numel(t)] };
    offset += size * numel(t);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fh = await open(path + '.tmp', 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    await fh.write(len);
    await fh.write(Buffer.from(json, 'utf8'));
    const chunk = (dtype === 'F32' ? new Float32Array(1 << 20) : new Uint16Array(1 << 20)) as Chunk<D>;
    for (const t of tensors) {
      let left = numel(t);
      while (left > 0) {
        const c = chunk.subarray(0, Math.min(left, chunk.length)) as Chunk<D>;
        fill(t, c);
        await fh.write(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
        left -= c.length;
      }
    }
  } finally {
    await fh.close();
  }
  await rename(path + '.tmp', path);
  return offset / size;
}

/** Box–Muller normals from the project's seeded xoshiro128** (src/util/random.ts); one 32-bit draw per uniform. */
export function gaussianFiller(seed: number): (out: Float32Array, sd: number) => void {
  const rng = new Rng(seed);
  const u = (): number => (rng.nextUint32() + 0.5) / 4294967296;
  return (out, sd) => {
    for (let i = 0; i < out.length; i += 2) {
      const r = sd * Math.sqrt(-2 * Math.log(u()));
      const t = 2 * Math.PI * u();
      out[i] = r * Math.cos(t);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(t);
    }
  };
}

/** Chunk filler of the benchmark checkpoints: matrices N(0, std²), 1-D tensors 1 (`.weight`) or 0 (biases). */
function randomWeights<D extends Dtype>(dtype: D, seed: number, std: number): (t: TensorSpec, c: Chunk<D>) => void {
  const gauss = gaussianFiller(seed);
  if (dtype === 'F32') {
    return ((t: TensorSpec, c: Float32Array) => {
      if (t.shape.length === 1) c.fill(t.name.endsWith('.weight') ? 1 : 0);
      else gauss(c, std);
    }) as (t: TensorSpec, c: Chunk<D>) => void;
  }
  const scratch = new Float32Array(1 << 20);
  const bits = new Uint32Array(scratch.buffer);
  return ((t: TensorSpec, c: Uint16Array) => {
    if (t.shape.length === 1) return void c.fill(t.name.endsWith('.weight') ? 0x3f80 : 0); // 1.0 / 0.0
    gauss(scratch.subarray(0, c.length), std);
    for (let i = 0; i < c.length; i++) c[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16; // round to nearest even
  }) as (t: TensorSpec, c: Chunk<D>) => void;
}

const byName = (tensors: readonly TensorSpec[]): TensorSpec[] => [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));

/** One F32 safetensors file of these tensors (sorted by name): N(0, 0.02²) matrices, norms 1/0. */
export async function writeCheckpoint(path: string, tensors: readonly TensorSpec[], seed = 1): Promise<number> {
  return streamSafetensors(path, byName(tensors), 'F32', randomWeights('F32', seed, 0.02), 'weightscope bench');
}

/** Tensors into shards of at most maxShardBytes, in the given order (a tensor larger than that gets its own shard). */
function shardPlan(tensors: readonly TensorSpec[], size: number, maxShardBytes: number): TensorSpec[][] {
  const shards: TensorSpec[][] = [[]];
  let bytes = 0;
  for (const t of tensors) {
    const b = numel(t) * size;
    if (bytes > 0 && bytes + b > maxShardBytes) {
      shards.push([]);
      bytes = 0;
    }
    shards[shards.length - 1].push(t);
    bytes += b;
  }
  return shards;
}

/**
 * Writes `tensors` into `dir` as a Hugging Face folder: model.safetensors when they fit one shard, else
 * model-0000i-of-0000n.safetensors and model.safetensors.index.json; config.json when given. One random stream runs
 * through all shards. Returns the parameter count and the files.
 */
export async function writeHfFolder(
  dir: string,
  tensors: readonly TensorSpec[],
  opts: { dtype: Dtype; maxShardBytes?: number; seed?: number; std?: number; config?: Record<string, unknown> },
): Promise<{ parameters: number; files: string[] }> {
  mkdirSync(dir, { recursive: true });
  const size = opts.dtype === 'F32' ? 4 : 2;
  const shards = shardPlan(tensors, size, opts.maxShardBytes ?? 2 ** 31);
  const fill = randomWeights(opts.dtype, opts.seed ?? 1, opts.std ?? 0.02);
  const pad = (i: number): string => String(i).padStart(5, '0');
  const names =
    shards.length === 1 ? ['model.safetensors'] : shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    await streamSafetensors(join(dir, names[i]), byName(shards[i]), opts.dtype, fill, 'weightscope bench');
    for (const t of shards[i]) weightMap[t.name] = names[i];
  }
  const parameters = tensors.reduce((s, t) => s + numel(t), 0);
  if (shards.length > 1) {
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: parameters * size }, weight_map: weightMap }, null, 1),
    );
  }
  if (opts.config) writeFileSync(join(dir, 'config.json'), JSON.stringify(opts.config, null, 1));
  return { parameters, files: names };
}
