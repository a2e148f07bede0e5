/**
 * The one model argument of every data-driven command and job: an `.onnx` file, a Hugging Face folder, or an HF id
 * found in the cache or models/ (resolved by src/io/hf.ts, as `analyze` resolves it) → a forward graph whose float
 * initializers are the parameters, by one of three routes:
 *
 * - `config.json`: a folder (or weight file) with config.json and safetensors / pytorch_model.bin weights: the
 *   graph built from the config (src/architectures), exact float32 weights. The default when a folder has both.
 * - `onnx-export`: the folder's Optimum / transformers.js export under onnx/ (src/architectures/onnx-export.ts),
 *   when it has no weights for the config route or `graph: 'onnx'` asks for it.
 * - `onnx`: an .onnx file given by path (fed the same way when it declares an export's inputs).
 *
 * The result names its route and architecture; results of every command carry them.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { WeightscopeError } from '../errors.js';
import {
  buildArchitecture,
  readArchConfig,
  type ArchConfig,
  type BoundParam,
  type InputLayout,
  type Json,
  type Task,
  type TiedCopy,
} from '../architectures/index.js';
import { adaptExport, EXPORT_FILES, inlineExternalData, QUANTIZED_FILE, refuseQuantized } from '../architectures/onnx-export.js';
import { readOnnxModel, type ModelProto } from '../io/onnx-model.js';
import { openResolved, resolveModelPath, type ResolveOptions, type ResolvedModel } from '../io/open.js';
import type { CheckpointFormat, TensorInfo } from '../io/types.js';
import type { LossKind } from '../runtime/dataset.js';

export type ModelRoute = 'config.json' | 'onnx-export' | 'onnx';

export interface OpenModelOptions {
  /** For a folder with both: 'config' (default) builds from config.json, 'onnx' runs the folder's ONNX export. */
  readonly graph?: 'config' | 'onnx';
  readonly resolve?: ResolveOptions;
}

/** What writing a repaired model back in the checkpoint's own format needs (config.json route). */
export interface CheckpointLayout {
  readonly format: CheckpointFormat;
  readonly files: readonly string[];
  readonly indexFile?: string;
  /** Every tensor of the file, in file order (buffers included). */
  readonly tensors: readonly TensorInfo[];
  readonly params: readonly BoundParam[];
  readonly tied: readonly TiedCopy[];
}

export interface OpenedModel {
  /** What the user gave. */
  readonly spec: string;
  readonly route: ModelRoute;
  /** The head class (e.g. GPT2LMHeadModel), or 'ONNX graph' for a plain ONNX file. */
  readonly architecture: string;
  readonly task: Task | null;
  /** The forward graph: one data input (see layout), logits first output, float initializers = parameters. */
  readonly model: ModelProto;
  readonly layout: InputLayout;
  /** The Hugging Face folder (snapshot folder for a cached id), when there is one. */
  readonly dir: string | null;
  readonly config: Json | null;
  readonly arch: ArchConfig | null;
  /** The file the graph came from (the weights for the config.json route, the .onnx otherwise). */
  readonly file: string;
  /** Class names (config.json's id2label), for classifiers. */
  readonly labels: readonly string[] | null;
  /** The loss the model's task implies (null: decided by the data, as for any ONNX file). */
  readonly loss: LossKind | null;
  /**
   * Exported copies of tied weights are re-tied by the graph library; graphs built from config.json read each
   * tensor once already, so the engine skips that scan.
   */
  readonly pretied: boolean;
  /** config.json route only. */
  readonly checkpoint: CheckpointLayout | null;
  /** onnx-export route: what each of the export's inputs was fed, and how many constant Ifs were folded. */
  readonly feeds: Readonly<Record<string, string>> | null;
}

/** Route and architecture, as every result reports them (flat keys beside the result's own). */
export interface ModelDescription {
  readonly route: ModelRoute;
  readonly architecture: string;
}

export function describeModel(m: OpenedModel): ModelDescription {
  return { route: m.route, architecture: m.architecture };
}

function lossOf(task: Task | null): LossKind | null {
  if (task === null) return null;
  return task === 'causal-lm' ? 'lm' : 'classification';
}

function labelsOf(arch: ArchConfig | null): readonly string[] | null {
  return arch && 'labels' in arch ? arch.labels : null;
}

async function kindOf(p: string): Promise<'file' | 'dir' | null> {
  try {
    const s = await stat(p);
    return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : null;
  } catch {
    return null;
  }
}
const isFile = async (p: string): Promise<boolean> => (await kindOf(p)) === 'file';

