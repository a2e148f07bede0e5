/**
 * Issue 16 finding 9: no server paths in error details; SSE events carry the job's updated_at as their id, and a
 * client reconnecting with Last-Event-ID is not sent the state it already has.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { startTestServer } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test("error details name the upload, never the server's folders", async () => {
  const s = await startTestServer();
  try {
    const r = await fetch(`${s.url}/v1/models?name=model.safetensors`, {
      method: 'POST',
      body: readFileSync(fixture('stories260k', 'model.safetensors')).subarray(0, 500_000),
      headers: { 'content-type': 'application/octet-stream' },
    });
    const body = (await r.json()) as Json;
    assert.equal(r.status, 422);
    assert.ok(!JSON.stringify(body).includes(s.dataDir), body.detail);
    assert.ok(!/\/tmp\//.test(body.detail), body.detail);
    assert.match(body.detail, /model\.safetensors/);
  } finally {
    await s.cleanup();
  }
});

/** The SSE frames that arrive within `ms` (then the request is aborted). */
async function framesWithin(url: string, ms: number, headers: Record<string, string> = {}): Promise<string[]> {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } catch {
    /* aborted */
  } finally {
    clearTimeout(timer);
  }
  return text.split('\n\n').filter((f) => f.includes('event: '));
}

test("SSE: ids are the job's updated_at; reconnecting with Last-Event-ID skips the state already seen", async () => {
  const s = await startTestServer({ WEIGHTSCOPE_DEBUG_JOBS: '1' });
  try {
    const sub = (await (
      await fetch(`${s.url}/v1/debug/jobs`, {
        method: 'POST',
        body: JSON.stringify({ steps: 2, ms: 30_000, cache: false }),
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as Json;
    const id = sub.job.id as string;
    for (let i = 0; i < 200 && ((await (await fetch(`${s.url}/v1/jobs/${id}`)).json()) as Json).state !== 'running'; i++)
      await new Promise((r) => setTimeout(r, 25));
    const first = await framesWithin(`${s.url}/v1/jobs/${id}/events`, 500);
    assert.equal(first.length, 1, first.join('|'));
    const lastId = /^id: (\d+)$/m.exec(first[0])![1];
    assert.equal(Number(lastId), ((await (await fetch(`${s.url}/v1/jobs/${id}`)).json()) as Json).updated_at);
    const resumed = await framesWithin(`${s.url}/v1/jobs/${id}/events`, 500, { 'last-event-id': lastId });
    assert.deepEqual(resumed, []);
    const stale = await framesWithin(`${s.url}/v1/jobs/${id}/events`, 500, { 'last-event-id': '1' });
    assert.equal(stale.length, 1);
    await fetch(`${s.url}/v1/jobs/${id}`, { method: 'DELETE' });
  } finally {
    await s.cleanup();
  }
});
