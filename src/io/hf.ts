/**
 * From what a user types (a file, a folder, or a Hugging Face id 'ORG/NAME') to the weight files to read.
 * Hub ids are looked up, never downloaded: in the HF cache (models--ORG--NAME/snapshots/REV/, whose files are
 * symlinks into blobs/ — followed by ordinary file access) and then in the project's models/ store.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeightscopeError } from '../errors.js';
import type { CheckpointFormat } from './types.js';
import { sniffFormat } from './sniff.js';
import { readShardIndex } from './shard-index.js';

export interface ResolvedModel {
  /** 'ORG/NAME' for hub ids, otherwise the path as given. */
  readonly id: string;
  /** The model folder (snapshot folder for the cache), or the file's folder for a single file. */
  readonly dir: string | null;
  /** The weight files, in reading order (shards in index order). */
  readonly files: string[];
  readonly format: CheckpointFormat;
  readonly config: Record<string, unknown> | null;
  /** `*.index.json` of a sharded checkpoint, when there is one (its shards are `files`). */
  readonly indexFile?: string;
  /** The file is a pre-1.6 PyTorch pickle; the PyTorch reader explains what to do with it. */
  readonly legacy?: boolean;
}

export interface ResolveOptions {
  /** HF hub cache folders to search, in order. Default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub. */
  cacheDirs?: string[];
  /** The local model store. Default: $WEIGHTSCOPE_MODELS_DIR, else the repository's models/. */
  modelsDir?: string;
  /** Branch, tag or commit in the cache (default 'main'). */
  revision?: string;
}

/** The HF hub cache locations, in huggingface_hub's order of precedence. */
export function defaultCacheDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  if (env.HF_HUB_CACHE) dirs.push(env.HF_HUB_CACHE);
  if (env.HUGGINGFACE_HUB_CACHE) dirs.push(env.HUGGINGFACE_HUB_CACHE); // older name of the same setting
  if (env.HF_HOME) dirs.push(join(env.HF_HOME, 'hub'));
  if (env.XDG_CACHE_HOME) dirs.push(join(env.XDG_CACHE_HOME, 'huggingface', 'hub'));
  dirs.push(join(homedir(), '.cache', 'huggingface', 'hub'));
  return [...new Set(dirs.map((d) => resolve(d)))];
}

export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WEIGHTSCOPE_MODELS_DIR) return resolve(env.WEIGHTSCOPE_MODELS_DIR);
  // src/io/hf.ts and dist/io/hf.js both sit two levels below the repository root.
  return fileURLToPath(new URL('../../models/', import.meta.url));
}

