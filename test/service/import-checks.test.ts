/**
 * Issue 16 finding 6 and the import items of "tried as a new user would": a path outside the roots is refused
 * before anything is read (the same 403 whether it exists or not), a symlink inside a root that leads outside is
 * refused naming it (before config.json or refs/<rev> behind it are read), the 403 names WEIGHTSCOPE_IMPORT_ROOTS,
 * hub ids without an organisation are accepted, and a folder import keeps its onnx/ graph and tokenizer files.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { startTestServer, tempDataDir } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('import checks', () => {
  const t = tempDataDir();
  const root = join(t.dir, 'root');
  const outside = join(t.dir, 'outside');
  let s: Awaited<ReturnType<typeof startTestServer>>;
  const post = async (body: unknown): Promise<{ status: number; body: Json }> => {
    const r = await fetch(`${s.url}/v1/models/import`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    return { status: r.status, body: (await r.json()) as Json };
  };
  before(async () => {
    mkdirSync(join(root, 'good', 'onnx'), { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'secret.txt'), 'root:x:0:0:very secret');
    writeFileSync(join(outside, 'model.safetensors'), readFileSync(fixture('stories260k', 'model.safetensors')));
    // A folder whose config.json is a symlink to a secret outside the roots.
    mkdirSync(join(root, 'planted'));
    writeFileSync(join(root, 'planted', 'model.safetensors'), readFileSync(fixture('stories260k', 'model.safetensors')));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'planted', 'config.json'));
    // A model symlinked in from outside.
    symlinkSync(join(outside, 'model.safetensors'), join(root, 'linked.safetensors'));
    // A folder with weights, config, tokenizer and an ONNX graph.
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
      writeFileSync(join(root, 'good', f), readFileSync(fixture('gpt2-tiny', f)));
    }
    writeFileSync(join(root, 'good', 'onnx', 'model.onnx'), readFileSync(fixture('gpt2-tiny', 'onnx/model.onnx')));
    // An HF cache whose refs/main is a symlink to the secret.
    const repo = join(t.dir, 'hf', 'models--acme--leaky');
    mkdirSync(join(repo, 'refs'), { recursive: true });
    mkdirSync(join(repo, 'snapshots'), { recursive: true });
    symlinkSync(join(outside, 'secret.txt'), join(repo, 'refs', 'main'));
    s = await startTestServer({ WEIGHTSCOPE_IMPORT_ROOTS: root, HF_HUB_CACHE: join(t.dir, 'hf') });
  });
  after(async () => {
    await s.cleanup();
    t.cleanup();
  });

  test('outside the roots: the same 403 for a file that exists and one that does not, naming WEIGHTSCOPE_IMPORT_ROOTS', async () => {
    const a = await post({ path: join(outside, 'secret.txt') });
    const b = await post({ path: join(outside, 'nope.txt') });
    assert.equal(a.status, 403);
    assert.equal(b.status, 403);
    assert.equal(a.body.type, 'urn:weightscope:problem:path-not-allowed');
    assert.match(a.body.detail, /WEIGHTSCOPE_IMPORT_ROOTS/);
    assert.equal(a.body.detail.replace('secret.txt', 'nope.txt'), b.body.detail);
  });

  test('a symlink inside a root that leads outside is refused by name, and what it points to is never read', async () => {
    const linked = await post({ path: join(root, 'linked.safetensors') });
    assert.equal(linked.status, 403, JSON.stringify(linked.body));
    assert.match(linked.body.detail, /linked\.safetensors.*inside an import root.*leads outside/);
    const planted = await post({ path: join(root, 'planted') });
    assert.equal(planted.status, 403, JSON.stringify(planted.body));
    assert.match(planted.body.detail, /config\.json/);
    assert.doesNotMatch(JSON.stringify(planted.body), /very secret|root:x/);
    const leaky = await post({ hf: 'acme/leaky' });
    assert.ok(leaky.status === 403 || leaky.status === 404, JSON.stringify(leaky.body));
    assert.doesNotMatch(JSON.stringify(leaky.body), /very secret|root:x/);
  });

  test('hub ids: NAME alone is valid; ../x and /x are not', async () => {
    const plain = await post({ hf: 'gpt2' });
    assert.equal(plain.status, 404, JSON.stringify(plain.body)); // valid id, not in the (empty) cache
    for (const bad of ['../x', '/x', 'a/../b', '..']) assert.equal((await post({ hf: bad })).status, 400, bad);
  });

  test('a folder import keeps onnx/model.onnx and the tokenizer files beside the weights', async () => {
    const r = await post({ path: join(root, 'good') });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(
      r.body.files.map((f: Json) => f.name),
      ['config.json', 'model.safetensors', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json'],
    );
    assert.equal(r.body.name, 'good');
  });
});
