/**
 * Data for Transformers: JSONL / CSV rows {text, label} tokenized with the folder's tokenizer.json (special tokens,
 * padding to the longest row, attention_mask, token types of pairs, labels as indices or label2id names) give the
 * same loss as the equivalent safetensors; masked-LM labels expand to one sample per predicted token; wrong keys,
 * dtypes, labels and token ids are errors naming the file and the row, never silent zeros.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelData } from '../../src/data/model-data.js';
import { parseCsv } from '../../src/data/csv.js';
import { lossFor, modelForward } from '../../src/model-io/engine.js';
import { openModel } from '../../src/model-io/open.js';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import { fixture } from '../helpers/fixtures.js';
import { isCode } from '../helpers/errors.js';
import { wordpieceVocab, writeWordpieceTokenizer } from '../helpers/wordpiece.js';
import { randomWeights, readAllTensors, writeHfFolder } from '../helpers/hf-folders.js';

const BERT = fixture('hf-archs', 'bert-tiny-cls');

/** bert-tiny-cls with a WordPiece tokenizer beside it (ids < 400 = vocab_size). */
async function bertFolder(dir: string): Promise<void> {
  await copyFile(join(BERT, 'config.json'), join(dir, 'config.json'));
  await copyFile(join(BERT, 'model.safetensors'), join(dir, 'model.safetensors'));
  await writeWordpieceTokenizer(dir);
}

const i64 = (v: number[]) => new Uint8Array(BigInt64Array.from(v, BigInt).buffer);

