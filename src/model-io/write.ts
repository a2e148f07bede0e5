/**
 * A model at new parameter values (a repaired point, a point of a curve) written in the format it came in:
 *
 * - `hf`: a Hugging Face folder, from a model opened by the config.json route: every non-weight file of the input
 *   folder copied (config, tokenizer, preprocessor and generation configs, …; not the old weights, their shard
 *   indexes or the onnx/ export, which would no longer match) and `model.safetensors` holding every tensor of the
 *   input checkpoint under its own name and dtype: parameters at the new values rounded to that dtype, tied copies
 *   as their parameter, buffers as they were. transformers' from_pretrained and weightscope reopen it alike.
 * - `onnx`: the forward graph with the new initializers (X.onnx) and the parameters as float32 safetensors beside it
 *   (X.safetensors), as `repair` has always written.
 *
 * roundToStorage gives the values exactly as they will be written, so reports can be computed on those.
 */
import { chmod, copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { WeightscopeError } from '../errors.js';
import { fromFloat64, toFloat64 } from '../io/dtype.js';
import { replaceInitializers, tensorShape, writeOnnxModel } from '../io/onnx-model.js';
import { openResolved, resolveModelPath } from '../io/open.js';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors-writer.js';
import type { DType } from '../io/types.js';
import type { ParamMap } from '../runtime/params.js';
import type { OpenedModel } from './open.js';

export type OutputFormat = 'hf' | 'onnx';

export interface WrittenModel {
  readonly format: OutputFormat;
  /** The HF folder (hf) or the .onnx file (onnx). */
  readonly path: string;
  readonly safetensors: string;
  /** hf: the non-weight files copied from the input folder (relative paths). */
  readonly copied?: readonly string[];
  /** onnx: the .onnx file (same as path), for reports that name it. */
  readonly onnx?: string;
}

/** A written model as reports name it: {onnx, safetensors} or {folder, safetensors, copied}. */
export function outputEntry(
  w: WrittenModel,
): { onnx: string; safetensors: string } | { folder: string; safetensors: string; copied: readonly string[] } {
  return w.format === 'onnx'
    ? { onnx: w.path, safetensors: w.safetensors }
    : { folder: w.path, safetensors: w.safetensors, copied: w.copied ?? [] };
}

/** The format a model is written in by default: its own. */
export function defaultFormat(m: OpenedModel): OutputFormat {
  return m.route === 'config.json' ? 'hf' : 'onnx';
}

function roundTo(dtype: DType, v: Float32Array): Float32Array {
  if (dtype === 'F32') return v;
  return Float32Array.from(toFloat64(dtype, fromFloat64(dtype, Float64Array.from(v))));
}

/**
 * The parameter values as the checkpoint's dtypes store them (F16/BF16 rounded to nearest-even; F32 unchanged).
 * Returns `params` itself when nothing changes (every parameter F32, or an ONNX model).
 */
export function roundToStorage(m: OpenedModel, params: ParamMap): ParamMap {
  const ck = m.checkpoint;
  if (!ck || ck.params.every((p) => p.dtype === 'F32')) return params;
  const dtypes = new Map(ck.params.map((p) => [p.name, p.dtype]));
  const out: ParamMap = new Map();
  for (const [name, v] of params) out.set(name, roundTo(dtypes.get(name) ?? 'F32', v));
  return out;
}

/** Weight files and folders that describe the old weights (never copied into a new folder). */
const WEIGHT_FILE = /\.(safetensors|bin|pt|pth|ckpt|h5|msgpack|gguf|onnx|onnx_data|onnx\.data)$|\.index\.json$/i;
const SKIP_DIRS = new Set(['onnx', '.git', '.cache']);

async function copyNonWeights(src: string, dst: string, rel = ''): Promise<string[]> {
  const copied: string[] = [];
  for (const name of (await readdir(join(src, rel))).sort()) {
    const from = join(src, rel, name);
    const s = await stat(from); // follows the HF cache's symlinks
    if (s.isDirectory()) {
      if (SKIP_DIRS.has(name) || name.startsWith('.')) continue;
      await mkdir(join(dst, rel, name), { recursive: true });
      copied.push(...(await copyNonWeights(src, dst, join(rel, name))));
    } else if (s.isFile() && !WEIGHT_FILE.test(name)) {
      const to = join(dst, rel, name);
      await copyFile(from, to);
      // The copy is the user's new file: writable even when the source (a read-only cache or fixture) was not.
      await chmod(to, (s.mode & 0o777) | 0o200);
      copied.push(join(rel, name));
    }
  }
  return copied;
}

/** An output folder that does not exist yet, or exists and is empty. */
async function freshFolder(out: string): Promise<void> {
  await checkFreshFolder(out);
  await mkdir(out, { recursive: true });
}

async function checkFreshFolder(out: string): Promise<void> {
  let entries: string[] | null = null;
  try {
    const s = await stat(out);
    if (!s.isDirectory()) throw new WeightscopeError('invalid-input', `${out} exists and is not a folder`);
    entries = await readdir(out);
  } catch (e) {
    if (e instanceof WeightscopeError) throw e;
  }
  if (entries && entries.length > 0)
    throw new WeightscopeError('invalid-input', `${out} exists and is not empty: give a new folder for the model`);
}

/**
 * Before a long run: the format `spec` will be written in (its own unless `format` says) and whether `out` can take
 * it (a new or empty folder for hf, an .onnx path for onnx). Resolves the model without reading its weights.
 */
export async function checkOutput(spec: string, out: string, format?: OutputFormat, graph?: 'config' | 'onnx'): Promise<OutputFormat> {
  const r = await resolveModelPath(spec);
  const fmt = format ?? (r.format !== 'onnx' && r.config && graph !== 'onnx' ? 'hf' : 'onnx');
  if (fmt === 'onnx' && extname(out).toLowerCase() !== '.onnx')
    throw new WeightscopeError('invalid-input', `--out must end in .onnx for an ONNX model, got ${out}`, { usage: true });
  if (fmt === 'hf') await checkFreshFolder(out);
  return fmt;
}

async function writeHfFolder(m: OpenedModel, params: ParamMap, out: string, metadata: Record<string, string>): Promise<WrittenModel> {
  const ck = m.checkpoint;
  if (!ck || !m.dir)
    throw new WeightscopeError(
      'invalid-input',
      `${m.spec} was not opened from a Hugging Face folder (route ${m.route}); write it with format onnx`,
    );
  const dtypes = new Map(ck.params.map((p) => [p.name, p.dtype]));
  const tied = new Map(ck.tied.map((t) => [t.name, t]));
  for (const p of ck.params) if (!params.has(p.name)) throw new WeightscopeError('invalid-input', `no value for parameter '${p.name}'`);
  await freshFolder(out);
  const copied = await copyNonWeights(m.dir, out);
  const reader = await openResolved({
    id: m.spec,
    dir: m.dir,
    files: [...ck.files],
    format: ck.format,
    config: m.config,
    ...(ck.indexFile ? { indexFile: ck.indexFile } : {}),
  });
  const path = join(out, 'model.safetensors');
  try {
    const tensors: TensorToWrite[] = [];
    for (const t of ck.tensors) {
      const source = dtypes.has(t.name) ? t.name : tied.get(t.name)?.source;
      if (source !== undefined) {
        const v = params.get(source) as Float32Array;
        const dtype = t.dtype;
        const data = dtype === 'F32' ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : fromFloat64(dtype, Float64Array.from(v));
        tensors.push({ name: t.name, dtype, shape: t.shape, data });
      } else {
        tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, data: await reader.readBytes(t.name) });
      }
    }
    // transformers reads a safetensors checkpoint only when its metadata says format "pt".
    await writeSafetensors(path, tensors, { format: 'pt', ...metadata });
  } finally {
    await reader.close();
  }
  return { format: 'hf', path: out, safetensors: path, copied };
}

