/**
 * Issue 16 finding 7: one embedded-mode server per data folder. A second `serve` on the same WEIGHTSCOPE_DATA is
 * refused (it would requeue the first one's running jobs and delete its uploads in progress); the lock goes with
 * the process, so after a clean stop or a kill -9 the folder can be served again.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnServer, startTestServer, tempDataDir, waitJob } from './helpers.js';

test('a second server on the same data folder is refused, naming the folder and the holder', async () => {
  const t = tempDataDir();
  const a = await startTestServer({ WEIGHTSCOPE_DEBUG_JOBS: '1' }, t.dir);
  try {
    const job = (await (
      await fetch(`${a.url}/v1/debug/jobs`, {
        method: 'POST',
        body: JSON.stringify({ steps: 40, ms: 50, cache: false }),
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as { job: { id: string } };
    await assert.rejects(
      startTestServer({}, t.dir),
      new RegExp(`another weightscope server \\(pid ${process.pid}\\) is using ${t.dir.replace(/[/\\]/g, '.')}`),
    );
    // The first server's job was not requeued or disturbed.
    assert.equal((await waitJob(a.url, job.job.id)).state, 'succeeded');
  } finally {
    await a.close();
  }
  const b = await startTestServer({}, t.dir);
  await b.close();
  t.cleanup();
});

test('the lock dies with its process: kill -9, then a new server starts on the folder', async () => {
  const t = tempDataDir();
  const first = await spawnServer({ WEIGHTSCOPE_DATA: t.dir });
  try {
    await assert.rejects(startTestServer({}, t.dir), /another weightscope server/);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const again = await startTestServer({}, t.dir);
    await again.close();
  } finally {
    first.child.kill('SIGKILL');
    t.cleanup();
  }
});
