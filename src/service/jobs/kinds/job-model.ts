/**
 * A model a job exports (a repair's repaired model, a surface's best point): written as X.onnx and X.safetensors
 * under `<folder>/<job id>/` of the job's data folder and named in its result's `files` (relative paths), which
 * JobKind.outputs hands to the blob store on worker nodes and GET …/{id}/model serves.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobContext } from '../types.js';

export interface JobModelFiles {
  readonly onnx: string;
  readonly safetensors: string;
}

/** Calls `write(absolute .onnx path)` (which writes the .safetensors beside it) and returns both relative paths. */
export async function writeJobModel(ctx: JobContext, folder: string, base: string, write: (onnxPath: string) => Promise<unknown>): Promise<JobModelFiles> {
  const rel = join(folder, ctx.jobId);
  await mkdir(join(ctx.dataDir, rel), { recursive: true });
  await write(join(ctx.dataDir, rel, `${base}.onnx`));
  return { onnx: join(rel, `${base}.onnx`), safetensors: join(rel, `${base}.safetensors`) };
}

/** JobKind.outputs of a kind whose result names `files`. */
export const modelOutputs = (r: { files: JobModelFiles }): string[] => Object.values(r.files);
