/**
 * Issue 16 finding 1: an upload is read (inspected) in a worker thread with a heap limit and a deadline, so a
 * hostile file costs that thread, not the server: over the heap or the time it is a 413 problem naming the setting,
 * nothing is stored, and the server goes on answering.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { fixture } from '../helpers/fixtures.js';
import { startTestServer } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function upload(base: string, body: Uint8Array): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${base}/v1/models`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  return { status: r.status, body: (await r.json()) as Json };
}

/** A torch.save zip whose data.pkl builds a list of `n` empty dicts (under the pickle caps, but ~100 B of heap per 2 B). */
function listBomb(n: number): Uint8Array {
  const pkl = new Uint8Array(2 + 1 + 2 * n + 1);
  pkl.set([0x80, 2, 0x5d]); // PROTO 2, EMPTY_LIST
  for (let i = 0; i < n; i++) pkl.set([0x7d, 0x61], 3 + 2 * i); // EMPTY_DICT, APPEND
  pkl[pkl.length - 1] = 0x2e; // STOP
  return zipSync({ 'archive/data.pkl': pkl, 'archive/version': new TextEncoder().encode('3\n') }, { level: 6 });
}

test('an upload that needs more heap than WEIGHTSCOPE_INSPECT_HEAP to read is a 413; the server lives on', async () => {
  const s = await startTestServer({ WEIGHTSCOPE_INSPECT_HEAP: '128MiB' });
  try {
    const r = await upload(s.url, listBomb(4_000_000));
    assert.equal(r.status, 413, JSON.stringify(r.body));
    assert.equal(r.body.type, 'urn:weightscope:problem:too-large');
    assert.match(r.body.detail, /more than 128 MiB of memory \(WEIGHTSCOPE_INSPECT_HEAP\)/);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    assert.deepEqual(readdirSync(join(s.dataDir, 'blobs')), []);
    assert.deepEqual(readdirSync(join(s.dataDir, 'tmp')), []);
    const ok = await upload(s.url, readFileSync(fixture('stories260k', 'model.safetensors')));
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.parameters, 260032);
  } finally {
    await s.cleanup();
  }
});

test('an upload whose reading outlasts WEIGHTSCOPE_INSPECT_TIMEOUT is a 413 naming it; nothing stored', async () => {
  // 0.01 s: less than starting the reading thread takes, so every upload runs over.
  const s = await startTestServer({ WEIGHTSCOPE_INSPECT_TIMEOUT: '0.01' });
  try {
    const r = await upload(s.url, readFileSync(fixture('stories260k', 'model.safetensors')));
    assert.equal(r.status, 413, JSON.stringify(r.body));
    assert.match(r.body.detail, /took longer than 0\.01 s \(WEIGHTSCOPE_INSPECT_TIMEOUT\)/);
    const ds = await fetch(`${s.url}/v1/datasets`, {
      method: 'POST',
      body: readFileSync(fixture('fmnist-hessian', 'batch.safetensors')),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(ds.status, 413);
    assert.deepEqual(((await (await fetch(`${s.url}/v1/models`)).json()) as Json).models, []);
    assert.deepEqual(readdirSync(join(s.dataDir, 'blobs')), []);
  } finally {
    await s.cleanup();
  }
});
