/**
 * Sharded checkpoints (`model.safetensors.index.json`, `pytorch_model.bin.index.json`): the `weight_map` {tensor:
 * shard file} read and validated once, for every format. Shards resolve beside the index (plain relative names, no
 * '..', no absolute paths); after opening, every mapped tensor must be in the merged shards.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { WeightscopeError } from '../errors.js';
import type { TensorReader } from './types.js';

export interface ShardIndex {
  /** Shard paths in order of first appearance in the weight_map. */
  readonly shards: string[];
  /** Tensor name → shard path. */
  readonly weightMap: ReadonlyMap<string, string>;
}

function corrupt(where: string, msg: string): WeightscopeError {
  return new WeightscopeError('corrupt-file', `${where}: ${msg}`, { path: where });
}

export async function readShardIndex(indexPath: string): Promise<ShardIndex> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new WeightscopeError('not-found', `${indexPath}: no such file`, { path: indexPath });
    }
    if (e instanceof SyntaxError) throw corrupt(indexPath, `index is not valid JSON (${e.message})`);
    throw new WeightscopeError('not-found', `cannot read index ${indexPath}: ${(e as Error).message}`, { path: indexPath });
  }
  const dir = dirname(indexPath);
  const weightMap = new Map<string, string>();
  for (const [tensor, file] of parseWeightMap(json, indexPath)) weightMap.set(tensor, join(dir, file));
  return { shards: [...new Set(weightMap.values())], weightMap };
}

/**
 * The validated `weight_map` of a parsed index: tensor → shard file name relative to the index (no '..', not
 * absolute, not empty), at least one entry. `where` names the index in errors. Also used for indexes fetched from
 * the hub, before any file exists.
 */
export function parseWeightMap(json: unknown, where: string): Map<string, string> {
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    throw corrupt(where, 'index has no "weight_map" object');
  }
  const out = new Map<string, string>();
  for (const [tensor, file] of Object.entries(map as Record<string, unknown>)) {
    // A NUL or a segment over NAME_MAX (255 bytes) would reach the file system as a Node error, not a clear one.
    const segments = typeof file === 'string' ? file.split(/[\\/]/) : [];
    if (
      typeof file !== 'string' ||
      file === '' ||
      isAbsolute(file) ||
      segments.includes('..') ||
      file.includes('\0') ||
      segments.some((s) => Buffer.byteLength(s) > 255)
    ) {
      throw corrupt(where, `weight_map entry "${tensor}" names an invalid shard ${JSON.stringify(file)}`);
    }
    out.set(tensor, file);
  }
  if (out.size === 0) throw corrupt(where, 'index lists no tensors');
  return out;
}

/** A 'corrupt-file' error when the index maps a tensor that the opened shards do not hold. */
export function checkShardIndex(indexPath: string, index: ShardIndex, reader: TensorReader): void {
  const have = new Set(reader.tensors.map((t) => t.name));
  const missing = [...index.weightMap.keys()].filter((n) => !have.has(n));
  if (missing.length > 0) {
    throw new WeightscopeError(
      'corrupt-file',
      `${indexPath}: weight_map names ${missing.length} tensor(s) that no shard holds, e.g. "${missing[0]}" (in ${index.weightMap.get(missing[0])})`,
      { path: indexPath, missing: missing.slice(0, 20) },
    );
  }
}
