/**
 * Opens an upload once to prove it is readable before anything is stored: the readers refuse truncated files
 * (corrupt-file) and pickles that ask for globals outside the allow-list (unsafe-pickle), without executing them.
 * The reading runs in a worker thread with a heap limit and a deadline (isolatedInspector), never on the HTTP
 * event loop: a hostile file can cost that thread, not the server.
 */
import { WeightscopeError } from '../../errors.js';
import { sniffFormat, type SniffedFormat } from '../../io/sniff.js';
import { startWorkerThread } from '../threads.js';

/** A graph input of an ONNX model: what a dataset's x must look like (symbolic dims, e.g. the batch, are names). */
export interface ModelInput {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

export interface CheckpointSummary {
  format: string;
  tensors: number;
  parameters: number;
  /** The data inputs (initializers excluded) of the graph the jobs run — ONNX, or built from config.json; else null. */
  inputs: ModelInput[] | null;
}

/** ONNX TensorProto.DataType → the dataset dtype names (only those a dataset's x can have, others by number). */
const ELEM_TYPES: Record<number, string> = { 1: 'float32', 7: 'int64', 6: 'int32', 10: 'float16', 11: 'float64', 16: 'bfloat16' };

/** The graph inputs of the ONNX file of `path` (the file, or model.onnx / onnx/model.onnx / the one .onnx in a folder). */
async function onnxInputs(path: string, format: string): Promise<ModelInput[] | null> {
  const { statSync, readdirSync, existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  let file: string | null = null;
  if (statSync(path).isDirectory()) {
    for (const rel of ['model.onnx', join('onnx', 'model.onnx')]) if (!file && existsSync(join(path, rel))) file = join(path, rel);
    const ones = readdirSync(path).filter((n) => n.endsWith('.onnx'));
    if (!file && ones.length === 1) file = join(path, ones[0]);
  } else if (format === 'onnx') file = path;
  if (!file) return null;
  const { readOnnxModel } = await import('../../io/onnx-model.js');
  const graph = (await readOnnxModel(file)).graph;
  const inits = new Set((graph?.initializer ?? []).map((t) => t.name));
  return (graph?.input ?? [])
    .filter((i) => !inits.has(i.name ?? ''))
    .map((i) => ({
      name: i.name ?? '',
      dtype: ELEM_TYPES[i.type?.tensorType?.elemType ?? 0] ?? `onnx-type-${i.type?.tensorType?.elemType ?? 0}`,
      shape: (i.type?.tensorType?.shape?.dim ?? []).map((d) =>
        d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : (d.dimParam ?? '?'),
      ),
    }));
}

/**
 * A Hugging Face folder's input as a dataset's x must hold it, from config.json (the config.json route the jobs take):
 * token ids [batch, sequence] int64 for language models and text encoders, pixel values [batch, C, H, W] float32 for
 * image classifiers. Null when `path` is no such folder or its model_type has no graph here.
 */
async function hfInputs(path: string): Promise<ModelInput[] | null> {
  const { readFile, stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  if (!(await stat(path)).isDirectory()) return null;
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(join(path, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  const { inputLayoutOf } = await import('../../architectures/index.js');
  let layout;
  try {
    layout = inputLayoutOf(config);
  } catch {
    return null;
  }
  switch (layout.kind) {
    case 'tokens':
    case 'encoder':
      return [{ name: 'input_ids', dtype: 'int64', shape: ['batch', 'sequence'] }];
    case 'pixels':
      return [{ name: layout.name, dtype: 'float32', shape: ['batch', layout.channels, layout.size, layout.size] }];
    default:
      return null;
  }
}

export interface DatasetSummary {
  samples: number;
  x_shape: number[];
  x_dtype: 'float32' | 'int64';
  labels: boolean;
}

export type Inspector = (path: string) => Promise<CheckpointSummary>;
export type DatasetInspector = (path: string) => Promise<DatasetSummary>;

/** The file name a single unnamed upload gets, so the readers (and humans) see the usual HF name. */
export function defaultFileName(format: SniffedFormat): string {
  switch (format) {
    case 'safetensors':
      return 'model.safetensors';
    case 'pytorch':
      return 'pytorch_model.bin';
    case 'onnx':
      return 'model.onnx';
    case 'legacy-pytorch':
      throw new WeightscopeError(
        'unsupported-format',
        'legacy (pre-1.6, non-zip) PyTorch checkpoints are not supported; re-save with torch.save in the zip format',
      );
    default:
      throw new WeightscopeError('unsupported-format', 'the file is none of safetensors, PyTorch zip or ONNX');
  }
}

export async function sniff(path: string): Promise<SniffedFormat> {
  return sniffFormat(path);
}

/** In this thread: what the worker runs. */
export const inspectCheckpoint: Inspector = async (path) => {
  // Loaded on first use: the readers pull in protobuf and zip code the rest of the service does not need.
  const { openCheckpoint } = await import('../../io/open.js');
  const { reader } = await openCheckpoint(path);
  try {
    let parameters = 0;
    for (const t of reader.tensors) parameters += t.shape.reduce((a, b) => a * b, 1);
    // A folder with config.json and weights is opened by its config.json route (store/layout.ts modelArgOf).
    const inputs =
      reader.format !== 'onnx'
        ? ((await hfInputs(path)) ?? (await onnxInputs(path, reader.format)))
        : await onnxInputs(path, reader.format);
    return { format: reader.format, tensors: reader.tensors.length, parameters, inputs };
  } finally {
    await reader.close();
  }
};

/** In this thread: what the worker runs. */
export const inspectDataset: DatasetInspector = async (path) => {
  const { loadDataset } = await import('../../runtime/dataset.js');
  const ds = await loadDataset(path);
  // loadDataset gives float32 or int64 x (it converts or refuses other dtypes).
  return { samples: ds.n, x_shape: [...ds.x.dims], x_dtype: ds.x.type === 'int64' ? 'int64' : 'float32', labels: ds.y !== null };
};

export interface InspectionLimits {
  /** Heap of the inspecting thread (bytes). */
  heapBytes: number;
  /** Wall-clock limit of one inspection (ms). */
  timeoutMs: number;
  /** Inspections at once (each may use heapBytes). */
  concurrency: number;
}

export type InspectTask = { what: 'checkpoint' | 'dataset'; path: string };
export type InspectReply = { ok: true; summary: CheckpointSummary | DatasetSummary } | { ok: false; code: string; message: string };

/** Checkpoint and dataset inspectors that run each inspection in its own bounded worker thread. */
export function isolatedInspector(limits: InspectionLimits): { checkpoint: Inspector; dataset: DatasetInspector } {
  let active = 0;
  const waiting: (() => void)[] = [];
  const slot = async (): Promise<() => void> => {
    if (active >= limits.concurrency) await new Promise<void>((r) => waiting.push(r));
    active++;
    return () => {
      active--;
      waiting.shift()?.();
    };
  };
  const heapMb = Math.max(16, Math.floor(limits.heapBytes / 2 ** 20));
  const run = async (task: InspectTask): Promise<CheckpointSummary | DatasetSummary> => {
    const release = await slot();
    try {
      return await new Promise((resolve, reject) => {
        const w = startWorkerThread(import.meta.url, 'inspect-worker', {
          workerData: task,
          resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.min(64, Math.max(8, heapMb >> 3)) },
          stdout: true,
        });
        let done = false;
        const end = (f: () => void): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          f();
          void w.terminate();
        };
        // No onnxruntime in here, so terminating the thread at any point is safe.
        const timer = setTimeout(
          () =>
            end(() =>
              reject(
                new WeightscopeError(
                  'too-large',
                  `reading the upload took longer than ${limits.timeoutMs / 1000} s (WEIGHTSCOPE_INSPECT_TIMEOUT)`,
                  { limit: limits.timeoutMs },
                ),
              ),
            ),
          limits.timeoutMs,
        );
        w.on('message', (m: InspectReply) =>
          end(() => (m.ok ? resolve(m.summary) : reject(new WeightscopeError(m.code as never, m.message)))),
        );
        w.on('error', (e: Error & { code?: string }) =>
          end(() =>
            reject(
              e.code === 'ERR_WORKER_OUT_OF_MEMORY'
                ? new WeightscopeError(
                    'too-large',
                    `reading the upload needed more than ${heapMb} MiB of memory (WEIGHTSCOPE_INSPECT_HEAP)`,
                    { limit: limits.heapBytes },
                  )
                : new WeightscopeError('corrupt-file', `the upload could not be read: ${e.message}`),
            ),
          ),
        );
        w.on('exit', (code) => end(() => reject(new WeightscopeError('corrupt-file', `reading the upload stopped (thread exit ${code})`))));
      });
    } finally {
      release();
    }
  };
  return {
    checkpoint: (path) => run({ what: 'checkpoint', path }) as Promise<CheckpointSummary>,
    dataset: (path) => run({ what: 'dataset', path }) as Promise<DatasetSummary>,
  };
}
