/** --text tokenization: the tokenizer folder beside an HF model, rows of `seq` tokens, clear errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeText, findTokenizerDir, textDataset, tokensToDataset } from '../../src/landscape/text.js';
import { isWeightscopeError } from '../../src/errors.js';
import { fixture } from '../helpers/fixtures.js';

test('text: gpt2-tiny byte tokenizer maps UTF-8 bytes to ids; rows of seq tokens, the tail dropped', async () => {
  const dir = findTokenizerDir(fixture('gpt2-tiny', 'onnx', 'model.onnx'));
  assert.equal(dir, fixture('gpt2-tiny'));
  const text = 'Größe: 1 ≤ 2\n';
  assert.deepEqual(await encodeText(text, dir), [...Buffer.from(text, 'utf8')]);
  const ds = tokensToDataset([1, 2, 3, 4, 5, 6, 7], 3);
  assert.deepEqual(ds.x.dims, [2, 3]);
  assert.deepEqual([...(ds.x.data as BigInt64Array)], [1n, 2n, 3n, 4n, 5n, 6n]);
  assert.equal(ds.y, null);
});

test('text: too short a text, a bad seq, a missing tokenizer or file are WeightscopeErrors', async () => {
  assert.throws(
    () => tokensToDataset([1, 2], 3),
    (e: unknown) => isWeightscopeError(e) && /fewer than one sequence/.test(e.message),
  );
  assert.throws(
    () => tokensToDataset([1, 2, 3], 1),
    (e: unknown) => isWeightscopeError(e) && /≥ 2/.test(e.message),
  );
  const tmp = mkdtempSync(join(tmpdir(), 'ws-text-'));
  try {
    assert.throws(
      () => findTokenizerDir(join(tmp, 'model.onnx')),
      (e: unknown) => isWeightscopeError(e) && e.code === 'not-found',
    );
    await assert.rejects(
      textDataset(join(tmp, 'missing.txt'), fixture('gpt2-tiny'), 4),
      (e: unknown) => isWeightscopeError(e) && e.code === 'not-found',
    );
    writeFileSync(join(tmp, 'a.txt'), 'abc');
    await assert.rejects(encodeText('abc', tmp), (e: unknown) => isWeightscopeError(e) && /no tokenizer.json/.test(e.message));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
