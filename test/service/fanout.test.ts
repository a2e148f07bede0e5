/**
 * Joins in the embedded queue (a ranking = one analysis job per model + a join): the children run as jobs of their
 * own (deduplicated like any submission), the join shows as running with their mean progress while they run, then
 * runs with their outcomes; cancelling the join cancels the children it queued itself, never one another job
 * shares; a restart while a join waits requeues it and it still completes.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { JobQueue, type JobView } from '../../src/service/jobs/queue.js';
import { sleepJob } from '../../src/service/jobs/kinds/sleep.js';
import { CHILDREN_SHARE } from '../../src/service/jobs/rows.js';
import type { JobKind } from '../../src/service/jobs/types.js';
import { openDatabase } from '../../src/service/store/db.js';
import { tempDataDir } from './helpers.js';

async function until(q: JobQueue, id: string, ok: (j: JobView) => boolean, ms = 60_000): Promise<JobView> {
  const t0 = Date.now();
  for (;;) {
    const j = q.require(id);
    if (ok(j)) return j;
    if (Date.now() - t0 > ms) throw new Error(`job ${id}: ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const terminal = (j: JobView): boolean => ['succeeded', 'failed', 'cancelled'].includes(j.state);

/** A started queue on a temporary data folder, closed and removed after the test. */
function queue(t: test.TestContext, concurrency: number): { q: JobQueue; db: ReturnType<typeof openDatabase> } {
  const data = tempDataDir();
  const db = openDatabase(data.dir);
  const q = new JobQueue(db, { dataDir: data.dir, concurrency, kinds: [sleepJob as JobKind] });
  t.after(async () => {
    await q.close();
    db.close();
    data.cleanup();
  });
  q.start();
  return { q, db };
}

test('embedded join: children first (in parallel with 2 slots), the join running on their progress, then their values', async (t) => {
  const { q, db } = queue(t, 2);
  const { job } = q.submit('sleep', {
    value: 1,
    steps: 1,
    ms: 1,
    children: [
      { steps: 20, ms: 30, value: 10 },
      { steps: 20, ms: 30, value: 100 },
      { steps: 1, ms: 1, value: 1000, fail: 'no' },
    ],
  });
  assert.equal(job.state, 'queued');
  const seen = await until(q, job.id, (j) => (j.state === 'running' && j.progress > 0) || terminal(j));
  assert.equal(seen.state, 'running');
  assert.ok(seen.progress <= CHILDREN_SHARE, `${seen.progress}`);
  assert.match(seen.message, /child jobs done/);
  const end = await until(q, job.id, terminal);
  assert.equal(end.state, 'succeeded', JSON.stringify(end.error));
  // A failed child gives no value; the join decides what a failure means (the sleep join counts it as 0).
  assert.deepEqual(JSON.parse(await q.resultText(job.id, 'sleep')), { value: 111, children: ['succeeded', 'succeeded', 'failed'] });
  const kids = db
    .prepare('SELECT c.started_at, c.finished_at FROM job_deps d JOIN jobs c ON c.id = d.dep_id WHERE d.job_id = ? ORDER BY d.position')
    .all(job.id) as { started_at: number; finished_at: number }[];
  assert.ok(kids[0].started_at < kids[1].finished_at && kids[1].started_at < kids[0].finished_at, 'the children ran at the same time');
  // Same children again: a new join, cached children, no new child rows.
  const before = (db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n;
  const again = q.submit('sleep', {
    value: 2,
    steps: 1,
    ms: 1,
    children: [
      { steps: 20, ms: 30, value: 10 },
      { steps: 20, ms: 30, value: 100 },
    ],
  });
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n, before + 1);
  assert.equal((await until(q, again.job.id, terminal)).state, 'succeeded');
  assert.equal(JSON.parse(await q.resultText(again.job.id, 'sleep')).value, 112);
});

test('embedded join: cancel takes its own children along, not one another client asked for', async (t) => {
  const { q, db } = queue(t, 2);
  const shared = { steps: 500, ms: 10, value: 5 };
  const other = q.submit('sleep', shared).job;
  const join = q.submit('sleep', { value: 0, children: [shared, { steps: 500, ms: 10, value: 6 }] }).job;
  await until(q, join.id, (j) => j.state === 'running' && j.progress > 0);
  assert.equal((await q.cancel(join.id)).state, 'cancelled');
  const kids = db.prepare('SELECT d.dep_id AS id, d.owned FROM job_deps d WHERE d.job_id = ? ORDER BY d.position').all(join.id) as {
    id: string;
    owned: number;
  }[];
  assert.deepEqual(
    kids.map((k) => [k.id === other.id, k.owned]),
    [
      [true, 0],
      [false, 1],
    ],
  );
  assert.equal(q.require(kids[1].id).state, 'cancelled');
  assert.notEqual(q.require(other.id).state, 'cancelled');
  await q.cancel(other.id);
});

test('embedded join: a restart while the join waits requeues it; it completes after its children', async (t) => {
  const data = tempDataDir();
  t.after(() => data.cleanup());
  let db = openDatabase(data.dir);
  let q = new JobQueue(db, { dataDir: data.dir, concurrency: 1, kinds: [sleepJob as JobKind], closeWaitMs: 100 });
  q.start();
  const join = q.submit('sleep', {
    value: 0,
    children: [
      { steps: 30, ms: 20, value: 1 },
      { steps: 2, ms: 1, value: 2 },
    ],
  }).job;
  await until(q, join.id, (j) => j.state === 'running' && j.progress > 0);
  await q.close();
  db.close();
  db = openDatabase(data.dir);
  q = new JobQueue(db, { dataDir: data.dir, concurrency: 1, kinds: [sleepJob as JobKind] });
  t.after(async () => {
    await q.close();
    db.close();
  });
  assert.deepEqual(q.recover(), { requeued: 1, failed: 0 }, 'the waiting join; the child was handed back at close');
  q.start();
  assert.equal((await until(q, join.id, terminal)).state, 'succeeded');
  assert.equal(JSON.parse(await q.resultText(join.id, 'sleep')).value, 3);
});
