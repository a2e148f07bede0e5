/**
 * Issue 16 finding 3: the HTTP server bounds what a client can hold — request time, idle sockets, connections, SSE
 * streams, concurrent uploads — an over-limit upload without a declared length is cut off instead of drained
 * forever, and a broken repair download cannot crash the process.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { spawnServer, startTestServer, tempDataDir } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function rawSocket(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => resolve(s));
    s.once('error', reject);
  });
}

test('a chunked upload past the limit gets its 413 and the connection is closed while the client still sends', async () => {
  const s = await startTestServer({ WEIGHTSCOPE_MAX_UPLOAD: '64KiB' });
  try {
    const sock = await rawSocket(s.url);
    let answer = '';
    let closed = false;
    sock.on('data', (d: Buffer) => (answer += d.toString()));
    sock.on('close', () => (closed = true));
    sock.on('error', () => undefined);
    sock.write(
      'POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = 0;
    const t0 = Date.now();
    // Keep sending (an endless upload) until the server closes the connection, for at most 20 s.
    while (!closed && Date.now() - t0 < 20_000) {
      if (sock.writableLength < 1 << 20) {
        sock.write(`${chunk.length.toString(16)}\r\n`);
        sock.write(chunk);
        sock.write('\r\n');
        sent += chunk.length;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    sock.destroy();
    assert.ok(closed, `the server kept reading: ${sent} bytes sent in 20 s`);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /urn:weightscope:problem:too-large/);
    assert.ok(sent < 64 * 2 ** 20, `${sent} bytes were read before the cut`);
    assert.deepEqual(readdirSync(join(s.dataDir, 'tmp')), []);
  } finally {
    await s.cleanup();
  }
});

test('SSE streams and concurrent uploads are capped: over the cap a 503 problem with Retry-After', async () => {
  const s = await startTestServer({ WEIGHTSCOPE_DEBUG_JOBS: '1', WEIGHTSCOPE_MAX_STREAMS: '2', WEIGHTSCOPE_MAX_UPLOADS: '1' });
  const aborts: AbortController[] = [];
  try {
    const job = (await (
      await fetch(`${s.url}/v1/debug/jobs`, {
        method: 'POST',
        body: JSON.stringify({ steps: 1000, ms: 50, cache: false }),
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as Json;
    for (let i = 0; i < 2; i++) {
      const a = new AbortController();
      aborts.push(a);
      const r = await fetch(`${s.url}/v1/jobs/${job.job.id}/events`, { signal: a.signal });
      assert.equal(r.status, 200);
    }
    const third = await fetch(`${s.url}/v1/jobs/${job.job.id}/events`);
    assert.equal(third.status, 503);
    assert.equal(((await third.json()) as Json).type, 'urn:weightscope:problem:busy');
    assert.ok(Number(third.headers.get('retry-after')) > 0);
    // A closed stream frees its place.
    aborts.shift()!.abort();
    await new Promise((r) => setTimeout(r, 200));
    const again = new AbortController();
    aborts.push(again);
    assert.equal((await fetch(`${s.url}/v1/jobs/${job.job.id}/events`, { signal: again.signal })).status, 200);

    // One upload at a time: a second one while the first is still sending is refused.
    const sock = await rawSocket(s.url);
    sock.on('error', () => undefined);
    sock.write('POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n');
    sock.write(Buffer.alloc(1000, 1));
    await new Promise((r) => setTimeout(r, 200));
    const second = await fetch(`${s.url}/v1/models`, {
      method: 'POST',
      body: new Uint8Array(10),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(second.status, 503);
    sock.destroy();
    await fetch(`${s.url}/v1/jobs/${job.job.id}`, { method: 'DELETE' });
  } finally {
    for (const a of aborts) a.abort();
    await s.cleanup();
  }
});

test('the server times out a request that never finishes its headers or body', async () => {
  const s = await startTestServer({ WEIGHTSCOPE_REQUEST_TIMEOUT: '1' });
  try {
    assert.ok(s.server.headersTimeout > 0 && s.server.headersTimeout <= 60_000);
    assert.equal(s.server.requestTimeout, 1000);
    const sock = await rawSocket(s.url);
    let closed = false;
    let answer = '';
    sock.on('data', (d: Buffer) => (answer += d.toString()));
    sock.on('close', () => (closed = true));
    sock.write('POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\nabc');
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(closed, 'the stalled request still holds its socket after 10 s');
    assert.match(answer, /^HTTP\/1\.1 408 /);
  } finally {
    await s.cleanup();
  }
});

test('a repair download whose file cannot be streamed is a 404, and the server survives', async () => {
  const data = tempDataDir();
  const { child, url } = await spawnServer({ WEIGHTSCOPE_DATA: data.dir });
  let exit: string | null = null;
  child.once('exit', (code, signal) => (exit = `${code} ${signal}`));
  try {
    // A succeeded repair whose "model file" is a directory (createReadStream then fails after the headers).
    const id = '00000000-0000-4000-8000-00000000beef';
    mkdirSync(join(data.dir, 'repairs', id, 'model.onnx'), { recursive: true });
    const db = new Database(join(data.dir, 'weightscope.db'));
    db.prepare(
      `INSERT INTO jobs (id, kind, state, payload, result, created_at, updated_at) VALUES (?, 'repair', 'succeeded', '{}', ?, 0, 0)`,
    ).run(id, JSON.stringify({ files: { onnx: `repairs/${id}/model.onnx` } }));
    db.close();
    const r = await fetch(`${url}/v1/repairs/${id}/model?format=onnx`).catch((e: Error) => ({ status: -1, text: async () => e.message }));
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(exit, null, 'the server process died');
    assert.equal(r.status, 404, await r.text());
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  } finally {
    child.kill('SIGKILL');
    data.cleanup();
  }
});