type Kind = 'file' | 'dir' | null;
async function kindOf(p: string): Promise<Kind> {
  try {
    const s = await stat(p); // follows symlinks (HF cache snapshots)
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new WeightscopeError('not-found', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new WeightscopeError('corrupt-file', `${what} ${path} is not valid JSON (${(e as Error).message})`);
  }
}

async function readConfig(dir: string): Promise<Record<string, unknown> | null> {
  const p = join(dir, 'config.json');
  if ((await kindOf(p)) !== 'file') return null;
  const j = await readJson(p, 'config');
  if (j === null || typeof j !== 'object' || Array.isArray(j)) {
    throw new WeightscopeError('corrupt-file', `config ${p} is not a JSON object`);
  }
  return j as Record<string, unknown>;
}

/** Shard files of an `*.index.json`, in order of first appearance, each checked to exist beside the index. */
async function indexShards(indexPath: string): Promise<string[]> {
  const { shards } = await readShardIndex(indexPath);
  for (const p of shards) {
    if ((await kindOf(p)) !== 'file') throw new WeightscopeError('not-found', `shard ${p} named by ${indexPath} is missing`);
  }
  return shards;
}

type Weights = Pick<ResolvedModel, 'files' | 'format' | 'indexFile'>;

/**
 * The weights of a HF model folder, by preference: sharded safetensors, one safetensors file, sharded .bin,
 * pytorch_model.bin, onnx/model.onnx, model.onnx, onnx/decoder_model.onnx, onnx/decoder_model_merged.onnx. `why` collects what was wrong, for the not-found message.
 */
async function folderWeights(dir: string, why: string[]): Promise<Weights | null> {
  const has = async (...parts: string[]): Promise<string | null> => {
    const p = join(dir, ...parts);
    return (await kindOf(p)) === 'file' ? p : null;
  };
  let p: string | null;
  if ((p = await has('model.safetensors.index.json'))) {
    return { files: await indexShards(p), format: 'safetensors', indexFile: p };
  }
  if ((p = await has('model.safetensors'))) return { files: [p], format: 'safetensors' };
  let names: string[] = [];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    /* unreadable folder: nothing found below */
  }
  const st = names.filter((n) => n.endsWith('.safetensors'));
  if (st.length === 1) return { files: [join(dir, st[0])], format: 'safetensors' };
  if (st.length > 1) why.push(`${dir}: several .safetensors files (${st.join(', ')}) and no model.safetensors.index.json`);
  if ((p = await has('pytorch_model.bin.index.json'))) {
    return { files: await indexShards(p), format: 'pytorch', indexFile: p };
  }
  if ((p = await has('pytorch_model.bin'))) return { files: [p], format: 'pytorch' };
  if ((p = (await has('onnx', 'model.onnx')) ?? (await has('model.onnx')))) return { files: [p], format: 'onnx' };
  // Optimum / transformers.js decoder exports (src/architectures/onnx-export.ts feeds them).
  for (const f of ['decoder_model.onnx', 'decoder_model_merged.onnx'])
    if ((p = await has('onnx', f))) return { files: [p], format: 'onnx' };
  let exported: string[] = [];
  try {
    exported = (await readdir(join(dir, 'onnx'))).filter((n) => n.endsWith('.onnx')).sort();
  } catch {
    /* no onnx/ folder */
  }
  if (exported.length)
    why.push(`${dir}: onnx/ holds only ${exported.join(', ')} (quantized or half-precision exports: gradients need the float32 model)`);
  why.push(
    `${dir}: no model.safetensors(.index.json), pytorch_model.bin(.index.json), onnx/model.onnx, onnx/decoder_model(_merged).onnx or model.onnx`,
  );
  return null;
}

/** A single file given by path: its format from its content; an `*.index.json` stands for its shards. */
async function fileModel(path: string, id: string): Promise<ResolvedModel> {
  const dir = dirname(path);
  // config.json sits beside the weights, or one level up for onnx/model.onnx.
  const config = (await readConfig(dir)) ?? (basename(dir) === 'onnx' ? await readConfig(dirname(dir)) : null);
  if (path.endsWith('.index.json')) {
    const files = await indexShards(path);
    const f = await sniffFormat(files[0]);
    if (f !== 'safetensors' && f !== 'pytorch') {
      throw new WeightscopeError('unsupported-format', `${files[0]} (first shard of ${path}) is neither safetensors nor a PyTorch zip`);
    }
    return { id, dir, files, format: f, config, indexFile: path };
  }
  const f = await sniffFormat(path);
  if (f === 'unknown') {
    throw new WeightscopeError(
      'unsupported-format',
      `${path} is not a checkpoint format weightscope reads (safetensors, PyTorch zip .bin/.pt, ONNX)`,
    );
  }
  if (f === 'legacy-pytorch') return { id, dir, files: [path], format: 'pytorch', config, legacy: true };
  return { id, dir, files: [path], format: f, config };
}

async function folderModel(dir: string, id: string, why: string[]): Promise<ResolvedModel | null> {
  const w = await folderWeights(dir, why);
  if (!w) return null;
  return { id, dir, ...w, config: await readConfig(dir) };
}

/** An id as the hub spells them: 'NAME' or 'ORG/NAME', letters, digits, '-', '_', '.'; no '..'. */
const HUB_ID = /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/;

