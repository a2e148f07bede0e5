/**
 * Data for a model, in the form its graph takes (src/architectures/inputs.ts), from what users have:
 *
 * - causal LMs: `--text FILE` (tokenized with the folder's tokenizer.json, rows of `seq` tokens) or a safetensors
 *   token dataset (`x` or `input_ids`, int64/int32 [N, T]; an `attention_mask` must be all ones: the next-token loss
 *   has no padding);
 * - sequence classifiers: JSONL or CSV rows {text, label} (optional text_pair), tokenized with tokenizer.json with
 *   special tokens, padded to the longest row (padding is masked, so the logits equal per-batch padding's), or a
 *   safetensors with `input_ids`, optional `attention_mask` / `token_type_ids`, and `y`; a label is the class index
 *   or a name from config.json's label2id;
 * - masked LMs: a safetensors with `input_ids`, `labels` [N, T] (−100 = not predicted, as transformers' data
 *   collator writes them) and optional `attention_mask` / `token_type_ids`: one sample per predicted token, so the
 *   mean loss is transformers' masked-LM loss;
 * - image classifiers and plain ONNX models: safetensors `x` (and `y`), as before.
 *
 * Wrong keys, dtypes, out-of-range labels or token ids ≥ vocab_size are errors naming the file and the row.
 *
 * Over 400 lines because every data form (safetensors, JSONL/CSV text, --text) passes the same checks, side by side.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { WeightscopeError } from '../errors.js';
import { openSafetensors, type SafetensorsReader } from '../io/safetensors.js';
import type { TensorInfo } from '../io/types.js';
import { findTokenizerDir, loadTokenizer, textDataset } from '../landscape/text.js';
import { loadDataset, makeDataset, type Dataset } from '../runtime/dataset.js';
import type { InputLayout } from '../architectures/inputs.js';
import type { OpenedModel } from '../model-io/open.js';
import { parseCsv } from './csv.js';

export interface DataSource {
  /** A dataset file: safetensors, .jsonl or .csv. */
  readonly data?: string;
  /** Or a UTF-8 text file for a language model, cut into rows of `seq` tokens. */
  readonly text?: string;
  readonly seq?: number;
  /** Tokenizer folder (default: the model's folder, or beside / above the .onnx file). */
  readonly tokenizer?: string;
}

export interface ModelDataOptions {
  /**
   * A triggered set for the attack success rate: rows whose true class (`y_true`, or `label_true` in JSONL/CSV)
   * is the target label are dropped; without it every row counts.
   */
  readonly triggered?: boolean;
}

function bad(path: string, msg: string): WeightscopeError {
  return new WeightscopeError('invalid-input', `${path}: ${msg}`, { path });
}

type FileKind = 'safetensors' | 'jsonl' | 'csv';
function fileKind(path: string): FileKind {
  const e = extname(path).toLowerCase();
  if (e === '.jsonl' || e === '.json' || e === '.ndjson') return 'jsonl';
  if (e === '.csv' || e === '.tsv') return 'csv';
  return 'safetensors';
}

async function readInts(r: SafetensorsReader, info: TensorInfo, path: string): Promise<BigInt64Array> {
  const bytes = (await r.readBytes(info.name)).slice();
  if (info.dtype === 'I64') return new BigInt64Array(bytes.buffer);
  if (info.dtype === 'I32') return BigInt64Array.from(new Int32Array(bytes.buffer), (v) => BigInt(v));
  throw bad(path, `'${info.name}' must be int64 (or int32), got ${info.dtype}`);
}

/** The named 2-D int tensor [N, T] (first of `names` present), or null. */
async function tokenTensor(
  r: SafetensorsReader,
  names: readonly string[],
  path: string,
  shape?: readonly number[],
): Promise<{ name: string; data: BigInt64Array; n: number; t: number } | null> {
  const info = r.tensors.find((t) => names.includes(t.name));
  if (!info) return null;
  if (info.shape.length !== 2) throw bad(path, `'${info.name}' must be [N, T], got [${info.shape.join(', ')}]`);
  if (shape && (info.shape[0] !== shape[0] || info.shape[1] !== shape[1])) {
    throw bad(path, `'${info.name}' is [${info.shape.join(', ')}], input_ids is [${shape.join(', ')}]`);
  }
  return { name: info.name, data: await readInts(r, info, path), n: info.shape[0], t: info.shape[1] };
}

