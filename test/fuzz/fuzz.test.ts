/**
 * CI's short fuzz run: every reader target of fuzz/ (npm run fuzz runs ≥ 10,000 inputs each) for a few hundred
 * seeded inputs. Any exception other than a WeightscopeError, any input running over the hang limit and any input
 * needing more than the heap limit fails the test, naming the saved input.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTarget, TARGET_NAMES } from '../../fuzz/campaign.js';

const EXECS = 150;

for (const target of TARGET_NAMES) {
  test(`fuzz ${target}: ${EXECS} seeded inputs, no crash, hang or unbounded memory`, { timeout: 240_000 }, async () => {
    const crashDir = mkdtempSync(join(tmpdir(), 'ws-fuzz-ci-'));
    try {
      // A 20 s hang limit: CI machines are shared and loaded; real hangs (unbounded loops) run far past it.
      const r = await runTarget(target, { execs: EXECS, seed: 20_251_206, hangMs: 20_000, heapMb: 1024, crashDir });
      assert.deepEqual(
        r.failures.map((f) => `${f.kind} at ${f.index}: ${f.message}`),
        [],
      );
      assert.equal(r.execs, EXECS);
      assert.ok(r.ok >= 1, `${target}: not even the unmutated corpus was read: ${JSON.stringify(r.errors)}`);
      assert.equal(r.ok + Object.values(r.errors).reduce((a, b) => a + b, 0), EXECS, 'every input was answered');
    } finally {
      rmSync(crashDir, { recursive: true, force: true });
    }
  });
}