/** `X.onnx` → `X.safetensors` beside it. */
export function safetensorsBeside(onnxPath: string): string {
  return join(dirname(onnxPath), `${basename(onnxPath, extname(onnxPath))}.safetensors`);
}

async function writeOnnx(m: OpenedModel, params: ParamMap, out: string, metadata: Record<string, string>): Promise<WrittenModel> {
  if (extname(out).toLowerCase() !== '.onnx') throw new WeightscopeError('invalid-input', `the output must be an .onnx path, got ${out}`);
  const model = replaceInitializers(m.model, params);
  await writeOnnxModel(out, model);
  const shapes = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', tensorShape(t)]));
  const st = safetensorsBeside(out);
  await writeSafetensors(
    st,
    [...params].map(([name, v]) => ({
      name,
      dtype: 'F32' as const,
      shape: shapes.get(name) ?? [v.length],
      data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
    })),
    metadata,
  );
  return { format: 'onnx', path: out, safetensors: st, onnx: out };
}

/** Writes `m` at `params` to `out` in `format` (default: the model's own). */
export async function writeModelLike(
  m: OpenedModel,
  params: ParamMap,
  out: string,
  opts: { format?: OutputFormat; metadata?: Record<string, string> } = {},
): Promise<WrittenModel> {
  const format = opts.format ?? defaultFormat(m);
  const metadata = opts.metadata ?? {};
  return format === 'hf' ? writeHfFolder(m, roundToStorage(m, params), out, metadata) : writeOnnx(m, params, out, metadata);
}
