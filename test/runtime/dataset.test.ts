import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import { batchesOf, epochOrder, inferLossKind, loadDataset, sequentialBatches, sliceBatch, takeBatch } from '../../src/runtime/dataset.js';
import { Rng } from '../../src/util/random.js';
import { fixture } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'ws-dataset-'));

function bytesOf(a: Float32Array | BigInt64Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

test('dataset: fmnist clean subset loads as float32 images with int64 labels', async () => {
  const ds = await loadDataset(fixture('fmnist-backdoor', 'clean_subset.safetensors'));
  assert.equal(ds.n, 3000);
  assert.deepEqual(ds.x.dims, [3000, 1, 28, 28]);
  assert.equal(ds.x.type, 'float32');
  assert.equal(ds.y?.length, 3000);
  assert.equal(inferLossKind(ds), 'classification');
  const b = sliceBatch(ds, 0, 128);
  assert.deepEqual(b.x.dims, [128, 1, 28, 28]);
  assert.equal(b.size, 128);
  assert.deepEqual([...(b.x.data as Float32Array).subarray(0, 784)], [...(ds.x.data as Float32Array).subarray(0, 784)]);
  const t = takeBatch(ds, [5, 2]);
  assert.deepEqual([...(t.y!.data as BigInt64Array)], [ds.y![5], ds.y![2]]);
  assert.deepEqual([...(t.x.data as Float32Array).subarray(784)], [...(ds.x.data as Float32Array).subarray(2 * 784, 3 * 784)]);
});

test('dataset: gpt2 token batch has no labels and means a language-model loss', async () => {
  const ds = await loadDataset(fixture('gpt2-tiny', 'lm_batch.safetensors'));
  assert.equal(ds.x.type, 'int64');
  assert.deepEqual(ds.x.dims, [8, 64]);
  assert.equal(ds.y, null);
  assert.equal(inferLossKind(ds), 'lm');
  // "the first 512 bytes of the GPL-3 text": the first row starts with its title line
  const first = String.fromCharCode(...[...(ds.x.data as BigInt64Array).subarray(0, 64)].map(Number));
  assert.match(first, /GNU GENERAL PUBLIC LICENSE/);
});

test('dataset: seeded shuffling reproduces, tiling repeats every sample evenly, last partial batch kept', () => {
  const a = epochOrder(10, { rng: new Rng(3) });
  const b = epochOrder(10, { rng: new Rng(3) });
  const c = epochOrder(10, { rng: new Rng(4) });
  assert.deepEqual([...a], [...b]);
  assert.notDeepEqual([...a], [...c]);
  assert.deepEqual(
    [...a].sort((p, q) => p - q),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  const tiled = epochOrder(3, { samplesPerEpoch: 10, rng: new Rng(1) });
  const counts = [0, 0, 0];
  for (const i of tiled) counts[i]++;
  assert.deepEqual(counts, [4, 3, 3]);
  assert.deepEqual([...epochOrder(4)], [0, 1, 2, 3]);
  const x = Float32Array.from({ length: 10 }, (_, i) => i);
  const ds = { n: 10, x: { type: 'float32' as const, data: x, dims: [10, 1] }, y: null };
  const sizes = [...batchesOf(ds, epochOrder(10), 4)].map((bt) => bt.size);
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.deepEqual(
    [...sequentialBatches(ds, 3)].map((bt) => [...(bt.x.data as Float32Array)]),
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]],
  );
  assert.throws(() => epochOrder(4, { samplesPerEpoch: 0 }), { code: 'invalid-input' });
  assert.throws(() => [...sequentialBatches(ds, 0)], { code: 'invalid-input' });
});

test('dataset: int32 tokens widen to int64; bad files are clear errors', async () => {
  const p = join(dir, 'tok32.safetensors');
  await writeSafetensors(p, [{ name: 'x', dtype: 'I32', shape: [2, 3], data: bytesOf(Int32Array.from([1, 2, 3, 4, 5, 6])) }]);
  const ds = await loadDataset(p);
  assert.deepEqual([...(ds.x.data as BigInt64Array)], [1n, 2n, 3n, 4n, 5n, 6n]);

  const noY = join(dir, 'noy.safetensors');
  await writeSafetensors(noY, [{ name: 'x', dtype: 'F32', shape: [2, 2], data: bytesOf(new Float32Array(4)) }]);
  await assert.rejects(loadDataset(noY), { code: 'invalid-input', message: /only token datasets/ });

  const badY = join(dir, 'bady.safetensors');
  await writeSafetensors(badY, [
    { name: 'x', dtype: 'F32', shape: [2, 2], data: bytesOf(new Float32Array(4)) },
    { name: 'y', dtype: 'I64', shape: [3], data: bytesOf(new BigInt64Array(3)) },
  ]);
  await assert.rejects(loadDataset(badY), { code: 'invalid-input', message: /'y' must be \[2\]/ });

  const negY = join(dir, 'negy.safetensors');
  await writeSafetensors(negY, [
    { name: 'x', dtype: 'F32', shape: [1, 2], data: bytesOf(new Float32Array(2)) },
    { name: 'y', dtype: 'I64', shape: [1], data: bytesOf(BigInt64Array.of(-1n)) },
  ]);
  await assert.rejects(loadDataset(negY), { code: 'invalid-input', message: /negative/ });

  const noX = join(dir, 'nox.safetensors');
  await writeSafetensors(noX, [{ name: 'inputs', dtype: 'F32', shape: [1, 2], data: bytesOf(new Float32Array(2)) }]);
  await assert.rejects(loadDataset(noX), { code: 'invalid-input', message: /no tensor 'x' \(has: inputs\)/ });
  await assert.rejects(loadDataset(join(dir, 'missing.safetensors')), { code: 'not-found' });
});
