/**
 * Imports: a file or folder under an allow-listed root (models/, the HF caches, WEIGHTSCOPE_IMPORT_ROOTS), or a
 * Hugging Face id from the local cache (or, with WEIGHTSCOPE_HF_DOWNLOAD=1, from the hub), stored as one model.
 * In two steps: planImport decides what would be read (checking every path first), executeImport copies and hashes
 * the files with progress — small local imports run in the request, large ones and downloads as an import job.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import type { ServiceConfig } from '../config.js';
import { downloadFromHub, type HubProgress } from './hub.js';
import { ImportRoots } from './import-roots.js';
import type { Blobs, ModelCatalog } from '../context.js';
import type { ModelRecord, NamedPart } from './models.js';

export type ImportSource = { path: string } | { hf: string; revision?: string };

export interface ImportServices {
  readonly config: ServiceConfig;
  readonly blobs: Blobs;
  readonly models: ModelCatalog;
}

/** What an import will store: local files (real paths, checked) under their names, or a hub download. */
export type ImportPlan =
  | {
      readonly kind: 'local';
      readonly files: readonly { path: string; name: string; bytes: number }[];
      readonly bytes: number;
      readonly source: string;
      readonly display: string;
    }
  | { readonly kind: 'hub'; readonly repo: string; readonly revision: string; readonly source: string; readonly display: string };

/** Progress and cancellation of a running import (an import job's context). */
export interface ImportHooks {
  progress?(done: number, total: number, message: string): void;
  /** An error to stop with (a cancelled job), checked per chunk; null: go on. */
  stop?(): Error | null;
}

/** Files beside the weights that make the import useful beyond HT-SR (Hessians need the graph; text data the tokenizer). */
export const COMPANIONS = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'onnx/model.onnx',
  'onnx/model.onnx_data',
  'model.onnx',
  'model.onnx_data',
];

/** What an import would read before it reads it: the folders behind an HF id, and their symlinks. */
async function checkHubPlaces(jail: ImportRoots, config: ServiceConfig, id: string, revision: string | undefined): Promise<void> {
  const repo = `models--${id.split('/').join('--')}`;
  for (const cache of config.hfCacheDirs) {
    const dir = join(cache, repo);
    if (!existsSync(dir)) continue;
    await jail.resolve(dir);
    await jail.ifPresent(join(dir, 'refs', revision ?? 'main'));
    const snaps = join(dir, 'snapshots');
    if (existsSync(snaps)) for (const s of readdirSync(snaps)) await jail.entries(await jail.resolve(join(snaps, s)));
  }
  const parts = id.split('/');
  for (const dir of [join(config.modelsDir, ...parts), ...(parts.length === 2 ? [join(config.modelsDir, parts[1])] : [])]) {
    if (existsSync(dir)) await jail.entries(await jail.resolve(dir));
  }
}

export async function planImport(config: ServiceConfig, src: ImportSource): Promise<ImportPlan> {
  const { resolveModelPath } = await import('../../io/hf.js');
  const jail = await ImportRoots.of(config.importRoots);
  let resolved;
  let source: string;
  let display: string;
  /** A folder brings its companions (graph, tokenizer, config); a single file only the config beside it. */
  let folder = true;
  if ('path' in src) {
    const real = await jail.resolve(src.path);
    folder = statSync(real).isDirectory();
    if (folder) await jail.entries(real);
    else {
      await jail.entries(dirname(real));
      if (basename(dirname(real)) === 'onnx') await jail.entries(dirname(dirname(real)));
    }
    resolved = await resolveModelPath(real);
    source = `import:${src.path}`;
    display = src.path.split(/[\\/]/).filter(Boolean).pop() ?? src.path;
  } else {
    source = `hf:${src.hf}@${src.revision ?? 'main'}`;
    display = src.hf;
    await checkHubPlaces(jail, config, src.hf, src.revision);
    try {
      resolved = await resolveModelPath(src.hf, {
        cacheDirs: config.hfCacheDirs,
        modelsDir: config.modelsDir,
        ...(src.revision ? { revision: src.revision } : {}),
      });
    } catch (e) {
      if (!(e instanceof WeightscopeError && e.code === 'not-found' && config.hfDownload)) throw e;
      // Not cached locally, and downloads are enabled.
      return { kind: 'hub', repo: src.hf, revision: src.revision ?? 'main', source, display };
    }
  }
  const base = resolved.dir ?? dirname(resolved.files[0]);
  const paths = [...resolved.files];
  if (resolved.indexFile) paths.push(resolved.indexFile);
  for (const c of resolved.dir && folder ? COMPANIONS : resolved.dir ? ['config.json'] : []) {
    const p = join(base, c);
    if (!paths.includes(p) && existsSync(p) && statSync(p).isFile()) paths.push(p);
  }
  const files: { path: string; name: string; bytes: number }[] = [];
  for (const p of paths) {
    const real = await jail.resolve(p);
    files.push({ path: real, name: relative(base, p).split(sep).join('/'), bytes: statSync(real).size });
  }
  return { kind: 'local', files, bytes: files.reduce((s, f) => s + f.bytes, 0), source, display };
}

export async function executeImport(
  services: ImportServices,
  plan: ImportPlan,
  hooks: ImportHooks = {},
): Promise<{ model: ModelRecord; created: boolean }> {
  const { config, blobs, models } = services;
  const stop = hooks.stop ?? (() => null);
  if (plan.kind === 'hub') {
    if (!config.hfDownload)
      throw new WeightscopeError(
        'not-found',
        `${plan.repo} is not in the local cache, and hub downloads are off (WEIGHTSCOPE_HF_DOWNLOAD)`,
      );
    const progress: HubProgress = { stop, ...(hooks.progress ? { report: hooks.progress } : {}) };
    const parts = await downloadFromHub(config.hfDownload, plan.repo, plan.revision, blobs, { limit: config.maxImport, used: 0 }, progress);
    return models.add(parts.parts, `hf:${plan.repo}@${parts.commit}`, plan.display);
  }
  const parts: NamedPart[] = [];
  let done = 0;
  try {
    for (const f of plan.files) {
      hooks.progress?.(done, plan.bytes, `copying ${f.name}`);
      const part = await blobs.ingestFile(
        f.path,
        (n) => {
          done += n;
          hooks.progress?.(done, plan.bytes, `copying ${f.name}`);
        },
        { stop },
      );
      parts.push({ name: f.name, part });
    }
  } catch (e) {
    await blobs.discard(parts.map((p) => p.part));
    throw e;
  }
  hooks.progress?.(plan.bytes, plan.bytes, 'reading the checkpoint');
  // A single weight file keeps only its own name; with config/index alongside, the folder is the model.
  return models.add(parts, plan.source, plan.display);
}
