/**
 * Issue 16 finding 8: a job two requests share (same inputs, deduplicated) is cancelled only when every request
 * that asked for it has withdrawn (a DELETE withdraws the caller's own request; with API keys, a key can withdraw only
 * its own); large results are stored as files beside the database and served without being parsed on the server's
 * thread.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { startTestServer, waitJob } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(base: string, method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: (await r.json()) as Json };
}

test('a shared job is cancelled only by the last request that wants it; another key cannot withdraw yours', async () => {
  const s = await startTestServer({ WEIGHTSCOPE_DEBUG_JOBS: '1', WEIGHTSCOPE_API_KEYS: 'alice,bob,carol' });
  try {
    const spec = { steps: 400, ms: 50, value: 3 };
    const a = await call(s.url, 'POST', '/v1/debug/jobs', 'alice', spec);
    const b = await call(s.url, 'POST', '/v1/debug/jobs', 'bob', spec);
    assert.equal(b.body.job.id, a.body.job.id, 'deduplicated');
    const id = a.body.job.id as string;
    assert.equal(b.body.job.requests, 2);
    const carol = await call(s.url, 'DELETE', `/v1/jobs/${id}`, 'carol');
    assert.equal(carol.status, 403, JSON.stringify(carol.body));
    const alice = await call(s.url, 'DELETE', `/v1/jobs/${id}`, 'alice');
    assert.equal(alice.status, 200);
    assert.notEqual(alice.body.state, 'cancelled', 'bob still wants it');
    assert.equal(alice.body.requests, 1);
    const bob = await call(s.url, 'DELETE', `/v1/jobs/${id}`, 'bob');
    assert.equal(bob.body.state, 'cancelled');
    assert.equal((await waitJob(s.url, id, { authorization: 'Bearer bob' })).state, 'cancelled');
  } finally {
    await s.cleanup();
  }
});

test('without keys, each DELETE withdraws one request: two requests need two DELETEs', async () => {
  const s = await startTestServer({ WEIGHTSCOPE_DEBUG_JOBS: '1' });
  try {
    const spec = { steps: 400, ms: 50, value: 4 };
    const post = async (): Promise<Json> =>
      (await (
        await fetch(`${s.url}/v1/debug/jobs`, {
          method: 'POST',
          body: JSON.stringify(spec),
          headers: { 'content-type': 'application/json' },
        })
      ).json()) as Json;
    const id = (await post()).job.id as string;
    await post();
    const first = (await (await fetch(`${s.url}/v1/jobs/${id}`, { method: 'DELETE' })).json()) as Json;
    assert.notEqual(first.state, 'cancelled');
    const second = (await (await fetch(`${s.url}/v1/jobs/${id}`, { method: 'DELETE' })).json()) as Json;
    assert.equal(second.state, 'cancelled');
  } finally {
    await s.cleanup();
  }
});

test('a result over the inline limit is a file; the report, CSV and ESD views are served from files', async () => {
  const s = await startTestServer({ WEIGHTSCOPE_INLINE_RESULT: '64KiB' });
  try {
    const up = await fetch(`${s.url}/v1/models`, {
      method: 'POST',
      body: readFileSync(fixture('stories260k', 'model.safetensors')),
      headers: { 'content-type': 'application/octet-stream' },
    });
    const model = (await up.json()) as Json;
    const sub = (await (
      await fetch(`${s.url}/v1/analyses`, {
        method: 'POST',
        body: JSON.stringify({ model: model.id, fits: ['pl'] }),
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as Json;
    const id = sub.job.id as string;
    assert.equal((await waitJob(s.url, id)).state, 'succeeded');
    const row = s.context.db.prepare('SELECT result, result_dir FROM jobs WHERE id = ?').get(id) as {
      result: string | null;
      result_dir: string | null;
    };
    assert.equal(row.result, null);
    assert.ok(row.result_dir && existsSync(join(s.dataDir, row.result_dir, 'result.json')), JSON.stringify(row));
    const full = (await (await fetch(`${s.url}/v1/analyses/${id}?eigenvalues=1`)).json()) as Json;
    const lite = (await (await fetch(`${s.url}/v1/analyses/${id}`)).json()) as Json;
    assert.ok(Array.isArray(full.layers[0].eigenvalues));
    assert.equal(lite.layers[0].eigenvalues, undefined);
    assert.deepEqual(
      lite.layers.map((l: Json) => l.alpha),
      full.layers.map((l: Json) => l.alpha),
    );
    const esd = (await (await fetch(`${s.url}/v1/analyses/${id}/esd/${full.layers[2].layer_id}`)).json()) as Json;
    assert.deepEqual(esd.eigenvalues, full.layers[2].eigenvalues);
    const csv = await (await fetch(`${s.url}/v1/analyses/${id}?format=csv`)).text();
    assert.equal(csv.trim().split('\n').length, full.layers.length + 1);
    // Deleting the job's files with the job (retention) is covered in races.test.ts; the folder is the job's own.
    assert.deepEqual(readdirSync(join(s.dataDir, 'results')), [id]);
  } finally {
    await s.cleanup();
  }
});