/** The snapshot folder of a cached repo for `revision`: refs/<revision> → commit, or a commit given directly. */
async function cachedSnapshot(repoDir: string, revision: string | undefined, why: string[]): Promise<string | null> {
  const snapDir = join(repoDir, 'snapshots');
  const rev = revision ?? 'main';
  if (!rev.split('/').includes('..')) {
    try {
      const commit = (await readFile(join(repoDir, 'refs', rev), 'utf8')).trim();
      if (/^[0-9a-f]{40}$/.test(commit) && (await kindOf(join(snapDir, commit))) === 'dir') return join(snapDir, commit);
      why.push(`${repoDir}: refs/${rev} names ${commit}, which has no snapshot`);
      return null;
    } catch {
      /* no such ref */
    }
    if (/^[0-9a-f]{40}$/.test(rev) && (await kindOf(join(snapDir, rev))) === 'dir') return join(snapDir, rev);
  }
  if (revision !== undefined) {
    why.push(`${repoDir}: no revision '${revision}'`);
    return null;
  }
  // No refs/main (e.g. a copied cache): the only snapshot, or the most recently modified one.
  let snaps: { p: string; t: number }[] = [];
  try {
    const names = await readdir(snapDir);
    snaps = await Promise.all(names.map(async (n) => ({ p: join(snapDir, n), t: (await stat(join(snapDir, n))).mtimeMs })));
  } catch {
    /* no snapshots folder */
  }
  if (snaps.length === 0) {
    why.push(`${repoDir}: no snapshots`);
    return null;
  }
  snaps.sort((a, b) => b.t - a.t || (a.p < b.p ? -1 : 1));
  return snaps[0].p;
}

/**
 * Resolve `spec` (a file, a folder, or a hub id) to the files to read. Order for hub ids: each cache folder
 * (models--ORG--NAME), then models/ORG/NAME and models/NAME in the local store. Nothing found → 'not-found'
 * listing every place looked at.
 */
export async function resolveModelPath(spec: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  if (spec.trim() === '') throw new WeightscopeError('invalid-input', 'no model given');
  const why: string[] = [];
  const kind = await kindOf(spec);
  if (kind === 'file') return fileModel(spec, spec);
  if (kind === 'dir') {
    const m = await folderModel(spec, spec, why);
    if (m) return m;
    throw new WeightscopeError('not-found', `no model weights in folder ${spec}: ${why.join('; ')}`, { looked: why });
  }
  if (!HUB_ID.test(spec) || spec.split('/').some((s) => s === '.' || s === '..')) {
    throw new WeightscopeError('not-found', `${spec}: no such file or folder (and not a Hugging Face id ORG/NAME)`);
  }
  const looked: string[] = [];
  const repoName = `models--${spec.split('/').join('--')}`;
  for (const cache of opts.cacheDirs ?? defaultCacheDirs()) {
    const repoDir = join(cache, repoName);
    looked.push(repoDir);
    if ((await kindOf(repoDir)) !== 'dir') continue;
    const snap = await cachedSnapshot(repoDir, opts.revision, why);
    if (!snap) continue;
    const m = await folderModel(snap, spec, why);
    if (m) return m;
  }
  const models = opts.modelsDir ?? defaultModelsDir();
  const parts = spec.split('/');
  const local = [join(models, ...parts)];
  if (parts.length === 2) local.push(join(models, parts[1]));
  for (const dir of local) {
    looked.push(dir);
    if ((await kindOf(dir)) !== 'dir') continue;
    const m = await folderModel(dir, spec, why);
    if (m) return m;
  }
  const detail = why.length > 0 ? ` (${why.join('; ')})` : '';
  throw new WeightscopeError(
    'not-found',
    `model '${spec}' not found; looked in ${looked.join(', ')}${detail}. weightscope does not download: ` +
      'put the model in the Hugging Face cache (e.g. huggingface-cli download) or under models/.',
    { looked, reasons: why },
  );
}
