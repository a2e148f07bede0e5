/**
 * Downloads a model from a Hugging Face hub endpoint (HF_ENDPOINT) by the hub's plain file URLs,
 * `{endpoint}/{ORG/NAME}/resolve/{revision}/{file}`, streaming each file into the blob store. Which files: the
 * usual names in the loaders' order of preference — a safetensors index and its shards, model.safetensors, the
 * PyTorch equivalents, onnx/model.onnx — plus config.json when present. Used only with WEIGHTSCOPE_HF_DOWNLOAD=1.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { WeightscopeError } from '../../errors.js';
import type { Blobs } from '../context.js';
import type { UploadBudget } from './blobs.js';
import type { NamedPart } from './models.js';
import { parseWeightMap } from '../../io/shard-index.js';

export interface HubSource {
  endpoint: string;
  token?: string;
}

const fileUrl = (src: HubSource, repo: string, rev: string, file: string): string =>
  `${src.endpoint}/${repo.split('/').map(encodeURIComponent).join('/')}/resolve/${encodeURIComponent(rev)}/${file.split('/').map(encodeURIComponent).join('/')}`;

async function get(src: HubSource, url: string): Promise<Response | null> {
  let res: Response;
  try {
    res = await fetch(url, { headers: src.token ? { authorization: `Bearer ${src.token}` } : {}, redirect: 'follow' });
  } catch (e) {
    throw new WeightscopeError('not-found', `cannot reach the hub at ${src.endpoint}: ${(e as Error).message}`);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new WeightscopeError(res.status === 401 || res.status === 403 ? 'invalid-input' : 'not-found', `${url}: HTTP ${res.status}${res.status === 401 ? ' (set HF_TOKEN for gated models)' : ''}`);
  }
  return res;
}

export async function downloadFromHub(src: HubSource, repo: string, revision: string, blobs: Blobs, budget: UploadBudget): Promise<NamedPart[]> {
  const parts: NamedPart[] = [];
  const fetchInto = async (file: string, res?: Response | null): Promise<boolean> => {
    const r = res === undefined ? await get(src, fileUrl(src, repo, revision, file)) : res;
    if (!r) return false;
    const part = await blobs.ingest(Readable.fromWeb(r.body as WebReadableStream<Uint8Array>), budget);
    parts.push({ name: file, part });
    return true;
  };
  try {
    await fetchInto('config.json');
    for (const [index, single] of [['model.safetensors.index.json', 'model.safetensors'], ['pytorch_model.bin.index.json', 'pytorch_model.bin']] as const) {
      const idx = await get(src, fileUrl(src, repo, revision, index));
      if (idx) {
        const text = await idx.text();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new WeightscopeError('corrupt-file', `${repo}/${index} is not a shard index (not valid JSON)`);
        }
        const shards = [...new Set(parseWeightMap(json, `${repo}/${index}`).values())];
        parts.push({ name: index, part: await blobs.ingest(Readable.from([Buffer.from(text)]), budget) });
        for (const shard of shards) {
          if (!(await fetchInto(shard))) throw new WeightscopeError('not-found', `${repo}@${revision}: shard ${shard} listed in ${index} is missing`);
        }
        return parts;
      }
      if (await fetchInto(single)) return parts;
    }
    if (await fetchInto('onnx/model.onnx')) return parts;
    if (await fetchInto('model.onnx')) return parts;
    throw new WeightscopeError('not-found', `${repo}@${revision} on ${src.endpoint} has none of model.safetensors(.index.json), pytorch_model.bin(.index.json), onnx/model.onnx`);
  } catch (e) {
    await blobs.discard(parts.map((p) => p.part));
    throw e;
  }
}