function checkRange(path: string, what: string, data: BigInt64Array, limit: number, width: number, hint: string): void {
  if (!(limit > 0)) return;
  const lim = BigInt(limit);
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0n || data[i] >= lim) {
      throw bad(path, `${what} ${data[i]} at row ${Math.floor(i / width)}, position ${i % width} is outside 0..${limit - 1} (${hint})`);
    }
  }
}

function checkSeq(path: string, t: number, max: number | null): void {
  if (max !== null && t > max) throw bad(path, `sequences of ${t} tokens are longer than the model's ${max} positions`);
}

function checkMask(path: string, name: string, data: BigInt64Array, t: number): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0n && data[i] !== 1n) throw bad(path, `${name} must be 0 or 1, got ${data[i]} at row ${Math.floor(i / t)}`);
  }
}

/** Labels as class indices, checked against the model's classes. */
function checkLabels(path: string, y: BigInt64Array, labels: readonly string[] | null): void {
  if (!labels) return;
  for (let i = 0; i < y.length; i++) {
    if (y[i] < 0n || y[i] >= BigInt(labels.length))
      throw bad(path, `label ${y[i]} of row ${i} is outside the model's ${labels.length} classes (0..${labels.length - 1})`);
  }
}

/** Rows packed along axis 1: [N, rows, T]. */
function pack(rows: readonly BigInt64Array[], n: number, t: number): BigInt64Array {
  const out = new BigInt64Array(n * rows.length * t);
  for (let i = 0; i < n; i++) rows.forEach((r, k) => out.set(r.subarray(i * t, (i + 1) * t), (i * rows.length + k) * t));
  return out;
}

async function labelsTensor(r: SafetensorsReader, path: string, n: number, name = 'y'): Promise<BigInt64Array | null> {
  const info = r.tensors.find((t) => t.name === name);
  if (!info) return null;
  if (info.shape.length !== 1 || info.shape[0] !== n) throw bad(path, `'${name}' must be [${n}], got [${info.shape.join(', ')}]`);
  return readInts(r, info, path);
}

/** The dataset's rows whose y_true differs from y (the non-target rows of a triggered set). */
function nonTarget(ds: Dataset, yTrue: BigInt64Array | null, path: string): Dataset {
  if (!yTrue) return ds;
  const y = ds.y as BigInt64Array;
  const keep: number[] = [];
  for (let i = 0; i < ds.n; i++) if (yTrue[i] !== y[i]) keep.push(i);
  if (keep.length === 0) throw bad(path, 'every triggered row already belongs to its target class');
  if (keep.length === ds.n) return ds;
  const row = ds.x.data.length / ds.n;
  const dims = [keep.length, ...ds.x.dims.slice(1)];
  if (ds.x.type === 'int64') {
    const src = ds.x.data as BigInt64Array;
    const x = new BigInt64Array(keep.length * row);
    keep.forEach((r0, j) => x.set(src.subarray(r0 * row, (r0 + 1) * row), j * row));
    return makeDataset(
      { type: 'int64', data: x, dims },
      BigInt64Array.from(keep, (i) => y[i]),
    );
  }
  const src = ds.x.data as Float32Array;
  const x = new Float32Array(keep.length * row);
  keep.forEach((r0, j) => x.set(src.subarray(r0 * row, (r0 + 1) * row), j * row));
  return makeDataset(
    { type: 'float32', data: x, dims },
    BigInt64Array.from(keep, (i) => y[i]),
  );
}

type EncoderLayout = Extract<InputLayout, { kind: 'encoder' }>;

