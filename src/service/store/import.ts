/**
 * Imports: a file or folder under an allow-listed root (models/, the HF caches, WEIGHTSCOPE_IMPORT_ROOTS), or a
 * Hugging Face id from the local cache (or, with WEIGHTSCOPE_HF_DOWNLOAD=1, from the hub), stored as one model.
 */
import { createReadStream, existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import type { ServiceConfig } from '../config.js';
import { ServiceError } from '../errors.js';
import { downloadFromHub } from './hub.js';
import type { Blobs, ModelCatalog } from '../context.js';
import type { ModelRecord, NamedPart } from './models.js';

export type ImportSource = { path: string } | { hf: string; revision?: string };

function isInside(child: string, root: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) out.push(await realpath(r).catch(() => resolve(r)));
  return out;
}

export async function importModel(
  deps: { config: ServiceConfig; blobs: Blobs; models: ModelCatalog },
  src: ImportSource,
): Promise<{ model: ModelRecord; created: boolean }> {
  const { config, blobs, models } = deps;
  const { resolveModelPath } = await import('../../io/hf.js');
  const roots = await realRoots(config.importRoots);
  const checkInside = async (p: string): Promise<string> => {
    const real = await realpath(p).catch(() => {
      throw new WeightscopeError('not-found', `no such file or folder: ${p}`);
    });
    if (!roots.some((r) => isInside(real, r))) {
      throw new ServiceError('path-not-allowed', `${p} is outside the import roots (${config.importRoots.join(', ')})`);
    }
    return real;
  };
  let resolved;
  let source: string;
  let display: string;
  if ('path' in src) {
    const real = await checkInside(resolve(src.path));
    resolved = await resolveModelPath(real);
    source = `import:${src.path}`;
    display = src.path.split(/[\\/]/).filter(Boolean).pop() ?? src.path;
  } else {
    source = `hf:${src.hf}@${src.revision ?? 'main'}`;
    display = src.hf;
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
  if (resolved.dir && existsSync(join(resolved.dir, 'config.json'))) files.push(join(resolved.dir, 'config.json'));
  const parts: NamedPart[] = [];
  try {
    for (const f of files) {
      const real = await checkInside(f);
      const part = await blobs.ingestFile(real, () => createReadStream(real));
      parts.push({ name: relative(base, f).split(sep).join('/'), part });
    }
  } catch (e) {
    await blobs.discard(parts.map((p) => p.part));
    throw e;
  }
  // A single weight file keeps only its own name; with config/index alongside, the folder is the model.
  return models.add(parts, source, display);
}
