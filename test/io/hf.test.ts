import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile, copyFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { isCode } from '../helpers/errors.js';
import { resolveModelPath, defaultCacheDirs } from '../../src/io/hf.js';

const REV = 'a'.repeat(40);
const OLD = 'b'.repeat(40);

/** A HF hub cache holding org/tiny-gpt2: blobs named by hash, snapshots of symlinks, refs/main → REV. */
async function buildCache(root: string, files: Record<string, string>, withRef = true): Promise<string> {
  const repo = join(root, 'models--org--tiny-gpt2');
  await mkdir(join(repo, 'blobs'), { recursive: true });
  await mkdir(join(repo, 'refs'), { recursive: true });
  for (const rev of [OLD, REV]) {
    const snap = join(repo, 'snapshots', rev);
    for (const [rel, src] of Object.entries(files)) {
      if (rev === OLD && rel !== 'config.json') continue; // the old snapshot has only a config
      const blob = join(repo, 'blobs', `${rev.slice(0, 4)}${rel.replace(/\W/g, '')}`);
      await copyFile(src, blob);
      await mkdir(join(snap, rel, '..'), { recursive: true });
      const depth = rel.split('/').length - 1;
      await symlink(join('..', '..', ...Array(depth).fill('..'), 'blobs', blob.split('/').pop()!), join(snap, rel));
    }
  }
  if (withRef) await writeFile(join(repo, 'refs', 'main'), REV);
  await writeFile(join(repo, 'refs', 'v1'), OLD + '\n');
  return repo;
}

const GPT2 = {
  'config.json': fixture('gpt2-tiny', 'config.json'),
  'model.safetensors': fixture('gpt2-tiny', 'model.safetensors'),
  'onnx/model.onnx': fixture('gpt2-tiny', 'onnx', 'model.onnx'),
};

test('HF cache via HF_HUB_CACHE and via HF_HOME: refs/main → snapshot, symlinks followed, safetensors first', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ws-hf-'));
  const saved = { HF_HUB_CACHE: process.env.HF_HUB_CACHE, HF_HOME: process.env.HF_HOME };
  try {
    await buildCache(join(root, 'hub-cache'), GPT2);
    await buildCache(join(root, 'hf-home', 'hub'), GPT2);
    const none = join(root, 'empty-models');
    process.env.HF_HUB_CACHE = join(root, 'hub-cache');
    delete process.env.HF_HOME;
    assert.equal(defaultCacheDirs()[0], join(root, 'hub-cache'));
    let m = await resolveModelPath('org/tiny-gpt2', { modelsDir: none });
    const snap = join(root, 'hub-cache', 'models--org--tiny-gpt2', 'snapshots', REV);
    assert.equal(m.id, 'org/tiny-gpt2');
    assert.equal(m.dir, snap);
    assert.deepEqual(m.files, [join(snap, 'model.safetensors')]);
    assert.equal(m.format, 'safetensors');
    assert.equal(m.config?.n_embd, 128);

    delete process.env.HF_HUB_CACHE;
    process.env.HF_HOME = join(root, 'hf-home');
    m = await resolveModelPath('org/tiny-gpt2', { modelsDir: none });
    assert.equal(m.dir, join(root, 'hf-home', 'hub', 'models--org--tiny-gpt2', 'snapshots', REV));

    // A tag in refs/, and a commit given directly; the old snapshot has no weights → not-found saying why.
    await assert.rejects(
      resolveModelPath('org/tiny-gpt2', { modelsDir: none, revision: 'v1' }),
      isCode('not-found', /no model\.safetensors/),
    );
    m = await resolveModelPath('org/tiny-gpt2', { modelsDir: none, revision: REV });
    assert.equal(m.format, 'safetensors');
    await assert.rejects(
      resolveModelPath('org/tiny-gpt2', { modelsDir: none, revision: 'nope' }),
      isCode('not-found', /no revision 'nope'/),
    );
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(root, { recursive: true, force: true });
  }
});