/** Encoder inputs from safetensors: input_ids, optional attention_mask / token_type_ids, y (or labels for MLM). */
async function encoderSafetensors(path: string, m: OpenedModel, layout: EncoderLayout, triggered: boolean): Promise<Dataset> {
  const r = await openSafetensors(path);
  try {
    // 'x': the service's datasets name every model's input x.
    const ids = await tokenTensor(r, ['input_ids', 'x'], path);
    if (!ids)
      throw bad(
        path,
        `no 'input_ids' or 'x' (has: ${r.tensors.map((t) => t.name).join(', ') || 'none'}); ${m.architecture} takes input_ids, optional attention_mask and token_type_ids, and ${layout.rows.length === 4 ? 'labels' : 'y'}`,
      );
    const { n, t } = ids;
    checkSeq(path, t, layout.maxSeq);
    checkRange(path, 'token id', ids.data, layout.vocab, t, `vocab_size ${layout.vocab}`);
    const mask = (await tokenTensor(r, ['attention_mask'], path, [n, t]))?.data ?? new BigInt64Array(n * t).fill(1n);
    checkMask(path, 'attention_mask', mask, t);
    const types = (await tokenTensor(r, ['token_type_ids'], path, [n, t]))?.data ?? new BigInt64Array(n * t);
    checkRange(path, 'token type id', types, layout.typeVocab, t, `type_vocab_size ${layout.typeVocab}`);
    if (layout.rows.length === 4) {
      const labels = await tokenTensor(r, ['labels'], path, [n, t]);
      if (!labels) throw bad(path, `no 'labels' [N, T] (the tokens to predict, −100 elsewhere) for ${m.architecture}`);
      return maskedLmSamples(path, ids.data, mask, types, labels.data, t, layout.vocab);
    }
    const y = await labelsTensor(r, path, n);
    if (!y) throw bad(path, `no labels 'y' [${n}] for ${m.architecture}`);
    checkLabels(path, y, m.labels);
    const ds = makeDataset({ type: 'int64', data: pack([ids.data, mask, types], n, t), dims: [n, 3, t] }, y);
    return triggered ? nonTarget(ds, await labelsTensor(r, path, n, 'y_true'), path) : ds;
  } finally {
    await r.close();
  }
}

/** One sample per predicted token: the sequence, a 0/1 marker of the position, and the token as the label. */
function maskedLmSamples(
  path: string,
  ids: BigInt64Array,
  mask: BigInt64Array,
  types: BigInt64Array,
  labels: BigInt64Array,
  t: number,
  vocab: number,
): Dataset {
  const where: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === -100n) continue;
    if (labels[i] < 0n || labels[i] >= BigInt(vocab))
      throw bad(path, `label token ${labels[i]} at row ${Math.floor(i / t)} is outside the vocabulary (0..${vocab - 1}; −100 = ignored)`);
    where.push(i);
  }
  if (where.length === 0) throw bad(path, "'labels' marks no token to predict (every entry is −100)");
  const x = new BigInt64Array(where.length * 4 * t);
  const y = new BigInt64Array(where.length);
  where.forEach((flat, j) => {
    const row = Math.floor(flat / t);
    const base = j * 4 * t;
    x.set(ids.subarray(row * t, (row + 1) * t), base);
    x.set(mask.subarray(row * t, (row + 1) * t), base + t);
    x.set(types.subarray(row * t, (row + 1) * t), base + 2 * t);
    x[base + 3 * t + (flat % t)] = 1n;
    y[j] = labels[flat];
  });
  return makeDataset({ type: 'int64', data: x, dims: [where.length, 4, t] }, y);
}

interface TextRow {
  readonly text: string;
  readonly pair: string | null;
  readonly label: unknown;
  readonly labelTrue: unknown;
}

async function textRows(path: string, kind: 'jsonl' | 'csv'): Promise<TextRow[]> {
  let body: string;
  try {
    body = await readFile(path, 'utf8');
  } catch (e) {
    throw new WeightscopeError('not-found', `cannot read ${path}: ${(e as Error).message}`);
  }
  const records: Record<string, unknown>[] = [];
  if (kind === 'jsonl') {
    body.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw bad(path, `line ${i + 1} is not JSON (${(e as Error).message})`);
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(path, `line ${i + 1} is not a JSON object`);
      records.push(v as Record<string, unknown>);
    });
  } else {
    const rows = parseCsv(body, extname(path).toLowerCase() === '.tsv' ? '\t' : ',', path);
    const [head, ...rest] = rows;
    if (!head) throw bad(path, 'the CSV is empty');
    rest.forEach((cells, i) => {
      if (cells.length !== head.length) throw bad(path, `CSV row ${i + 2} has ${cells.length} fields, the header ${head.length}`);
      records.push(Object.fromEntries(head.map((h, k) => [h.trim(), cells[k]])));
    });
  }
  if (records.length === 0) throw bad(path, 'no rows');
  return records.map((r, i) => {
    if (typeof r.text !== 'string') throw bad(path, `row ${i + 1} has no string 'text'`);
    const pair = r.text_pair;
    if (pair !== undefined && pair !== null && typeof pair !== 'string') throw bad(path, `row ${i + 1}: 'text_pair' must be a string`);
    return {
      text: r.text,
      pair: typeof pair === 'string' && pair !== '' ? pair : null,
      label: r.label,
      labelTrue: r.label_true ?? r.y_true,
    };
  });
}

