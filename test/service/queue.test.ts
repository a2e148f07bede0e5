/** The job queue without HTTP: caching, failure, cancellation of a queued job, crash recovery rules. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { JobQueue, type JobView } from '../../src/service/jobs/queue.js';
import { sleepJob } from '../../src/service/jobs/kinds/sleep.js';
import type { JobKind } from '../../src/service/jobs/types.js';
import { openDatabase } from '../../src/service/store/db.js';
import { tempDataDir } from './helpers.js';

async function until(q: JobQueue, id: string, states: string[]): Promise<JobView> {
  for (let i = 0; i < 400; i++) {
    const j = q.get(id)!;
    if (states.includes(j.state)) return j;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id} never reached ${states.join('|')}`);
}

test('queue: runs in a worker, caches by key, records failures, cancels queued jobs', async () => {
  const t = tempDataDir();
  const db = openDatabase(t.dir);
  const finished: string[] = [];
  const q = new JobQueue(db, {
    dataDir: t.dir,
    concurrency: 1,
    kinds: [sleepJob as JobKind],
    observer: { jobFinished: (k, s) => finished.push(`${k}:${s}`) },
  });
  try {
    q.start();
    const a = q.submit('sleep', { steps: 2, ms: 5, value: 11 });
    assert.equal(a.cached, false);
    const dup = q.submit('sleep', { steps: 2, ms: 5, value: 11 });
    assert.equal(dup.job.id, a.job.id); // same inputs while queued → the same job
    const done = await until(q, a.job.id, ['succeeded']);
    assert.equal(done.progress, 1);
    assert.equal(await q.resultText(a.job.id, 'sleep'), '{"value":11}');
    const cached = q.submit('sleep', { value: 11, steps: 2, ms: 5 });
    assert.deepEqual([cached.cached, cached.job.id], [true, a.job.id]);

    const bad = q.submit('sleep', { steps: 1, ms: 1, fail: 'nope' });
    const failed = await until(q, bad.job.id, ['failed']);
    assert.deepEqual(failed.error, { code: 'numerical', message: 'nope' });
    await assert.rejects(q.resultText(bad.job.id, 'sleep'), /failed/);

    const blocker = q.submit('sleep', { steps: 100, ms: 20, cache: false });
    const waiting = q.submit('sleep', { steps: 1, ms: 1, value: 99 });
    await until(q, blocker.job.id, ['running']);
    assert.equal(q.get(waiting.job.id)!.state, 'queued');
    assert.equal((await q.cancel(waiting.job.id)).state, 'cancelled');
    assert.equal((await q.cancel(blocker.job.id)).state, 'cancelled');
    assert.throws(() => q.submit('nope', {}), /unknown job kind/);
    assert.throws(() => q.submit('sleep', { steps: -1 }), /bad sleep payload/);
    assert.ok(finished.includes('sleep:succeeded') && finished.includes('sleep:failed') && finished.includes('sleep:cancelled'));
  } finally {
    await q.close();
    db.close();
    t.cleanup();
  }
});

test('recover(): running jobs are requeued, or failed with a reason after maxAttempts interruptions', () => {
  const t = tempDataDir();
  const db = openDatabase(t.dir);
  try {
    const ins = db.prepare(
      `INSERT INTO jobs (id, kind, state, payload, attempts, created_at, updated_at) VALUES (?, 'sleep', 'running', '{}', ?, 0, 0)`,
    );
    ins.run('00000000-0000-4000-8000-000000000001', 1);
    ins.run('00000000-0000-4000-8000-000000000002', 2);
    const q = new JobQueue(db, { dataDir: t.dir, concurrency: 1, kinds: [sleepJob as JobKind], maxAttempts: 2 });
    assert.deepEqual(q.recover(), { requeued: 1, failed: 1 });
    assert.equal(q.get('00000000-0000-4000-8000-000000000001')!.state, 'queued');
    const f = q.get('00000000-0000-4000-8000-000000000002')!;
    assert.equal(f.state, 'failed');
    assert.equal(f.error!.code, 'interrupted');
    assert.match(f.error!.message, /stopped 2 times/);
  } finally {
    db.close();
    t.cleanup();
  }
});
