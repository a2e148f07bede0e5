/**
 * Real checkpoints' quirks handled as from_pretrained handles them, and clear refusals: a GPT-2 saved without the
 * `transformer.` prefix with `attn.bias` / `attn.masked_bias` buffers and a stored lm_head copy (openai-community/gpt2's
 * layout), pytorch_model.bin instead of safetensors; an unsupported model_type or head, a RoPE scaling other than
 * linear/llama3, a config/checkpoint mismatch (missing or mis-shaped tensor), quantized weights — one error each,
 * CLI exit 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openModel } from '../../src/model-io/open.js';
import { modelForward } from '../../src/model-io/engine.js';
import { fixture } from '../helpers/fixtures.js';
import { isCode } from '../helpers/errors.js';
import { readAllTensors, writeHfFolder, type TestTensor } from '../helpers/hf-folders.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
function cli(...argv: string[]): Promise<{ code: number; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...argv], { encoding: 'utf8' }, (e, _out, err) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, err }),
    );
  });
}

const GPT2 = fixture('gpt2-tiny');
const CONFIG = JSON.parse((await import('node:fs')).readFileSync(join(GPT2, 'config.json'), 'utf8')) as Record<string, unknown>;
const X = { type: 'int64' as const, data: BigInt64Array.from({ length: 2 * 16 }, (_, i) => BigInt((i * 37) % 256)), dims: [2, 16] };

async function logitsOf(spec: string): Promise<Float32Array> {
  const m = await openModel(spec);
  const { forward, values } = await modelForward(m);
  return (await forward.logits(values, X)).data as Float32Array;
}

test("GPT-2 as openai-community/gpt2 stores it (no 'transformer.' prefix, attn.bias/masked_bias buffers, an lm_head copy) and as pytorch_model.bin give the same logits", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-ckpt-'));
  try {
    const want = await logitsOf(GPT2);
    const t = await readAllTensors(join(GPT2, 'model.safetensors'));
    const renamed = new Map<string, TestTensor>([...t].map(([k, v]) => [k.replace(/^transformer\./, ''), v]));
    for (let i = 0; i < 4; i++) {
      renamed.set(`h.${i}.attn.bias`, { shape: [1, 1, 128, 128], data: new Float64Array(128 * 128).fill(1), dtype: 'U8' });
      renamed.set(`h.${i}.attn.masked_bias`, { shape: [], data: Float64Array.of(-1e4) });
    }
    renamed.set('lm_head.weight', t.get('transformer.wte.weight')!);
    await writeHfFolder(join(dir, 'bare'), CONFIG, renamed);
    const m = await openModel(join(dir, 'bare'));
    assert.ok(m.checkpoint!.params.some((p) => p.name === 'wte.weight' && p.canonical === 'transformer.wte.weight'));
    assert.deepEqual(m.checkpoint!.tied, [{ name: 'lm_head.weight', source: 'wte.weight', transposed: false }]);
    assert.deepEqual([...(await logitsOf(join(dir, 'bare')))], [...want]);
    // grad --out is keyed by the file's own names (no prefix here), the tied head once.
    await mkdir(join(dir, 'grads'));
    const g = await cli(
      'grad',
      join(dir, 'bare'),
      '--data',
      join(GPT2, 'lm_batch.safetensors'),
      '--out',
      join(dir, 'grads', 'g.safetensors'),
      '--json',
    );
    assert.equal(g.code, 0, g.err);
    const keys = (await readAllTensors(join(dir, 'grads', 'g.safetensors'))).keys();
    assert.deepEqual([...keys].sort(), [...t.keys()].map((k) => k.replace(/^transformer\./, '')).sort());
    // The same folder as an HF id in the local model store (models/ORG/NAME).
    const store = join(dir, 'store');
    await mkdir(join(store, 'org'), { recursive: true });
    await symlink(join(dir, 'bare'), join(store, 'org', 'gpt2-bare'));
    const byId = await openModel('org/gpt2-bare', { resolve: { modelsDir: store, cacheDirs: [] } });
    assert.equal(byId.route, 'config.json');
    assert.equal(byId.dir, join(store, 'org', 'gpt2-bare'));
    await writeFile(join(dir, 'config.json'), JSON.stringify(CONFIG));
    await copyFile(join(GPT2, 'pytorch_model.bin'), join(dir, 'pytorch_model.bin'));
    const viaBin = await openModel(dir);
    assert.equal(viaBin.checkpoint?.format, 'pytorch');
    assert.deepEqual([...(await logitsOf(dir))], [...want]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('unsupported architectures, RoPE scalings and config/checkpoint mismatches are one clear error each (library and CLI exit 1)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-ckpt-'));
  try {
    const t = await readAllTensors(join(GPT2, 'model.safetensors'));
    const cases: { name: string; config: Record<string, unknown>; tensors?: Map<string, TestTensor>; code: string; re: RegExp }[] = [
      {
        name: 't5',
        config: { model_type: 't5' },
        code: 'unsupported-op',
        re: /model_type 't5' is not supported; supported: model_type gpt2, llama, mistral, qwen2, bert, roberta, vit .*ONNX export/,
      },
      {
        name: 'head',
        config: { ...CONFIG, model_type: 'bert', architectures: ['BertForTokenClassification'] },
        code: 'unsupported-op',
        re: /architecture BertForTokenClassification is not supported/,
      },
      {
        name: 'yarn',
        config: {
          model_type: 'llama',
          hidden_size: 8,
          num_attention_heads: 2,
          num_hidden_layers: 1,
          intermediate_size: 8,
          vocab_size: 8,
          rope_scaling: { rope_type: 'yarn', factor: 4.0 },
        },
        code: 'unsupported-op',
        re: /rope_scaling type 'yarn' is not supported \(supported: linear, llama3\)/,
      },
      {
        name: 'shape',
        config: { ...CONFIG, n_embd: 64 },
        code: 'shape-mismatch',
        re: /tensor 'transformer\.wte\.weight' is \[256, 128\], config\.json implies \[256, 64\]/,
      },
      {
        name: 'missing',
        config: CONFIG,
        tensors: new Map([...t].filter(([k]) => k !== 'transformer.h.2.mlp.c_fc.bias')),
        code: 'not-found',
        re: /GPT2LMHeadModel \(config\.json\): the checkpoint has no tensor 'transformer\.h\.2\.mlp\.c_fc\.bias'/,
      },
      {
        name: 'int8',
        config: CONFIG,
        tensors: new Map(
          [...t].map(([k, v]) => [k, k === 'transformer.ln_f.weight' ? { ...v, data: v.data.map(() => 1), dtype: 'I8' as const } : v]),
        ),
        code: 'unsupported-dtype',
        re: /tensor 'transformer\.ln_f\.weight' is I8; parameters must be F32, F16, BF16 or F64/,
      },
    ];
    for (const c of cases) {
      const folder = await writeHfFolder(join(dir, c.name), c.config, c.tensors ?? t);
      await assert.rejects(openModel(folder), isCode(c.code, c.re), c.name);
    }
    const r = await cli('hessian', join(dir, 't5'), '--data', join(GPT2, 'lm_batch.safetensors'));
    assert.equal(r.code, 1);
    assert.deepEqual(r.err.split('\n').filter((l) => l.startsWith('weightscope:')).length, 1);
    assert.match(r.err, /model_type 't5' is not supported/);
    const s = await cli('grad', join(dir, 'shape'), '--data', join(GPT2, 'lm_batch.safetensors'));
    assert.equal(s.code, 1);
    assert.match(s.err, /config\.json implies \[256, 64\]/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
