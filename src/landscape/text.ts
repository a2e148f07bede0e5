/**
 * Text → token batches for language-model diagnostics: a file tokenized offline with the model folder's tokenizer
 * (@huggingface/transformers, tokenizer.json), cut into rows of `seq` tokens ([N, seq] int64; the tail that does
 * not fill a row is dropped, as fixed-length LM batches are made).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { WeightscopeError } from '../errors.js';
import { makeDataset, type Dataset } from '../runtime/dataset.js';

/** The folder holding tokenizer.json for a model path: the path itself (a folder), its folder, or that folder's parent (HF `onnx/model.onnx`). */
export function findTokenizerDir(modelPath: string): string {
  const p = resolve(modelPath);
  for (const dir of [p, dirname(p), dirname(dirname(p))]) {
    if (existsSync(join(dir, 'tokenizer.json'))) return dir;
  }
  throw new WeightscopeError(
    'not-found',
    `no tokenizer.json beside ${modelPath} or in its parent folder (pass the tokenizer folder explicitly)`,
  );
}

/** What the data loaders use of a transformers.js tokenizer. */
export interface TextTokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean; text_pair?: string | null }): number[];
  /** Full encoding with special tokens (and the pair's token types). */
  encodePlus(text: string, pair: string | null): { input_ids: number[]; attention_mask: number[]; token_type_ids: number[] | null };
  readonly padId: number | null;
}

/** The tokenizer of a folder holding tokenizer.json, loaded offline with @huggingface/transformers. */
export async function loadTokenizer(tokenizerDir: string): Promise<TextTokenizer> {
  const dir = resolve(tokenizerDir);
  if (!existsSync(join(dir, 'tokenizer.json'))) throw new WeightscopeError('not-found', `no tokenizer.json in ${tokenizerDir}`);
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  // Offline: the folder is addressed by name under its parent as the local model path.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dirname(dir) + '/';
  let tok;
  try {
    tok = await AutoTokenizer.from_pretrained(basename(dir));
  } catch (e) {
    throw new WeightscopeError('invalid-input', `cannot load the tokenizer in ${tokenizerDir}: ${(e as Error).message}`);
  }
  const t = tok;
  return {
    encode: (text, opts = {}) =>
      t.encode(text, { add_special_tokens: opts.add_special_tokens ?? false, text_pair: opts.text_pair ?? null }),
    encodePlus(text, pair) {
      const r = t(text, {
        text_pair: pair,
        add_special_tokens: true,
        return_token_type_ids: true,
        padding: false,
        truncation: false,
        return_tensor: false,
      }) as unknown as {
        input_ids: number[];
        attention_mask: number[];
        token_type_ids?: number[];
      };
      return { input_ids: r.input_ids, attention_mask: r.attention_mask, token_type_ids: r.token_type_ids ?? null };
    },
    padId: typeof t.pad_token_id === 'number' ? t.pad_token_id : null,
  };
}

/** Token ids of `text` (no special tokens added). */
export async function encodeText(text: string, tokenizerDir: string): Promise<number[]> {
  return (await loadTokenizer(tokenizerDir)).encode(text);
}

/** Ids cut into rows of `seq` tokens: [floor(len/seq), seq] int64. */
export function tokensToDataset(ids: readonly number[], seq: number): Dataset {
  if (!Number.isInteger(seq) || seq < 2) throw new WeightscopeError('invalid-input', `sequence length must be an integer ≥ 2, got ${seq}`);
  const rows = Math.floor(ids.length / seq);
  if (rows === 0) throw new WeightscopeError('invalid-input', `the text has ${ids.length} tokens, fewer than one sequence of ${seq}`);
  const data = new BigInt64Array(rows * seq);
  for (let i = 0; i < data.length; i++) data[i] = BigInt(ids[i]);
  return makeDataset({ type: 'int64', data, dims: [rows, seq] }, null);
}

/** A text file (UTF-8) tokenized with the tokenizer in `tokenizerDir`, as [N, seq] token rows. */
export async function textDataset(path: string, tokenizerDir: string, seq: number): Promise<Dataset> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new WeightscopeError('not-found', `cannot read text file ${path}: ${(e as Error).message}`);
  }
  return tokensToDataset(await encodeText(text, tokenizerDir), seq);
}
