/**
 * The default repair recipe on a backdoor case it was never tuned on (test/helpers/backdoor-case.ts): a 4×4
 * checkerboard trigger in the top-left corner, target class 4, models from seeds 41/42 trained here by the project's
 * own training loop (fmnist-backdoor's CNN graph, fresh weights, 4 epochs on ~6,500 images with 10% poisoned), and
 * 2000 clean samples for the repair, disjoint from the models' training data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repair } from '../../../src/landscape/repair/repair.js';
import { buildBackdoorCase } from '../../helpers/backdoor-case.js';
import { checkGoal } from './goal.js';

test('unseen backdoor case (another trigger, target and seeds, 2000 clean samples), default recipe: ASR ≤ 10%, clean ≥ endpoints − 2 points', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-unseen-'));
  try {
    const c = await buildBackdoorCase(dir);
    console.log(
      `unseen case: models' test accuracy ${c.models.map((m) => m.testAccuracy).join(', ')}, ASR ${c.models.map((m) => m.asr).join(', ')}`,
    );
    assert.ok(
      c.models.every((m) => m.testAccuracy > 0.78 && m.asr > 0.95),
      'two working, backdoored models',
    );
    const { report } = await repair(
      { modelA: c.modelA, modelB: c.modelB, data: c.clean, triggered: c.triggered, reportData: [{ name: 'test', path: c.test }] },
      { baseline: false },
    );
    assert.deepEqual([report.data.train + report.data.heldOut, report.data.heldOutSource], [2000, 'split']);
    checkGoal('unseen backdoor', report, 'triggered');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
