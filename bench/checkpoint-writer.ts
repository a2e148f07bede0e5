/**
 * Benchmark checkpoints written as a stream: Gaussian weights (deterministic xorshift + Box–Muller), norms 1,
 * in F32 or BF16, into one model.safetensors or Hugging Face shards (model-0000i-of-0000n.safetensors + index) of at
 * most `maxShardBytes` — a 7B model never exists in memory, only one 1 Mi-element chunk.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export interface TensorSpec {
  name: string;
  shape: number[];
}

/** xorshift128+ uniform in (0, 1) and Box–Muller normals: fast, deterministic, good enough for random weights. */
export function gaussianFiller(seed: number): (out: Float32Array, sd: number) => void {
  let s0 = (seed * 0x9e3779b9) >>> 0 || 1;
  let s1 = 0x6c078965;
  const u = (): number => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return (((s0 + s1) >>> 0) + 0.5) / 4294967296;
  };
  return (out, sd) => {
    for (let i = 0; i < out.length; i += 2) {
      const r = sd * Math.sqrt(-2 * Math.log(u()));
      const t = 2 * Math.PI * u();
      out[i] = r * Math.cos(t);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(t);
    }
  };
}

const numel = (t: TensorSpec): number => t.shape.reduce((a, b) => a * b, 1);

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

async function writeShard(path: string, tensors: readonly TensorSpec[], dtype: 'F32' | 'BF16', fill: (out: Float32Array, sd: number) => void, std: number): Promise<void> {
  const size = dtype === 'F32' ? 4 : 2;
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', generator: 'weightscope bench' } };
  let offset = 0;
  for (const t of sorted) {
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
    const chunk = new Float32Array(1 << 20);
    const bits = new Uint32Array(chunk.buffer);
    const half = new Uint16Array(1 << 20);
    for (const t of sorted) {
      let left = numel(t);
      const isNorm = t.shape.length === 1;
      while (left > 0) {
        const c = chunk.subarray(0, Math.min(left, chunk.length));
        if (isNorm) c.fill(t.name.endsWith('.weight') ? 1 : 0);
        else fill(c, std);
        if (dtype === 'F32') await fh.write(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
        else {
          // float32 → bfloat16, round to nearest even
          for (let i = 0; i < c.length; i++) {
            const u = bits[i];
            half[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
          }
          await fh.write(new Uint8Array(half.buffer, 0, 2 * c.length));
        }
        left -= c.length;
      }
    }
  } finally {
    await fh.close();
  }
  renameSync(path + '.tmp', path);
}

/**
 * Writes `tensors` into `dir`: model.safetensors when they fit one shard, else HF shards and
 * model.safetensors.index.json. Returns the parameter count and the files.
 */
export async function writeCheckpoint(
  dir: string,
  tensors: readonly TensorSpec[],
  opts: { dtype: 'F32' | 'BF16'; maxShardBytes?: number; seed?: number; std?: number; config?: Record<string, unknown> },
): Promise<{ parameters: number; files: string[] }> {
  mkdirSync(dir, { recursive: true });
  const size = opts.dtype === 'F32' ? 4 : 2;
  const shards = shardPlan(tensors, size, opts.maxShardBytes ?? 2 ** 31);
  const fill = gaussianFiller(opts.seed ?? 1);
  const names = shards.length === 1 ? ['model.safetensors'] : shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    await writeShard(join(dir, names[i]), shards[i], opts.dtype, fill, opts.std ?? 0.02);
    for (const t of shards[i]) weightMap[t.name] = names[i];
  }
  const parameters = tensors.reduce((s, t) => s + numel(t), 0);
  if (shards.length > 1) {
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: parameters * size }, weight_map: weightMap }, null, 1));
  }
  if (opts.config) writeFileSync(join(dir, 'config.json'), JSON.stringify(opts.config, null, 1));
  return { parameters, files: names };
}
