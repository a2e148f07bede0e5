/**
 * POST /v1/models/import {hf} with WEIGHTSCOPE_HF_DOWNLOAD=1: a loopback HTTP server serves ../shared/fixtures in
 * the hub's /{ORG}/{NAME}/resolve/{rev}/{file} layout (ORG = "fixtures", NAME = the fixture folder).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SHARED, fixture } from '../helpers/fixtures.js';
import { startTestServer } from './helpers.js';

test('hub download: files fetched by their resolve URLs into one model; a missing repo is 404; off by default', async () => {
  const requests: string[] = [];
  const hub = createServer((req, res) => {
    requests.push(req.url ?? '');
    const m = /^\/fixtures\/([\w.-]+)\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const file = m ? join(SHARED, 'fixtures', m[1], decodeURIComponent(m[2])) : '';
    if (!m || file.includes('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', () => r()));
  const endpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  const s = await startTestServer({ WEIGHTSCOPE_HF_DOWNLOAD: '1', HF_ENDPOINT: endpoint });
  const off = await startTestServer({ HF_ENDPOINT: endpoint });
  try {
    const post = (base: string, body: unknown) => fetch(`${base}/v1/models/import`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const r = await post(s.url, { hf: 'fixtures/gpt2-tiny' });
    const m = (await r.json()) as { id: string; format: string; source: string; files: { name: string; sha256: string }[] };
    assert.equal(r.status, 201, JSON.stringify(m));
    assert.equal(m.format, 'safetensors');
    assert.equal(m.source, 'hf:fixtures/gpt2-tiny@main');
    assert.deepEqual(m.files.map((f) => f.name), ['config.json', 'model.safetensors']);
    const sha = createHash('sha256').update(readFileSync(fixture('gpt2-tiny', 'model.safetensors'))).digest('hex');
    assert.equal(m.files.find((f) => f.name === 'model.safetensors')!.sha256, sha);
    assert.ok(requests.includes('/fixtures/gpt2-tiny/resolve/main/model.safetensors.index.json'));

    const again = await post(s.url, { hf: 'fixtures/gpt2-tiny' });
    assert.equal(again.status, 200);
    const missing = await post(s.url, { hf: 'fixtures/nothing-here' });
    assert.equal(missing.status, 404);
    const disabled = await post(off.url, { hf: 'fixtures/gpt2-tiny' });
    assert.equal(disabled.status, 404);
  } finally {
    await s.cleanup();
    await off.cleanup();
    hub.close();
  }
});
