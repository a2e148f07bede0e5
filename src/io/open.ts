/**
 * One entry point for every checkpoint: resolve what the user typed (src/io/hf.ts), then open it with the reader
 * its content calls for. Formats are told apart by their bytes (src/io/sniff.ts), not by file extension.
 */
import { WeightscopeError } from '../errors.js';
import type { TensorInfo, TensorReader } from './types.js';
import { resolveModelPath } from './hf.js';
import type { ResolveOptions, ResolvedModel } from './hf.js';
import { openOnnx } from './onnx.js';
import { openPytorch } from './pytorch.js';
import { openSafetensors, openSafetensorsIndex } from './safetensors.js';
import { checkShardIndex, readShardIndex } from './shard-index.js';

export { sniffFormat } from './sniff.js';
export type { SniffedFormat } from './sniff.js';
export { resolveModelPath } from './hf.js';
export type { ResolveOptions, ResolvedModel } from './hf.js';

export interface OpenedCheckpoint {
  readonly reader: TensorReader;
  readonly resolved: ResolvedModel;
}

export async function openCheckpoint(spec: string, opts: ResolveOptions = {}): Promise<OpenedCheckpoint> {
  const resolved = await resolveModelPath(spec, opts);
  return { reader: await openResolved(resolved), resolved };
}

export async function openResolved(m: ResolvedModel): Promise<TensorReader> {
  switch (m.format) {
    case 'safetensors':
      return m.indexFile ? openSafetensorsIndex(m.indexFile) : openSafetensors(m.files.length === 1 ? m.files[0] : m.files);
    case 'onnx':
      return openOnnx(m.files[0]);
    case 'pytorch': {
      if (m.files.length === 1 && !m.indexFile) return openPytorch(m.files[0]);
      const readers: TensorReader[] = [];
      try {
        for (const f of m.files) readers.push(await openPytorch(f));
        const merged = mergeReaders(readers);
        if (m.indexFile) checkShardIndex(m.indexFile, await readShardIndex(m.indexFile), merged);
        return merged;
      } catch (e) {
        await Promise.all(readers.map((r) => r.close().catch(() => undefined)));
        throw e;
      }
    }
  }
}

/**
 * Shards as one reader: tensors in shard order, each name served by its own shard. A name in two shards is a
 * corrupt checkpoint (which copy would be the weight?). Closing closes every shard.
 */
export function mergeReaders(readers: readonly TensorReader[]): TensorReader {
  if (readers.length === 0) throw new WeightscopeError('invalid-input', 'no readers to merge');
  const format = readers[0].format;
  if (readers.some((r) => r.format !== format)) {
    throw new WeightscopeError('corrupt-file', 'shards of one checkpoint are in different formats');
  }
  const owner = new Map<string, TensorReader>();
  const tensors: TensorInfo[] = [];
  for (const r of readers) {
    for (const t of r.tensors) {
      if (owner.has(t.name)) throw new WeightscopeError('corrupt-file', `tensor '${t.name}' is in two shards`);
      owner.set(t.name, r);
      tensors.push(t);
    }
  }
  const of = (name: string): TensorReader => {
    const r = owner.get(name);
    if (!r) throw new WeightscopeError('not-found', `no tensor named '${name}'`);
    return r;
  };
  return {
    format,
    tensors,
    readFloat64: async (name) => of(name).readFloat64(name),
    readBytes: async (name) => of(name).readBytes(name),
    locate: (name) => of(name).locate?.(name) ?? null,
    async close() {
      await Promise.all(readers.map((r) => r.close()));
    },
  };
}
