/**
 * Crash recovery: a spawned `weightscope serve` gets jobs, is killed with SIGKILL mid-run, and is restarted on the
 * same data folder: every job reaches a terminal state, and uploads and finished results are still served.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { spawnServer, tempDataDir, waitJob } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const post = async (base: string, path: string, body: unknown): Promise<Json> => {
  const r = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  assert.ok(r.status === 202 || r.status === 200 || r.status === 201, `${path}: ${r.status}`);
  return (await r.json()) as Json;
};

test('kill -9 and restart: every job terminal, stored models and finished results still served', async () => {
  const data = tempDataDir();
  const env = { WEIGHTSCOPE_DATA: data.dir, WEIGHTSCOPE_DEBUG_JOBS: '1', WEIGHTSCOPE_JOB_CONCURRENCY: '1' };
  let { child, url } = await spawnServer(env);
  try {
    const up = await fetch(`${url}/v1/models`, { method: 'POST', body: readFileSync(fixture('stories260k', 'model.safetensors')) });
    assert.equal(up.status, 201);
    const model = (await up.json()) as Json;
    const analysis = (await post(url, '/v1/analyses', { model: model.id, fits: ['pl'] })).job;
    const done = await waitJob(url, analysis.id);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    const before = (await (await fetch(`${url}/v1/analyses/${analysis.id}`)).json()) as Json;

    const quick = (await post(url, '/v1/debug/jobs', { steps: 1, ms: 1, value: 1 })).job;
    assert.equal((await waitJob(url, quick.id)).state, 'succeeded');
    // One long job running, two queued behind it (concurrency 1).
    const long = (await post(url, '/v1/debug/jobs', { steps: 200, ms: 50, value: 2 })).job;
    const queued = [
      (await post(url, '/v1/debug/jobs', { steps: 2, ms: 10, value: 3 })).job,
      (await post(url, '/v1/debug/jobs', { steps: 2, ms: 10, value: 4 })).job,
    ];
    for (let i = 0; i < 200; i++) {
      const j = (await (await fetch(`${url}/v1/jobs/${long.id}`)).json()) as Json;
      if (j.state === 'running' && j.progress > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(((await (await fetch(`${url}/v1/jobs/${long.id}`)).json()) as Json).state, 'running');

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    ({ child, url } = await spawnServer(env));
    for (const j of [long, ...queued]) {
      const end = await waitJob(url, j.id, {}, 60_000);
      assert.ok(['succeeded', 'failed', 'cancelled'].includes(end.state));
    }
    // The interrupted job ran again (first restart), so it succeeded.
    assert.equal((await waitJob(url, long.id)).state, 'succeeded');
    assert.equal((await waitJob(url, quick.id)).state, 'succeeded');
    const after = await fetch(`${url}/v1/analyses/${analysis.id}`);
    assert.equal(after.status, 200);
    assert.deepEqual(await after.json(), before);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as Json;
    assert.deepEqual(
      models.models.map((m: Json) => m.id),
      [model.id],
    );
    // The same analysis request is served from the cache after the restart.
    const again = await fetch(`${url}/v1/analyses`, {
      method: 'POST',
      body: JSON.stringify({ model: model.id, fits: ['pl'] }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as Json).job.id, analysis.id);
  } finally {
    child.kill('SIGKILL');
    data.cleanup();
  }
});
