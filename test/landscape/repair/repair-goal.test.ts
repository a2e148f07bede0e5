/**
 * The default repair recipe against issue 15's goal on cases it must hold on (each a full default run, never
 * seeing triggered or target data): the repaired model's clean test accuracy ≥ the endpoints' mean − 2 points and
 * its attack success ≤ 10% — on fmnist-backdoor (BadNets, ASR on test_triggered) and on fmnist-injected (fault
 * injection, attack success on the 10 injected images: at most 1 of 10). The unseen backdoor case is in
 * repair-unseen.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repair } from '../../../src/landscape/repair/repair.js';
import { checkGoal, pairInputs } from './goal.js';

test('fmnist-injected, default recipe: attack success ≤ 1 of 10 after repair, clean ≥ endpoints − 2 points (t chosen without the targets)', async () => {
  const inputs = pairInputs('fmnist-injected', { targets: 'injected.safetensors', test: 'test_clean.safetensors' });
  const { report } = await repair(inputs, { baseline: false });
  assert.equal(report.data.targets, 10);
  assert.equal(report.endpoints[0].targets?.accuracy, 1, 'reference.json: attack success 1.0');
  checkGoal('fmnist-injected', report, 'targets');
  assert.ok((report.repaired.targets?.accuracy ?? 1) <= 0.1 + 1e-12);
  assert.ok((report.repaired.targetsTrue?.accuracy ?? 0) >= 0.5, 'most attacked images get their true labels back');
});

test('fmnist-backdoor, default recipe: ASR ≤ 10%, clean ≥ endpoints − 2 points', async () => {
  const inputs = pairInputs('fmnist-backdoor', { triggered: 'test_triggered.safetensors', test: 'test_clean.safetensors' });
  const { report } = await repair(inputs, { baseline: false });
  checkGoal('fmnist-backdoor', report, 'triggered');
});