test('HF cache without refs/main: the most recent snapshot; ONNX-only snapshot picks onnx/model.onnx', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ws-hf-'));
  try {
    const repo = await buildCache(root, { 'config.json': GPT2['config.json'], 'onnx/model.onnx': GPT2['onnx/model.onnx'] }, false);
    await utimes(join(repo, 'snapshots', OLD), new Date(2020, 1, 1), new Date(2020, 1, 1));
    const m = await resolveModelPath('org/tiny-gpt2', { cacheDirs: [root], modelsDir: join(root, 'x') });
    assert.deepEqual(m.files, [join(repo, 'snapshots', REV, 'onnx', 'model.onnx')]);
    assert.equal(m.format, 'onnx');
    assert.equal(m.config?.model_type, 'gpt2');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('models/ fallback: models/ORG/NAME, models/NAME, bare NAME; not-found lists where it looked', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ws-hf-'));
  try {
    const models = join(root, 'models');
    await mkdir(join(models, 'org', 'mlp'), { recursive: true });
    await copyFile(fixture('fmnist-hessian', 'mlp48.safetensors'), join(models, 'org', 'mlp', 'weights.safetensors'));
    await mkdir(join(models, 'cnn'), { recursive: true });
    await copyFile(fixture('gpt2-tiny', 'pytorch_model.bin'), join(models, 'cnn', 'pytorch_model.bin'));
    const cache = join(root, 'cache');
    let m = await resolveModelPath('org/mlp', { cacheDirs: [cache], modelsDir: models });
    assert.deepEqual(m.files, [join(models, 'org', 'mlp', 'weights.safetensors')]); // any single *.safetensors
    assert.equal(m.config, null);
    m = await resolveModelPath('someorg/cnn', { cacheDirs: [cache], modelsDir: models });
    assert.deepEqual([m.format, m.files], ['pytorch', [join(models, 'cnn', 'pytorch_model.bin')]]);
    m = await resolveModelPath('cnn', { cacheDirs: [cache], modelsDir: models });
    assert.equal(m.id, 'cnn');
    await assert.rejects(resolveModelPath('org/missing', { cacheDirs: [cache], modelsDir: models }), (e: unknown) => {
      isCode('not-found')(e);
      const msg = (e as Error).message;
      assert.ok(msg.includes(join(cache, 'models--org--missing')), msg);
      assert.ok(msg.includes(join(models, 'org', 'missing')), msg);
      assert.ok(msg.includes(join(models, 'missing')), msg);
      return true;
    });
    await assert.rejects(resolveModelPath('../../etc', { cacheDirs: [cache], modelsDir: models }), isCode('not-found'));
    await assert.rejects(resolveModelPath('a/../../b', { cacheDirs: [cache], modelsDir: models }), isCode('not-found'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('folders and files by path: fixture folder prefers safetensors; file formats come from content', async () => {
  let m = await resolveModelPath(fixture('gpt2-tiny'));
  assert.deepEqual([m.format, m.files], ['safetensors', [fixture('gpt2-tiny', 'model.safetensors')]]);
  assert.equal(m.config?.n_layer, 4);
  m = await resolveModelPath(fixture('gpt2-tiny', 'onnx', 'model.onnx'));
  assert.equal(m.format, 'onnx');
  assert.equal(m.config?.n_layer, 4); // config.json one level above onnx/
  m = await resolveModelPath(fixture('gpt2-tiny', 'pytorch_model.bin'));
  assert.equal(m.format, 'pytorch');
  m = await resolveModelPath(fixture('fmnist-backdoor', 'model_a.pt'));
  assert.equal(m.format, 'pytorch');
  assert.equal(m.config, null);
  // fmnist-backdoor holds several .safetensors and no index: refused with the reason.
  await assert.rejects(resolveModelPath(fixture('fmnist-backdoor')), isCode('not-found', /several \.safetensors/));
});

test('copied with a misleading name, a file is still read by content', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ws-hf-'));
  try {
    await copyFile(fixture('fmnist-hessian', 'mlp48.onnx'), join(root, 'weights.bin'));
    const m = await resolveModelPath(join(root, 'weights.bin'));
    assert.equal(m.format, 'onnx');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
