/**
 * Hub downloads (WEIGHTSCOPE_HF_DOWNLOAD=1) through @huggingface/hub against a loopback hub serving
 * ../shared/fixtures as repos "fixtures/<folder>": the revision is pinned to its commit, the file list comes from
 * the tree API, each LFS file's sha256 is checked, and the import is a job whose result is the model.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { SHARED, fixture } from '../helpers/fixtures.js';
import { startTestServer, waitJob } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => relative(dir, join(dir, f)).split('\\').join('/'));
}

/** The hub's API as @huggingface/hub calls it: model info (commit), tree listing, resolve with Range. */
function fakeHub(lie: Set<string>): { handler(req: IncomingMessage, res: ServerResponse): void; requests: string[] } {
  const requests: string[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://hub');
    requests.push(`${req.method} ${url.pathname}`);
    const notFound = (): void =>
      void res
        .writeHead(404, { 'content-type': 'application/json', 'x-error-code': 'RepoNotFound' })
        .end('{"error":"Repository not found"}');
    let m = /^\/api\/models\/fixtures\/([\w.-]+)\/revision\/([\w.-]+)$/.exec(url.pathname);
    if (m) {
      if (!existsSync(join(SHARED, 'fixtures', m[1]))) return notFound();
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ _id: 'x', id: `fixtures/${m[1]}`, sha: COMMIT, lastModified: '2024-01-01T00:00:00Z', private: false }));
      return;
    }
    m = /^\/api\/models\/fixtures\/([\w.-]+)\/tree\/([0-9a-f]{40})$/.exec(url.pathname);
    if (m) {
      const dir = join(SHARED, 'fixtures', m[1]);
      if (!existsSync(dir) || m[2] !== COMMIT) return notFound();
      const entries = filesOf(dir).map((path) => {
        const size = statSync(join(dir, path)).size;
        const big = /\.(safetensors|bin|onnx)$/.test(path);
        const oid = lie.has(path) ? 'f'.repeat(64) : sha256(join(dir, path));
        return { type: 'file', path, size, oid: 'git-oid', ...(big ? { lfs: { oid, size, pointerSize: 134 } } : {}) };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(entries));
      return;
    }
    m = /^\/fixtures\/([\w.-]+)\/resolve\/([0-9a-f]{40})\/(.+)$/.exec(url.pathname);
    const file = m ? join(SHARED, 'fixtures', m[1], decodeURIComponent(m[3])) : '';
    if (!m || m[2] !== COMMIT || file.includes('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    const size = statSync(file).size;
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const headers = { 'content-type': 'application/octet-stream', etag: `"${sha256(file)}"`, 'x-repo-commit': COMMIT };
    if (range) {
      const [a, b] = [Number(range[1]), Math.min(Number(range[2]), size - 1)];
      res.writeHead(206, { ...headers, 'content-range': `bytes ${a}-${b}/${size}`, 'content-length': String(b - a + 1) });
      createReadStream(file, { start: a, end: b }).pipe(res);
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(size) });
    createReadStream(file).pipe(res);
  };
  return { handler, requests };
}

test('hub download: a pinned, sha256-checked import job whose result is the model; missing repo 404; off by default', async () => {
  const lie = new Set<string>();
  const hubImpl = fakeHub(lie);
  const hub = createServer(hubImpl.handler);
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', () => r()));
  const endpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  const s = await startTestServer({ WEIGHTSCOPE_HF_DOWNLOAD: '1', HF_ENDPOINT: endpoint });
  const off = await startTestServer({ HF_ENDPOINT: endpoint });
  try {
    const post = (base: string, body: unknown) =>
      fetch(`${base}/v1/models/import`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const r = await post(s.url, { hf: 'fixtures/gpt2-tiny' });
    const sub = (await r.json()) as Json;
    assert.equal(r.status, 202, JSON.stringify(sub));
    assert.equal(sub.job.kind, 'import');
    const job = await waitJob(s.url, sub.job.id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.result, `/v1/imports/${sub.job.id}`);
    const { model: m, created } = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    assert.equal(created, true);
    assert.match(m.id, /^[0-9a-f]{64}$/);
    assert.equal(m.format, 'safetensors');
    assert.equal(m.source, `hf:fixtures/gpt2-tiny@${COMMIT}`);
    assert.deepEqual(
      m.files.map((f: Json) => f.name),
      ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'],
    );
    assert.equal(m.files.find((f: Json) => f.name === 'model.safetensors').sha256, sha256(fixture('gpt2-tiny', 'model.safetensors')));
    assert.ok(hubImpl.requests.includes(`GET /api/models/fixtures/gpt2-tiny/tree/${COMMIT}`), hubImpl.requests.join('\n'));
    assert.equal(((await (await fetch(`${s.url}/v1/models/${m.id}`)).json()) as Json).id, m.id);

    // A file whose bytes do not match the hub's LFS sha256 fails the job, and nothing is stored.
    lie.add('model.safetensors');
    const bad = (await (await post(s.url, { hf: 'fixtures/stories260k' })).json()) as Json;
    const badEnd = await waitJob(s.url, bad.job.id);
    assert.equal(badEnd.state, 'failed');
    assert.equal(badEnd.error!.code, 'corrupt-file');
    assert.match(badEnd.error!.message, /model\.safetensors downloaded with sha256 [0-9a-f]{64}, the hub says f{64}/);
    assert.deepEqual(readdirSync(join(s.dataDir, 'tmp')), []);

    const missing = (await (await post(s.url, { hf: 'fixtures/nothing-here' })).json()) as Json;
    const missingEnd = await waitJob(s.url, missing.job.id);
    assert.equal(missingEnd.state, 'failed');
    assert.equal(missingEnd.error!.code, 'not-found');
    const disabled = await post(off.url, { hf: 'fixtures/gpt2-tiny' });
    assert.equal(disabled.status, 404);
  } finally {
    await s.cleanup();
    await off.cleanup();
    hub.close();
  }
});
