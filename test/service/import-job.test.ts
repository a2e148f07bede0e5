/**
 * Issue 13 item 6: importing a folder is not bound by the upload limit; an import over WEIGHTSCOPE_IMPORT_INLINE
 * is a job (202) with byte progress whose result is the model (id included), cancellable mid-copy; POST /v1/models
 * (upload) keeps answering with the model.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, openSync, readdirSync, readFileSync, closeSync, writeSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { startTestServer, tempDataDir, waitJob } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A safetensors file of `bytes` zero bytes of F32 data, written sparse (no disk used for the data). */
function sparseSafetensors(path: string, bytes: number): void {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [bytes / 4096, 1024], data_offsets: [0, bytes] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const fd = openSync(path, 'w');
  writeSync(fd, len);
  writeSync(fd, header);
  ftruncateSync(fd, 8 + header.length + bytes);
  closeSync(fd);
}

const post = async (base: string, path: string, body: unknown): Promise<{ status: number; body: Json }> => {
  const r = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: r.status, body: (await r.json()) as Json };
};

test('an import over the inline size (and over the upload limit) is a job with progress; its result is the model', async () => {
  const t = tempDataDir();
  const root = join(t.dir, 'root');
  mkdirSync(join(root, 'stories'), { recursive: true });
  writeFileSync(join(root, 'stories', 'model.safetensors'), readFileSync(fixture('stories260k', 'model.safetensors')));
  writeFileSync(join(root, 'stories', 'config.json'), readFileSync(fixture('stories260k', 'config.json')));
  const s = await startTestServer({
    WEIGHTSCOPE_IMPORT_ROOTS: root,
    WEIGHTSCOPE_IMPORT_INLINE: '100KiB',
    WEIGHTSCOPE_MAX_UPLOAD: '100KiB',
  });
  try {
    const sub = await post(s.url, '/v1/models/import', { path: join(root, 'stories') });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const events = await (await fetch(`${s.url}/v1/jobs/${sub.body.job.id}/events`)).text();
    assert.match(events, /event: end\ndata: .*"state":"succeeded"/);
    const job = await waitJob(s.url, sub.body.job.id);
    const r = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    assert.equal(r.created, true);
    assert.equal(r.model.name, 'stories');
    assert.equal(r.model.parameters, 260032);
    assert.deepEqual(
      r.model.files.map((f: Json) => f.name),
      ['config.json', 'model.safetensors'],
    );
    // The same through POST /v1/imports (always a job): same content, same model.
    const again = await post(s.url, '/v1/imports', { path: join(root, 'stories') });
    assert.equal(again.status, 202);
    const againJob = await waitJob(s.url, again.body.job.id);
    const r2 = (await (await fetch(`${s.url}${againJob.result}`)).json()) as Json;
    assert.deepEqual([r2.created, r2.model.id], [false, r.model.id]);
    // Bad paths are refused at submission, not as failed jobs.
    assert.equal((await post(s.url, '/v1/imports', { path: '/etc' })).status, 403);
  } finally {
    await s.cleanup();
    t.cleanup();
  }
});

test('a running import job is cancelled mid-copy: cancelled, no part file left, the server serves on', async () => {
  const t = tempDataDir();
  const root = join(t.dir, 'root');
  mkdirSync(join(root, 'big'), { recursive: true });
  sparseSafetensors(join(root, 'big', 'model.safetensors'), 2 ** 31);
  const s = await startTestServer({ WEIGHTSCOPE_IMPORT_ROOTS: root });
  try {
    const sub = await post(s.url, '/v1/models/import', { path: join(root, 'big') });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const id = sub.body.job.id as string;
    for (let i = 0; i < 400; i++) {
      const j = (await (await fetch(`${s.url}/v1/jobs/${id}`)).json()) as Json;
      if (j.progress > 0 || (j.state !== 'queued' && j.state !== 'running')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const del = (await (await fetch(`${s.url}/v1/jobs/${id}`, { method: 'DELETE' })).json()) as Json;
    assert.equal(del.state, 'cancelled', JSON.stringify(del));
    const end = await waitJob(s.url, id);
    assert.equal(end.state, 'cancelled');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(readdirSync(join(s.dataDir, 'tmp')), []);
    assert.deepEqual(((await (await fetch(`${s.url}/v1/models`)).json()) as Json).models, []);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  } finally {
    await s.cleanup();
    t.cleanup();
  }
});