/** A label as a class index: an integer (or integer string) in range, or a name from label2id. */
function labelIndex(v: unknown, row: number, path: string, m: OpenedModel): bigint {
  const labels = m.labels ?? [];
  const label2id = (m.config?.label2id ?? null) as Record<string, unknown> | null;
  if (typeof v === 'string' && label2id && Object.hasOwn(label2id, v)) return BigInt(Number(label2id[v]));
  const idx = labels.indexOf(String(v));
  if (typeof v === 'string' && idx >= 0 && !/^\d+$/.test(v)) return BigInt(idx);
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) {
    throw bad(path, `row ${row}: label ${JSON.stringify(v)} is neither a class index nor a name in label2id (${labels.join(', ')})`);
  }
  if (n < 0 || n >= labels.length)
    throw bad(path, `row ${row}: label ${n} is outside the model's ${labels.length} classes (0..${labels.length - 1})`);
  return BigInt(n);
}

/** JSONL/CSV rows tokenized with the folder's tokenizer, padded to the longest row. */
async function encoderText(
  path: string,
  kind: 'jsonl' | 'csv',
  m: OpenedModel,
  layout: EncoderLayout,
  tokenizerDir: string,
  triggered: boolean,
): Promise<Dataset> {
  if (layout.rows.length === 4)
    throw bad(path, `${m.architecture} takes a safetensors with input_ids and labels (masked tokens), not ${kind.toUpperCase()} text`);
  const rows = await textRows(path, kind);
  const tok = await loadTokenizer(tokenizerDir);
  const enc = rows.map((r) => tok.encodePlus(r.text, r.pair));
  const t = Math.max(...enc.map((e) => e.input_ids.length));
  checkSeq(path, t, layout.maxSeq);
  const n = rows.length;
  const pad = BigInt(tok.padId ?? (typeof m.config?.pad_token_id === 'number' ? m.config.pad_token_id : 0));
  const ids = new BigInt64Array(n * t).fill(pad);
  const mask = new BigInt64Array(n * t);
  const types = new BigInt64Array(n * t);
  enc.forEach((e, i) => {
    e.input_ids.forEach((v, j) => (ids[i * t + j] = BigInt(v)));
    e.attention_mask.forEach((v, j) => (mask[i * t + j] = BigInt(v)));
    e.token_type_ids?.forEach((v, j) => (types[i * t + j] = BigInt(v)));
  });
  checkRange(path, 'token id', ids, layout.vocab, t, `the tokenizer in ${tokenizerDir} does not match vocab_size ${layout.vocab}`);
  checkRange(path, 'token type id', types, layout.typeVocab, t, `type_vocab_size ${layout.typeVocab}`);
  const y = BigInt64Array.from(rows, (r, i) => {
    if (r.label === undefined || r.label === null || r.label === '') throw bad(path, `row ${i + 1} has no 'label'`);
    return labelIndex(r.label, i + 1, path, m);
  });
  const ds = makeDataset({ type: 'int64', data: pack([ids, mask, types], n, t), dims: [n, 3, t] }, y);
  if (!triggered || rows.every((r) => r.labelTrue === undefined || r.labelTrue === null)) return ds;
  return nonTarget(
    ds,
    BigInt64Array.from(rows, (r, i) => labelIndex(r.labelTrue, i + 1, path, m)),
    path,
  );
}

/** Causal-LM tokens from safetensors: x or input_ids [N, T]; a mask, if any, all ones. */
async function tokenSafetensors(path: string, m: OpenedModel, layout: Extract<InputLayout, { kind: 'tokens' }>): Promise<Dataset> {
  const r = await openSafetensors(path);
  try {
    const ids = await tokenTensor(r, ['x', 'input_ids'], path);
    if (!ids)
      throw bad(
        path,
        `no token tensor 'x' or 'input_ids' (has: ${r.tensors.map((t) => t.name).join(', ') || 'none'}); ${m.architecture} takes int64 tokens [N, T]`,
      );
    const mask = await tokenTensor(r, ['attention_mask'], path, [ids.n, ids.t]);
    if (mask && mask.data.some((v) => v !== 1n))
      throw bad(path, 'attention_mask has padded positions: the next-token loss of a causal LM is taken over unpadded rows only');
    return lmTokens(path, ids.data, ids.n, ids.t, layout);
  } finally {
    await r.close();
  }
}

