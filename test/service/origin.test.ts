/**
 * Issue 16 finding 4: a keyless server (the loopback default) answers 403 problem+json to state-changing requests
 * from another site — a foreign Origin, Sec-Fetch-Site other than same-origin/none — and to any request whose Host
 * is not the server's own (DNS rebinding); binding a non-loopback address without keys is refused unless
 * WEIGHTSCOPE_ALLOW_OPEN=1. Same-origin pages (the dashboard) and clients without an Origin (curl, the CLI) work.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../../src/service/server.js';
import { fixture } from '../helpers/fixtures.js';
import { startTestServer, tempDataDir } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** node:http, so Host can be set freely. */
function send(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Uint8Array | string,
): Promise<{ status: number; body: Json | string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let parsed: Json | string = text;
        try {
          parsed = JSON.parse(text) as Json;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const forbidden = (r: { status: number; body: Json | string }, why: RegExp): void => {
  assert.equal(r.status, 403, JSON.stringify(r.body));
  const b = r.body as Json;
  assert.equal(b.type, 'urn:weightscope:problem:forbidden-origin');
  assert.match(b.detail, why);
};

test('keyless server: cross-site writes and foreign Hosts are refused; same-origin and Origin-less requests work', async () => {
  const s = await startTestServer();
  try {
    const port = new URL(s.url).port;
    const host = `127.0.0.1:${port}`;
    const json = { 'content-type': 'application/json', host };
    const body = JSON.stringify({ model: 'f'.repeat(64) });
    forbidden(await send(s.url, 'POST', '/v1/analyses', { ...json, origin: 'http://evil.example' }, body), /Origin http:\/\/evil\.example/);
    forbidden(await send(s.url, 'POST', '/v1/analyses', { ...json, origin: 'null' }, body), /Origin null/);
    forbidden(await send(s.url, 'POST', '/v1/analyses', { ...json, 'sec-fetch-site': 'cross-site' }, body), /Sec-Fetch-Site: cross-site/);
    forbidden(
      await send(s.url, 'POST', '/v1/analyses', { ...json, 'sec-fetch-site': 'same-site', origin: `http://localhost:3000` }, body),
      /localhost:3000|same-site/,
    );
    // The forms a page can send without a preflight are refused the same way, and nothing is stored.
    forbidden(
      await send(
        s.url,
        'POST',
        '/v1/models',
        { host, 'content-type': 'text/plain', origin: 'http://evil.example' },
        readFileSync(fixture('stories260k', 'model.safetensors')),
      ),
      /Origin/,
    );
    forbidden(await send(s.url, 'DELETE', `/v1/models/${'f'.repeat(64)}`, { host, origin: 'http://evil.example' }), /Origin/);
    assert.deepEqual(readdirSync(join(s.dataDir, 'blobs')), []);
    // DNS rebinding: the attacker's name resolves to 127.0.0.1, so Host is theirs — refused for reads too.
    forbidden(await send(s.url, 'GET', '/v1/models', { host: `attacker.example:${port}` }), /Host attacker\.example/);
    forbidden(await send(s.url, 'GET', '/', { host: `attacker.example:${port}` }), /Host/);

    // Allowed: no Origin (curl, the CLI), the dashboard's own origin, localhost names.
    assert.equal((await send(s.url, 'POST', '/v1/analyses', json, body)).status, 404);
    assert.equal(
      (await send(s.url, 'POST', '/v1/analyses', { ...json, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }, body)).status,
      404,
    );
    assert.equal((await send(s.url, 'GET', '/v1/models', { host: `localhost:${port}`, 'sec-fetch-site': 'none' })).status, 200);
    assert.equal(
      (await send(s.url, 'GET', '/v1/models', { host: `localhost:${port}`, origin: 'http://evil.example' })).status,
      200,
      'reads are not writes: CORS keeps their answers from the page',
    );
    assert.equal((await send(s.url, 'GET', '/healthz', { host })).status, 200);
  } finally {
    await s.cleanup();
  }
});

test('WEIGHTSCOPE_ALLOWED_HOSTS admits a name (a reverse proxy, a container name)', async () => {
  const s = await startTestServer({ WEIGHTSCOPE_ALLOWED_HOSTS: 'weightscope.internal' });
  try {
    const port = new URL(s.url).port;
    assert.equal((await send(s.url, 'GET', '/v1/models', { host: `weightscope.internal:${port}` })).status, 200);
    assert.equal((await send(s.url, 'GET', '/v1/models', { host: 'weightscope.internal' })).status, 200);
    forbidden(await send(s.url, 'GET', '/v1/models', { host: `other.internal:${port}` }), /Host/);
  } finally {
    await s.cleanup();
  }
});

test('binding a non-loopback address without API keys is refused unless WEIGHTSCOPE_ALLOW_OPEN=1', async () => {
  const t = tempDataDir();
  try {
    await assert.rejects(
      startServer({ env: { PORT: '0', HOST: '0.0.0.0', WEIGHTSCOPE_DATA: t.dir }, log: () => undefined }),
      /0\.0\.0\.0 without WEIGHTSCOPE_API_KEYS.*WEIGHTSCOPE_ALLOW_OPEN=1/,
    );
    const lines: string[] = [];
    const open = await startServer({
      env: { PORT: '0', HOST: '0.0.0.0', WEIGHTSCOPE_DATA: t.dir, WEIGHTSCOPE_ALLOW_OPEN: '1' },
      log: (l) => lines.push(l),
    });
    await open.close();
    assert.ok(
      lines.some((l) => /WARNING: listening on 0\.0\.0\.0 without WEIGHTSCOPE_API_KEYS/.test(l)),
      lines.join('\n'),
    );
    const keyed = await startServer({
      env: { PORT: '0', HOST: '0.0.0.0', WEIGHTSCOPE_DATA: t.dir, WEIGHTSCOPE_API_KEYS: 'k' },
      log: () => undefined,
    });
    await keyed.close();
  } finally {
    t.cleanup();
  }
});
