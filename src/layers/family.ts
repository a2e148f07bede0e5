/**
 * Which family a checkpoint belongs to, for ranking within families: its config.json's `model_type` (Llama-2 7B and
 * 13B are both 'llama'), or, without a config, its layer signature — the set of weight-tensor names with layer
 * indices blanked out (`model.layers.#.mlp.up_proj.weight`) and their ranks, hashed. Sizes of one architecture
 * share names and differ only in shapes and depth, so they share a signature; different architectures name their
 * tensors differently.
 */
import { createHash } from 'node:crypto';
import type { TensorInfo } from '../io/types.js';

export interface ModelFamily {
  /** The family's name: the model_type, or `signature:<12 hex>`. */
  name: string;
  source: 'model_type' | 'signature';
  model_type: string | null;
  /** sha256 (12 hex digits) of the layer signature, always present. */
  signature: string;
}

export function layerSignature(tensors: readonly Pick<TensorInfo, 'name' | 'shape'>[]): string {
  const parts = new Set<string>();
  for (const t of tensors) {
    if (t.shape.length < 2) continue; // norms and biases say little about the architecture
    parts.add(`${t.name.replace(/(^|[./_])\d+(?=[./_]|$)/g, '$1#')}:${t.shape.length}`);
  }
  return createHash('sha256')
    .update([...parts].sort().join('\n'))
    .digest('hex')
    .slice(0, 12);
}

export function modelFamily(
  config: Readonly<Record<string, unknown>> | null,
  tensors: readonly Pick<TensorInfo, 'name' | 'shape'>[],
): ModelFamily {
  const signature = layerSignature(tensors);
  const mt = config?.model_type;
  const model_type = typeof mt === 'string' && mt.trim() !== '' ? mt.trim() : null;
  return model_type
    ? { name: model_type, source: 'model_type', model_type, signature }
    : { name: `signature:${signature}`, source: 'signature', model_type: null, signature };
}
