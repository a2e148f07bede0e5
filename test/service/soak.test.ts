/**
 * The soak benchmark's short version (bench/soak.ts runs 10 minutes): 25 s of mixed traffic with hostile uploads,
 * then kill -9 and restart. No 5xx but stated limits, nothing accepted lost, no temp files left behind.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from '../../bench/soak-lib.js';

test('soak (25 s): no unexpected 5xx, hostile uploads refused, nothing accepted lost after kill -9', { timeout: 300_000 }, async () => {
  const r = await runSoak({ seconds: 25, clients: 1 });
  assert.deepEqual(r.unexpected5xx, []);
  assert.ok(r.acceptedUploads >= 5 && r.servedResults >= 1, JSON.stringify(r));
  assert.equal(r.tmpFilesAtEnd, 0);
  assert.deepEqual(r.afterRestart, { ...r.afterRestart, uploadsMissing: [], resultsChanged: [], jobsNotTerminal: [] });
  // The fds at the end are those of a quiet server: nothing grows with the traffic it served.
  assert.ok(r.fds.end <= r.fds.start + 20, `open fds ${r.fds.start} → ${r.fds.end}`);
});
