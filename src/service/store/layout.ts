/**
 * Where a stored model is read from, by its folder and file names alone (pure): the embedded store's
 * $DATA/models/<id>/ and a worker node's cache lay models out the same way, so both ask here.
 */
import { join } from 'node:path';
import { WeightscopeError } from '../../errors.js';

/** What the readers open: the file for a one-file model, the folder for a sharded one. */
export function modelReadPath(dir: string, names: readonly string[]): string {
  return names.length === 1 ? join(dir, names[0]) : dir;
}

/** The ONNX file of a model (relative to its folder): the file itself, or model.onnx / onnx/model.onnx, or its one .onnx. */
export function onnxFileOf(id: string, format: string, names: readonly string[]): string {
  if (names.length === 1 && (format === 'onnx' || names[0].endsWith('.onnx'))) return names[0];
  if (names.length > 1) {
    const set = new Set(names);
    for (const rel of ['model.onnx', 'onnx/model.onnx']) if (set.has(rel)) return rel;
    const one = names.filter((n) => n.endsWith('.onnx'));
    if (one.length === 1) return one[0];
  }
  throw new WeightscopeError('invalid-input', `model ${id} has no ONNX graph (upload the .onnx file)`);
}

/** Weights the config.json route reads (safetensors or PyTorch files, sharded or not, at the folder's top level). */
const HF_WEIGHTS = /^[^/]+\.(safetensors|bin)(\.index\.json)?$/;

/** A Hugging Face folder: config.json beside its weights, so a forward graph can be built from the config. */
export function isHfFolder(names: readonly string[]): boolean {
  return names.includes('config.json') && names.some((n) => HF_WEIGHTS.test(n));
}

/**
 * What a data-driven job (Hessian, comparison, connectivity, repair) opens, relative to the model's folder: the folder
 * itself ('.') for a Hugging Face folder — src/model-io/open.ts builds its graph from config.json, the default route
 * of the CLI too — else its ONNX file. A model with neither is refused naming both.
 */
export function modelArgOf(id: string, format: string, names: readonly string[]): string {
  if (names.length > 1 && isHfFolder(names)) return '.';
  try {
    return onnxFileOf(id, format, names);
  } catch {
    throw new WeightscopeError(
      'invalid-input',
      `model ${id} has neither an ONNX graph nor a Hugging Face folder's config.json beside its weights: upload the .onnx file, or the folder's files (config.json with model.safetensors or pytorch_model.bin)`,
    );
  }
}

/** The route a stored model's data-driven jobs take, as results name it (checked when a job is submitted). */
export function modelRoute(m: { id: string; format: string; files: readonly { name: string }[] }): 'config.json' | 'onnx' {
  return modelArgOf(
    m.id,
    m.format,
    m.files.map((f) => f.name),
  ) === '.'
    ? 'config.json'
    : 'onnx';
}

/** Throws invalid-input unless the model has an ONNX graph (checked when a job is submitted). */
export function onnxFile(m: { id: string; format: string; files: readonly { name: string }[] }): string {
  return onnxFileOf(
    m.id,
    m.format,
    m.files.map((f) => f.name),
  );
}

/** A dataset's file inside its folder. */
export const DATASET_FILE = 'data.safetensors';