function lmTokens(path: string, data: BigInt64Array, n: number, t: number, layout: Extract<InputLayout, { kind: 'tokens' }>): Dataset {
  if (t < 2) throw bad(path, `sequences of ${t} token(s) have no next token to predict`);
  checkSeq(path, t, layout.maxSeq);
  checkRange(path, 'token id', data, layout.vocab, t, `vocab_size ${layout.vocab}`);
  return makeDataset({ type: 'int64', data, dims: [n, t] }, null);
}

async function pixelSafetensors(
  path: string,
  m: OpenedModel,
  layout: Extract<InputLayout, { kind: 'pixels' }>,
  triggered: boolean,
): Promise<Dataset> {
  const r = await openSafetensors(path);
  let names: string[];
  try {
    names = r.tensors.map((t) => t.name);
  } finally {
    await r.close();
  }
  const xName = names.includes('x') ? 'x' : names.includes('pixel_values') ? 'pixel_values' : null;
  if (!xName) throw bad(path, `no image tensor 'x' or 'pixel_values' (has: ${names.join(', ') || 'none'})`);
  const ds = await loadDataset(path, { x: xName, y: names.includes('y') ? 'y' : 'labels' });
  if (ds.x.type !== 'float32') throw bad(path, `'${xName}' must be float images, got integers`);
  const [, c, h, w] = ds.x.dims;
  if (ds.x.dims.length !== 4 || c !== layout.channels || h !== layout.size || w !== layout.size) {
    throw bad(
      path,
      `'${xName}' is [${ds.x.dims.join(', ')}]; ${m.architecture} takes [N, ${layout.channels}, ${layout.size}, ${layout.size}] (num_channels, image_size)`,
    );
  }
  checkLabels(path, ds.y as BigInt64Array, m.labels);
  if (!triggered) return ds;
  const rt = await openSafetensors(path);
  try {
    return nonTarget(ds, await labelsTensor(rt, path, ds.n, 'y_true'), path);
  } finally {
    await rt.close();
  }
}

function tokenizerFor(m: OpenedModel, src: DataSource): string {
  return src.tokenizer ?? findTokenizerDir(m.dir ?? m.file);
}

/** The dataset a source names, for model `m` (exactly one of data / text). */
export async function loadModelData(m: OpenedModel, src: DataSource, opts: ModelDataOptions = {}): Promise<Dataset> {
  if ((src.data === undefined) === (src.text === undefined)) {
    throw new WeightscopeError('invalid-input', 'give exactly one of a dataset file (--data) or a text file (--text)', { usage: true });
  }
  const layout = m.layout;
  if (src.text !== undefined) {
    if (layout.kind !== 'tokens' && layout.kind !== 'raw') {
      throw new WeightscopeError(
        'invalid-input',
        `--text is for language models; ${m.architecture} takes ${layout.kind === 'pixels' ? 'images (safetensors x, y)' : 'labelled data (JSONL/CSV {text, label}, or safetensors input_ids and y)'}`,
        { usage: true },
      );
    }
    if (src.seq === undefined) throw new WeightscopeError('invalid-input', '--text needs --seq (tokens per sequence)', { usage: true });
    const ds = await textDataset(src.text, tokenizerFor(m, src), src.seq);
    return layout.kind === 'tokens' ? lmTokens(src.text, ds.x.data as BigInt64Array, ds.n, src.seq, layout) : ds;
  }
  const path = src.data as string;
  const kind = fileKind(path);
  const triggered = opts.triggered === true;
  switch (layout.kind) {
    case 'tokens':
      if (kind !== 'safetensors')
        throw bad(path, `${m.architecture} is a causal LM: give a token dataset (safetensors x or input_ids) or --text FILE`);
      return tokenSafetensors(path, m, layout);
    case 'encoder':
      return kind === 'safetensors'
        ? encoderSafetensors(path, m, layout, triggered)
        : encoderText(path, kind, m, layout, tokenizerFor(m, src), triggered);
    case 'pixels':
      if (kind !== 'safetensors') throw bad(path, `${m.architecture} takes images: a safetensors with x [N, C, H, W] and y`);
      return pixelSafetensors(path, m, layout, triggered);
    case 'raw': {
      if (kind !== 'safetensors') throw bad(path, 'an ONNX model takes a safetensors dataset (x, y) or --text');
      const ds = await loadDataset(path);
      if (!triggered) return ds;
      const r = await openSafetensors(path);
      try {
        return nonTarget(ds, ds.y ? await labelsTensor(r, path, ds.n, 'y_true') : null, path);
      } finally {
        await r.close();
      }
    }
  }
}
