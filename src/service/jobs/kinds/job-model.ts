/**
 * A model a job exports (a repair's repaired model, a surface's best point), written under `<folder>/<job id>/` of
 * the job's data folder and named in its result's `files` (paths relative to the data folder), which JobKind.outputs
 * hands to the blob store on worker nodes and GET …/{id}/model serves: an ONNX model as X.onnx + X.safetensors
 * (`files.onnx`, `files.safetensors`), a Hugging Face folder as its files by their path inside it (served as a ZIP).
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { JobContext } from '../types.js';

export interface JobModel {
  readonly modelFormat: 'hf' | 'onnx';
  readonly files: Readonly<Record<string, string>>;
}

/** Calls `write(absolute .onnx path)` (which writes the .safetensors beside it) and names both files. */
export async function writeJobModel(
  ctx: JobContext,
  folder: string,
  base: string,
  write: (onnxPath: string) => Promise<unknown>,
): Promise<JobModel> {
  const rel = join(folder, ctx.jobId);
  await mkdir(join(ctx.dataDir, rel), { recursive: true });
  await write(join(ctx.dataDir, rel, `${base}.onnx`));
  return { modelFormat: 'onnx', files: { onnx: join(rel, `${base}.onnx`), safetensors: join(rel, `${base}.safetensors`) } };
}

/** Calls `write(absolute folder path)` (a Hugging Face folder: config, tokenizer, model.safetensors …) and names its files. */
export async function writeJobFolder(ctx: JobContext, folder: string, write: (dir: string) => Promise<unknown>): Promise<JobModel> {
  const rel = join(folder, ctx.jobId, 'model');
  await write(join(ctx.dataDir, rel));
  const names = await filesUnder(join(ctx.dataDir, rel));
  return { modelFormat: 'hf', files: Object.fromEntries(names.map((n) => [n, join(rel, n)])) };
}

/** Paths of the files under `dir`, relative to it with '/' separators, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/** JobKind.outputs of a kind whose result names `files`. */
export const modelOutputs = (r: { files: Readonly<Record<string, string>> }): string[] => Object.values(r.files);