test('JSONL and CSV {text, label}: tokenized with special tokens, padded to the longest row, labels by index or name; equal to the safetensors form', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-data-'));
  try {
    await bertFolder(dir);
    const vocab = wordpieceVocab();
    const id = (t: string) => vocab.indexOf(t);
    await writeFile(
      join(dir, 'd.jsonl'),
      [
        JSON.stringify({ text: 'The movie was great!', label: 'positive' }),
        JSON.stringify({ text: 'bad plot', label: 0 }),
        '',
        JSON.stringify({ text: 'fine', text_pair: 'not very good', label: '1' }),
      ].join('\n'),
    );
    await writeFile(join(dir, 'd.csv'), 'text,label\r\n"The movie was great!",positive\r\nbad plot,0\r\n');
    const m = await openModel(dir);
    const ds = await loadModelData(m, { data: join(dir, 'd.jsonl') });
    const T = 7; // [CLS] the movie was great ! [SEP]
    assert.deepEqual(ds.x.dims, [3, 3, T]);
    const x = Array.from(ds.x.data as BigInt64Array, Number);
    assert.deepEqual(x.slice(0, T), [2, id('the'), id('movie'), id('was'), id('great'), id('!'), 3]);
    assert.deepEqual(x.slice(T, 2 * T), [1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(x.slice(3 * T, 4 * T), [2, id('bad'), id('plot'), 3, 0, 0, 0]);
    assert.deepEqual(x.slice(4 * T, 5 * T), [1, 1, 1, 1, 0, 0, 0]);
    // The pair: [CLS] fine [SEP] not very good [SEP], token types 0 then 1.
    assert.deepEqual(x.slice(6 * T, 7 * T), [2, id('fine'), 3, id('not'), id('very'), id('good'), 3]);
    assert.deepEqual(x.slice(8 * T, 9 * T), [0, 0, 0, 1, 1, 1, 1]);
    assert.deepEqual([...(ds.y as BigInt64Array)], [2n, 0n, 1n]);
    const csv = await loadModelData(m, { data: join(dir, 'd.csv') });
    assert.deepEqual([...(csv.x.data as BigInt64Array)].slice(0, T), [...(ds.x.data as BigInt64Array)].slice(0, T));
    // The same rows as a safetensors dataset: the same loss.
    const n = 3;
    const rows = (k: number) => Array.from({ length: n }, (_, i) => x.slice((i * 3 + k) * T, (i * 3 + k + 1) * T)).flat();
    await writeSafetensors(join(dir, 'd.safetensors'), [
      { name: 'input_ids', dtype: 'I64', shape: [n, T], data: i64(rows(0)) },
      { name: 'attention_mask', dtype: 'I64', shape: [n, T], data: i64(rows(1)) },
      { name: 'token_type_ids', dtype: 'I64', shape: [n, T], data: i64(rows(2)) },
      { name: 'y', dtype: 'I64', shape: [n], data: i64([2, 0, 1]) },
    ]);
    const st = await loadModelData(m, { data: join(dir, 'd.safetensors') });
    const { forward, values } = await modelForward(m);
    const a = await forward.evaluate(values, ds, { loss: lossFor(m, ds) });
    const b = await forward.evaluate(values, st, { loss: lossFor(m, st) });
    assert.equal(a.loss, b.loss);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad data for a Transformer is an error naming the file and the row', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-data-'));
  try {
    await bertFolder(dir);
    const m = await openModel(dir);
    const bad = async (
      name: string,
      body: string | { name: string; dtype: 'I64' | 'F32' | 'I32'; shape: number[]; data: Uint8Array }[],
      re: RegExp,
      opts = {},
    ) => {
      const p = join(dir, name);
      if (typeof body === 'string') await writeFile(p, body);
      else await writeSafetensors(p, body);
      await assert.rejects(loadModelData(m, { data: p, ...opts }), isCode('invalid-input', re), name);
    };
    await bad('range.jsonl', '{"text": "good", "label": 3}\n', /row 1: label 3 is outside the model's 3 classes \(0\.\.2\)/);
    await bad(
      'name.jsonl',
      '{"text": "good", "label": "meh"}\n',
      /row 1: label "meh" is neither a class index nor a name in label2id \(negative, neutral, positive\)/,
    );
    await bad('nolabel.jsonl', '{"text": "good"}\n', /row 1 has no 'label'/);
    await bad('notext.jsonl', '{"txt": "good", "label": 1}\n', /row 1 has no string 'text'/);
    await bad('json.jsonl', '{"text": "good", "label": 1}\n{oops\n', /line 2 is not JSON/);
    await bad('quote.csv', 'text,label\n"open,1\n', /never closed/);
    await bad('fields.csv', 'text,label\ngood,1,extra\n', /CSV row 2 has 3 fields, the header 2/);
    await bad(
      'keys.safetensors',
      [{ name: 'tokens', dtype: 'I64', shape: [1, 4], data: i64([2, 5, 6, 3]) }],
      /no 'input_ids' or 'x' \(has: tokens\)/,
    );
    // x is input_ids (the service's datasets name every input x): the labels are what is missing then.
    await bad(
      'xkeys.safetensors',
      [{ name: 'x', dtype: 'I64', shape: [1, 4], data: i64([2, 5, 6, 3]) }],
      /no labels 'y' \[1\] for BertForSequenceClassification/,
    );
    await bad(
      'dtype.safetensors',
      [{ name: 'input_ids', dtype: 'F32', shape: [1, 2], data: new Uint8Array(8) }],
      /'input_ids' must be int64 \(or int32\), got F32/,
    );
    await bad(
      'vocab.safetensors',
      [
        { name: 'input_ids', dtype: 'I64', shape: [1, 3], data: i64([2, 400, 3]) },
        { name: 'y', dtype: 'I64', shape: [1], data: i64([0]) },
      ],
      /token id 400 at row 0, position 1 is outside 0\.\.399 \(vocab_size 400\)/,
    );
    await bad(
      'mask.safetensors',
      [
        { name: 'input_ids', dtype: 'I64', shape: [1, 3], data: i64([2, 5, 3]) },
        { name: 'attention_mask', dtype: 'I64', shape: [1, 3], data: i64([1, 2, 1]) },
        { name: 'y', dtype: 'I64', shape: [1], data: i64([0]) },
      ],
      /attention_mask must be 0 or 1, got 2 at row 0/,
    );
    await bad('nolabels.safetensors', [{ name: 'input_ids', dtype: 'I64', shape: [1, 3], data: i64([2, 5, 3]) }], /no labels 'y' \[1\]/);
    await assert.rejects(
      loadModelData(m, { text: join(dir, 'range.jsonl'), seq: 4 }),
      isCode('invalid-input', /--text is for language models; BertForSequenceClassification takes labelled data/),
    );
    // A causal LM refuses padded rows; a ViT refuses images of the wrong size.
    const gpt2 = await openModel(fixture('gpt2-tiny'));
    await writeSafetensors(join(dir, 'pad.safetensors'), [
      { name: 'input_ids', dtype: 'I64', shape: [1, 3], data: i64([5, 6, 7]) },
      { name: 'attention_mask', dtype: 'I64', shape: [1, 3], data: i64([1, 1, 0]) },
    ]);
    await assert.rejects(
      loadModelData(gpt2, { data: join(dir, 'pad.safetensors') }),
      isCode('invalid-input', /attention_mask has padded positions/),
    );
    await assert.rejects(
      loadModelData(gpt2, { data: join(dir, 'range.jsonl') }),
      isCode('invalid-input', /causal LM: give a token dataset/),
    );
    const vit = await openModel(fixture('vit-fmnist-backdoor', 'model_a'));
    await writeSafetensors(join(dir, 'img.safetensors'), [
      { name: 'x', dtype: 'F32', shape: [1, 1, 14, 14], data: new Uint8Array(4 * 196) },
      { name: 'y', dtype: 'I64', shape: [1], data: i64([0]) },
    ]);
    await assert.rejects(
      loadModelData(vit, { data: join(dir, 'img.safetensors') }),
      isCode('invalid-input', /is \[1, 1, 14, 14\]; ViTForImageClassification takes \[N, 1, 28, 28\]/),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('masked-LM labels (−100 = not predicted) become one sample per predicted token, marked in the fourth row', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-data-'));
  try {
    await bertFolder(dir);
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, architectures: ['BertForMaskedLM'] }));
    // The classification checkpoint has no MLM head: a clear error names the first missing tensor.
    await assert.rejects(openModel(dir), isCode('not-found', /no tensor 'cls\.predictions\.transform\.dense\.weight'/));
    const t = await readAllTensors(join(BERT, 'model.safetensors'));
    const head = randomWeights(
      new Map([
        ['cls.predictions.transform.dense.weight', [64, 64]],
        ['cls.predictions.transform.dense.bias', [64]],
        ['cls.predictions.transform.LayerNorm.weight', [64]],
        ['cls.predictions.transform.LayerNorm.bias', [64]],
        ['cls.predictions.bias', [400]],
      ]),
      4,
    );
    await writeHfFolder(dir, { ...cfg, architectures: ['BertForMaskedLM'] }, new Map([...t, ...head]));
    const m = await openModel(dir);
    assert.equal(m.task, 'masked-lm');
    const ids = [2, 40, 4, 41, 3, 0, 2, 4, 42, 4, 3, 0];
    const labels = [-100, -100, 17, -100, -100, -100, -100, 30, -100, 31, -100, -100];
    const mask = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0];
    await writeSafetensors(join(dir, 'mlm.safetensors'), [
      { name: 'input_ids', dtype: 'I64', shape: [2, 6], data: i64(ids) },
      { name: 'attention_mask', dtype: 'I64', shape: [2, 6], data: i64(mask) },
      { name: 'labels', dtype: 'I64', shape: [2, 6], data: i64(labels) },
    ]);
    const ds = await loadModelData(m, { data: join(dir, 'mlm.safetensors') });
    assert.deepEqual(ds.x.dims, [3, 4, 6]);
    assert.deepEqual([...(ds.y as BigInt64Array)], [17n, 30n, 31n]);
    const x = Array.from(ds.x.data as BigInt64Array, Number);
    assert.deepEqual(x.slice(18, 24), [0, 0, 1, 0, 0, 0]); // sample 0 predicts position 2
    assert.deepEqual(x.slice(24 + 18, 24 + 24), [0, 1, 0, 0, 0, 0]); // sample 1: row 1, position 1
    assert.deepEqual(x.slice(24, 30), ids.slice(6, 12));
    // The mean loss is the mean cross-entropy over the three predicted tokens, as transformers' MLM loss.
    const { forward, values } = await modelForward(m);
    const out = await forward.logits(values, ds.x);
    const l = out.data as Float32Array;
    let ce = 0;
    [17, 30, 31].forEach((y, r) => {
      const row = Array.from(l.subarray(r * 400, (r + 1) * 400));
      const mx = Math.max(...row);
      ce += Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0)) + mx - row[y];
    });
    const ev = await forward.evaluate(values, ds, { loss: lossFor(m, ds) });
    assert.ok(Math.abs(ev.loss - ce / 3) < 1e-6, `${ev.loss} vs ${ce / 3}`);
    await writeSafetensors(join(dir, 'none.safetensors'), [
      { name: 'input_ids', dtype: 'I64', shape: [1, 3], data: i64([2, 5, 3]) },
      { name: 'labels', dtype: 'I64', shape: [1, 3], data: i64([-100, -100, -100]) },
    ]);
    await assert.rejects(loadModelData(m, { data: join(dir, 'none.safetensors') }), isCode('invalid-input', /marks no token to predict/));
    await writeSafetensors(join(dir, 'big.safetensors'), [
      { name: 'input_ids', dtype: 'I64', shape: [1, 3], data: i64([2, 5, 3]) },
      { name: 'labels', dtype: 'I64', shape: [1, 3], data: i64([-100, 400, -100]) },
    ]);
    await assert.rejects(
      loadModelData(m, { data: join(dir, 'big.safetensors') }),
      isCode('invalid-input', /label token 400 at row 0 is outside the vocabulary/),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('CSV: quoted separators, doubled quotes, line breaks inside quotes, CRLF and a BOM', () => {
  assert.deepEqual(parseCsv('\ufeffa,b\r\n"x, ""y""",2\n"multi\nline",3\n', ','), [
    ['a', 'b'],
    ['x, "y"', '2'],
    ['multi\nline', '3'],
  ]);
  assert.throws(() => parseCsv('a,b\nx"y,1\n', ','), /line 2: a quote inside an unquoted field/);
});