/** The export file under `dir/onnx/` in EXPORT_FILES order; only quantized ones is a clear refusal. */
async function exportFile(dir: string): Promise<string> {
  for (const f of EXPORT_FILES) {
    const p = join(dir, 'onnx', f);
    if (await isFile(p)) return p;
  }
  let names: string[] = [];
  try {
    names = (await readdir(join(dir, 'onnx'))).filter((n) => n.endsWith('.onnx'));
  } catch {
    /* no onnx/ */
  }
  if (names.some((n) => QUANTIZED_FILE.test(n))) {
    throw new WeightscopeError(
      'unsupported-dtype',
      `${dir}/onnx holds only quantized exports (${names.join(', ')}): gradients and Hessians need the float32 model`,
    );
  }
  throw new WeightscopeError('not-found', `${dir} has no ONNX export (onnx/${EXPORT_FILES.join(', onnx/')})`);
}

async function openExport(spec: string, file: string, route: ModelRoute, dir: string | null, config: Json | null): Promise<OpenedModel> {
  const arch = config ? tryArch(config) : null;
  const raw = await readOnnxModel(file);
  await inlineExternalData(raw, dirname(file));
  const task = arch?.task ?? null;
  const ctx = {
    task,
    ...(arch && 'heads' in arch ? { heads: arch.heads } : {}),
    ...(arch && 'vocab' in arch ? { vocab: arch.vocab } : {}),
    ...(arch && 'typeVocab' in arch ? { typeVocab: arch.typeVocab } : {}),
  };
  const dataInputs = (raw.graph?.input ?? []).filter((i) => !new Set((raw.graph?.initializer ?? []).map((t) => t.name)).has(i.name));
  const needsFeeding = route === 'onnx-export' || dataInputs.length > 1 || (raw.graph?.node ?? []).some((n) => n.opType === 'If');
  let model = raw;
  let layout: InputLayout = { kind: 'raw', name: dataInputs[0]?.name ?? '' };
  let feeds: Record<string, string> | null = null;
  if (needsFeeding) {
    const a = adaptExport(raw, basename(file), ctx);
    model = a.model;
    layout = a.layout;
    feeds = { ...a.fed, ...(a.foldedIfs ? { 'If nodes folded': String(a.foldedIfs) } : {}) };
  } else {
    refuseQuantized(raw, basename(file));
  }
  return {
    spec,
    route,
    architecture: arch?.architecture ?? 'ONNX graph',
    task,
    model,
    layout,
    dir,
    config,
    arch,
    file,
    labels: labelsOf(arch),
    loss: lossOf(task),
    pretied: false,
    checkpoint: null,
    feeds,
  };
}

/** The config's architecture, or null when the ONNX route need not understand it (any model can run as ONNX). */
function tryArch(config: Json): ArchConfig | null {
  try {
    return readArchConfig(config);
  } catch {
    return null;
  }
}

async function openConfigRoute(spec: string, r: ResolvedModel): Promise<OpenedModel> {
  const config = r.config as Json;
  const reader = await openResolved(r);
  try {
    const built = await buildArchitecture(config, reader);
    return {
      spec,
      route: 'config.json',
      architecture: built.config.architecture,
      task: built.config.task,
      model: built.model,
      layout: built.layout,
      dir: r.dir,
      config,
      arch: built.config,
      file: r.indexFile ?? r.files[0],
      labels: labelsOf(built.config),
      loss: lossOf(built.config.task),
      pretied: true,
      checkpoint: {
        format: r.format,
        files: r.files,
        ...(r.indexFile ? { indexFile: r.indexFile } : {}),
        tensors: reader.tensors,
        params: built.params,
        tied: built.tied,
      },
      feeds: null,
    };
  } finally {
    await reader.close();
  }
}

/** Opens any model argument (see the module comment). */
export async function openModel(spec: string, opts: OpenModelOptions = {}): Promise<OpenedModel> {
  const r = await resolveModelPath(spec, opts.resolve);
  const config = r.config;
  // A folder, or a hub id (a snapshot folder); a path to a file is taken as that file.
  const isFolder = (await kindOf(spec)) !== 'file';
  if (r.format === 'onnx') {
    // An .onnx path, or a folder whose only weights are its export.
    const dir = basename(dirname(r.files[0])) === 'onnx' ? dirname(dirname(r.files[0])) : r.dir;
    if (!isFolder) return openExport(spec, r.files[0], 'onnx', config ? dir : null, config);
    return openExport(spec, await exportFile(dir as string), 'onnx-export', dir, config);
  }
  if (!config) {
    throw new WeightscopeError(
      'not-found',
      `${spec}: no config.json beside the weights, so no graph can be built from them (give the model's folder, or an .onnx file)`,
    );
  }
  if (opts.graph === 'onnx') {
    if (!r.dir) throw new WeightscopeError('not-found', `${spec}: --graph onnx needs a model folder with an onnx/ export`);
    return openExport(spec, await exportFile(r.dir), 'onnx-export', r.dir, config);
  }
  return openConfigRoute(spec, r);
}
