/**
 * `connect` of two Hugging Face language models on text (--text, tokenized with the folder's tokenizer.json), the
 * curve over every parameter, and the point w(t) written back as a Hugging Face folder (--out --at) that reopens to
 * the loss the curve reported at t.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelData } from '../../src/data/model-data.js';
import { modelForward } from '../../src/model-io/engine.js';
import { openModel } from '../../src/model-io/open.js';
import { fixture } from '../helpers/fixtures.js';
import { readAllTensors, writeHfFolder } from '../helpers/hf-folders.js';
import { mulberry32 } from '../helpers/random.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const GPT2 = fixture('gpt2-tiny');

function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 }, (e, out, err) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err }),
    );
  });
}

test('connect two GPT-2 folders on --text; --out --at 0.5 writes w(0.5) as an HF folder that reopens to the reported loss', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-connect-hf-'));
  try {
    // B: gpt2-tiny with every weight perturbed (a second model of the same config).
    const u = mulberry32(1);
    const t = await readAllTensors(join(GPT2, 'model.safetensors'));
    await writeHfFolder(
      join(dir, 'b'),
      JSON.parse(readFileSync(join(GPT2, 'config.json'), 'utf8')),
      new Map([...t].map(([k, v]) => [k, { ...v, data: v.data.map((x) => x + 0.02 * (u() - 0.5)) }])),
    );
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(GPT2, f), join(dir, 'b', f));
    const text = join(dir, 'text.txt');
    await writeFile(text, readFileSync('/usr/share/common-licenses/GPL-3', 'utf8').slice(0, 4000));
    const out = join(dir, 'mid');
    const r = await cli(
      'connect',
      GPT2,
      join(dir, 'b'),
      '--text',
      text,
      '--seq',
      '64',
      '--epochs',
      '1',
      '--batch',
      '16',
      '--eval',
      '0,0.5,1',
      '--out',
      out,
      '--at',
      '0.5',
      '--json',
    );
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out) as {
      along: { t: number; sets: { train: { loss: number; accuracy: number; n: number } } }[];
      routes: { route: string }[];
      output: { folder: string };
    };
    assert.equal(res.output.folder, out);
    assert.deepEqual(
      res.routes.map((x) => x.route),
      ['config.json', 'config.json'],
    );
    assert.deepEqual((await readdir(out)).sort(), [
      'config.json',
      'lm_reference.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'training.json',
    ]);
    const m = await openModel(out);
    const ds = await loadModelData(m, { text, seq: 64 });
    const { forward, values } = await modelForward(m);
    const ev = await forward.evaluate(values, ds, { loss: 'lm', batchSize: 500 });
    const mid = res.along.find((p) => p.t === 0.5)!.sets.train;
    assert.equal(ev.n, mid.n);
    assert.equal(ev.loss, mid.loss);
    assert.equal(ev.accuracy, mid.accuracy);
    // --data and --text together, or neither, is a usage error.
    const both = await cli('connect', GPT2, join(dir, 'b'), '--text', text, '--data', text);
    assert.equal(both.code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
