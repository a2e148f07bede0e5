/**
 * Imports: a file or folder under an allow-listed root (models/, the HF caches, WEIGHTSCOPE_IMPORT_ROOTS), or a
 * Hugging Face id from the local cache (or, with WEIGHTSCOPE_HF_DOWNLOAD=1, from the hub), stored as one model.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import type { ServiceConfig } from '../config.js';
import type { BlobStore } from './blobs.js';
import { downloadFromHub } from './hub.js';
import { ImportRoots } from './import-roots.js';
import type { ModelRecord, ModelStore, NamedPart } from './models.js';

export type ImportSource = { path: string } | { hf: string; revision?: string };

/** Files beside the weights that make the import useful beyond HT-SR (Hessians need the graph; text data the tokenizer). */
const COMPANIONS = [
  'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
  'vocab.json', 'merges.txt', 'tokenizer.model', 'onnx/model.onnx', 'onnx/model.onnx_data', 'model.onnx', 'model.onnx_data',
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

export async function importModel(
  deps: { config: ServiceConfig; blobs: BlobStore; models: ModelStore },
  src: ImportSource,
): Promise<{ model: ModelRecord; created: boolean }> {
  const { config, blobs, models } = deps;
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
      const parts = await downloadFromHub(config.hfDownload, src.hf, src.revision ?? 'main', blobs, { limit: config.maxUpload, used: 0 });
      return models.add(parts, source, display);
    }
  }
  const base = resolved.dir ?? dirname(resolved.files[0]);
  const files = [...resolved.files];
  if (resolved.indexFile) files.push(resolved.indexFile);
  for (const c of resolved.dir && folder ? COMPANIONS : resolved.dir ? ['config.json'] : []) {
    const p = join(base, c);
    if (!files.includes(p) && existsSync(p) && statSync(p).isFile()) files.push(p);
  }
  const parts: NamedPart[] = [];
  try {
    for (const f of files) {
      const real = await jail.resolve(f);
      const part = await blobs.ingestFile(real);
      parts.push({ name: relative(base, f).split(sep).join('/'), part });
    }
  } catch (e) {
    await blobs.discard(parts.map((p) => p.part));
    throw e;
  }
  // A single weight file keeps only its own name; with config/index alongside, the folder is the model.
  return models.add(parts, source, display);
}
