/**
 * Writing a chosen point of a path or surface as a model: the graph with the point's parameters (and, with BN, its
 * recomputed statistics) as ONNX, plus the same tensors as safetensors beside it. The one place a repaired or
 * averaged model leaves the process (repair's writeRepaired and surface --out both call writeModelPoint).
 */
import { basename, dirname, extname, join } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { tensorShape, writeOnnxModel, type ModelProto } from '../../io/onnx-model.js';
import { writeSafetensors } from '../../io/safetensors-writer.js';
import type { ParamMap } from '../../runtime/params.js';

/** `X.onnx` → `X.safetensors` beside it. */
export function safetensorsPathFor(onnxPath: string): string {
  const ext = extname(onnxPath);
  return join(dirname(onnxPath), `${basename(onnxPath, ext)}.safetensors`);
}

/**
 * Writes `model` (whose initializers already hold `params`, see storeParams) to `onnxPath` and `params` as
 * safetensors beside it, with `metadata` in the safetensors header.
 */
export async function writeModelPoint(
  model: ModelProto,
  params: ParamMap,
  onnxPath: string,
  metadata: Record<string, string>,
): Promise<{ onnx: string; safetensors: string }> {
  if (extname(onnxPath).toLowerCase() !== '.onnx')
    throw new WeightscopeError('invalid-input', `the output must be an .onnx path, got ${onnxPath}`);
  const st = safetensorsPathFor(onnxPath);
  await writeOnnxModel(onnxPath, model);
  const tensors = [...params].map(([name, v]) => ({
    name,
    dtype: 'F32' as const,
    shape: shapeOf(model, name),
    data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
  }));
  await writeSafetensors(st, tensors, metadata);
  return { onnx: onnxPath, safetensors: st };
}

function shapeOf(model: ModelProto, name: string): number[] {
  const t = (model.graph?.initializer ?? []).find((x) => x.name === name);
  if (!t) throw new WeightscopeError('not-found', `the model has no initializer '${name}'`);
  return tensorShape(t);
}
