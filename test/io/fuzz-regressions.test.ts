/**
 * Crashes `npm run fuzz` found, each kept as a regression test: the input reduced to what triggered it, and the
 * WeightscopeError it must now be.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensorsIndex } from '../../src/io/safetensors.js';
import { parseWeightMap } from '../../src/io/shard-index.js';
import { isCode } from '../helpers/errors.js';

// shard-index, seed 1, inputs 419 … (46 of 10,000): a shard name with a NUL byte reached fs.open, which threw a
// TypeError; inputs 592 … (47): a shard name longer than a file name may be reached fs.open (ENAMETOOLONG).
test('a shard index naming a shard with a NUL byte or an over-long name is corrupt-file, not a Node error', async () => {
  for (const file of ['\u0000', 'model\u0000.safetensors', 'A'.repeat(300), `dir/${'B'.repeat(256)}.safetensors`]) {
    assert.throws(() => parseWeightMap({ weight_map: { w: file } }, 'index.json'), isCode('corrupt-file', /invalid shard/));
  }
  // A long path of short segments is a name, not an error of this check.
  assert.equal(parseWeightMap({ weight_map: { w: 'a/b/model.safetensors' } }, 'index.json').get('w'), 'a/b/model.safetensors');
  const dir = await mkdtemp(join(tmpdir(), 'ws-fuzzreg-'));
  try {
    const p = join(dir, 'model.safetensors.index.json');
    await writeFile(p, JSON.stringify({ weight_map: { w: 'A'.repeat(400) } }));
    await assert.rejects(openSafetensorsIndex(p), isCode('corrupt-file'));
    await writeFile(p, JSON.stringify({ weight_map: { w: '\u0000' } }));
    await assert.rejects(openSafetensorsIndex(p), isCode('corrupt-file'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
