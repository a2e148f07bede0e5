/**
 * Downloads a model from a Hugging Face hub endpoint (HF_ENDPOINT) with @huggingface/hub: the revision is pinned
 * to its commit first (every file comes from the same snapshot), the file list with sizes and LFS sha256 comes from
 * the tree API, and each file streams into the blob store, hashed on the way and checked against the hub's sha256.
 * Which files: the weights in the loaders' order of preference (a safetensors index and its shards,
 * model.safetensors, the PyTorch equivalents, onnx/model.onnx, model.onnx) plus config, tokenizer and ONNX
 * companions when present. Used only with WEIGHTSCOPE_HF_DOWNLOAD=1, as an import job.
 */
import { downloadFile, listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { WeightscopeError } from '../../errors.js';
import { parseWeightMap } from '../../io/shard-index.js';
import type { Blobs } from '../context.js';
import type { UploadBudget } from './blobs.js';
import type { NamedPart } from './models.js';

export interface HubSource {
  endpoint: string;
  token?: string;
}

export interface HubProgress {
  report?(done: number, total: number, message: string): void;
  stop(): Error | null;
}

const WEIGHTS: readonly (readonly [string, string])[] = [
  ['model.safetensors.index.json', 'model.safetensors'],
  ['pytorch_model.bin.index.json', 'pytorch_model.bin'],
];
const COMPANIONS = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'onnx/model.onnx_data',
  'model.onnx_data',
];

/** The hub's errors (network, 401/403/404) as WeightscopeErrors with the status and a hint. */
function hubError(e: unknown, what: string): WeightscopeError {
  if (e instanceof WeightscopeError) return e;
  const status = (e as { statusCode?: number }).statusCode;
  const msg = e instanceof Error ? e.message : String(e);
  if (status === 401 || status === 403)
    return new WeightscopeError('invalid-input', `${what}: HTTP ${status} (set HF_TOKEN for gated or private models)`);
  if (status === 404 || status === undefined) return new WeightscopeError('not-found', `${what}: ${status ? `HTTP ${status}` : msg}`);
  return new WeightscopeError('not-found', `${what}: HTTP ${status} ${msg}`);
}

/** The files of the snapshot to fetch, by the loaders' preference (index → shards from its weight map). */
async function choose(listed: Map<string, ListFileEntry>, fetchText: (path: string) => Promise<string>, repo: string): Promise<string[]> {
  for (const [index, single] of WEIGHTS) {
    if (listed.has(index)) {
      let json: unknown;
      try {
        json = JSON.parse(await fetchText(index));
      } catch (e) {
        if (e instanceof WeightscopeError) throw e;
        throw new WeightscopeError('corrupt-file', `${repo}/${index} is not a shard index (not valid JSON)`);
      }
      const shards = [...new Set(parseWeightMap(json, `${repo}/${index}`).values())];
      for (const s of shards)
        if (!listed.has(s)) throw new WeightscopeError('not-found', `${repo}: shard ${s} listed in ${index} is missing`);
      return [index, ...shards];
    }
    if (listed.has(single)) return [single];
  }
  for (const onnx of ['onnx/model.onnx', 'model.onnx']) if (listed.has(onnx)) return [onnx];
  throw new WeightscopeError(
    'not-found',
    `${repo} has none of model.safetensors(.index.json), pytorch_model.bin(.index.json), onnx/model.onnx`,
  );
}

export async function downloadFromHub(
  src: HubSource,
  repo: string,
  revision: string,
  blobs: Blobs,
  budget: UploadBudget,
  progress: HubProgress,
): Promise<{ parts: NamedPart[]; commit: string }> {
  const common = { hubUrl: src.endpoint, ...(src.token ? { accessToken: src.token } : {}) };
  let commit: string;
  try {
    const info = await modelInfo({ name: repo, revision, additionalFields: ['sha'], ...common });
    commit = info.sha;
  } catch (e) {
    throw hubError(e, `${repo}@${revision} on ${src.endpoint}`);
  }
  if (!/^[0-9a-f]{40}$/.test(commit ?? '')) throw new WeightscopeError('not-found', `${repo}@${revision}: the hub named no commit for it`);
  const listed = new Map<string, ListFileEntry>();
  try {
    for await (const f of listFiles({ repo, revision: commit, recursive: true, ...common })) if (f.type === 'file') listed.set(f.path, f);
  } catch (e) {
    throw hubError(e, `${repo}@${commit}: listing files`);
  }
  const open = async (path: string): Promise<Blob> => {
    try {
      const b = await downloadFile({ repo, path, revision: commit, xet: false, ...common });
      if (!b) throw new WeightscopeError('not-found', `${repo}@${commit}: ${path} is missing`);
      return b;
    } catch (e) {
      throw hubError(e, `${repo}@${commit}: ${path}`);
    }
  };
  const weights = await choose(listed, async (p) => (await open(p)).text(), repo);
  const files = [...weights, ...COMPANIONS.filter((c) => listed.has(c) && !weights.includes(c))];
  if (weights.includes('onnx/model.onnx') || weights.includes('model.onnx')) {
    // An ONNX model with external data names it in the graph; fetch those beside it too.
    for (const p of listed.keys()) if (/^(onnx\/)?[\w.-]+\.onnx_data$/.test(p) && !files.includes(p)) files.push(p);
  }
  const total = files.reduce((s, f) => s + (listed.get(f)?.size ?? 0), 0);
  const parts: NamedPart[] = [];
  let done = 0;
  try {
    for (const path of files) {
      const err = progress.stop();
      if (err) throw err;
      progress.report?.(done, total, `downloading ${path}`);
      const blob = await open(path);
      const part = await blobs.ingest(
        Readable.fromWeb(blob.stream() as unknown as WebReadableStream<Uint8Array>),
        budget,
        (n) => {
          done += n;
          progress.report?.(done, total, `downloading ${path}`);
        },
        { stop: progress.stop, what: 'download', setting: 'WEIGHTSCOPE_MAX_IMPORT' },
      );
      parts.push({ name: path, part });
      // LFS files carry the sha256 of their content: a download that does not match is refused.
      const lfs = listed.get(path)?.lfs;
      if (lfs && lfs.oid !== part.sha256) {
        throw new WeightscopeError(
          'corrupt-file',
          `${repo}@${commit}: ${path} downloaded with sha256 ${part.sha256}, the hub says ${lfs.oid}`,
        );
      }
    }
  } catch (e) {
    await blobs.discard(parts.map((p) => p.part));
    throw e;
  }
  return { parts, commit };
}
