import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkShardIndex, parseWeightMap, readShardIndex } from '../../src/io/shard-index.js';
import type { TensorReader } from '../../src/io/types.js';
import { isCode } from '../helpers/errors.js';

test('readShardIndex: shards in first-appearance order beside the index; bad indexes are clear errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-shard-index-'));
  const index = join(dir, 'pytorch_model.bin.index.json');
  const write = (v: string) => writeFile(index, v);
  try {
    await write(JSON.stringify({ metadata: {}, weight_map: { a: 's2.bin', b: 's1.bin', c: 's2.bin' } }));
    const r = await readShardIndex(index);
    assert.deepEqual(r.shards, [join(dir, 's2.bin'), join(dir, 's1.bin')]);
    assert.deepEqual(
      [...r.weightMap],
      [
        ['a', join(dir, 's2.bin')],
        ['b', join(dir, 's1.bin')],
        ['c', join(dir, 's2.bin')],
      ],
    );

    const reader = { tensors: [{ name: 'a' }, { name: 'b' }] } as unknown as TensorReader;
    assert.throws(
      () => checkShardIndex(index, r, reader),
      isCode('corrupt-file', /1 tensor\(s\) that no shard holds, e\.g\. "c" \(in .*s2\.bin\)/),
    );
    checkShardIndex(index, { shards: r.shards, weightMap: new Map([['a', join(dir, 's2.bin')]]) }, reader);

    await write('{"weight_map": {"a": "s1.bin"'); // truncated
    await assert.rejects(readShardIndex(index), isCode('corrupt-file', /not valid JSON/));
    await write(JSON.stringify({ weight_map: ['s1.bin'] }));
    await assert.rejects(readShardIndex(index), isCode('corrupt-file', /no "weight_map" object/));
    await write(JSON.stringify({ weight_map: {} }));
    await assert.rejects(readShardIndex(index), isCode('corrupt-file', /lists no tensors/));
    for (const bad of ['../up.bin', '/abs.bin', '', 3]) {
      await write(JSON.stringify({ weight_map: { a: bad } }));
      await assert.rejects(readShardIndex(index), isCode('corrupt-file', /invalid shard/));
    }
    await assert.rejects(readShardIndex(join(dir, 'absent.index.json')), isCode('not-found', /no such file/));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseWeightMap: relative shard names as written (the hub download uses it before any file exists)', () => {
  assert.deepEqual(
    [...parseWeightMap({ weight_map: { a: 'sub/s1.bin', b: 's2.bin' } }, 'org/m/index.json')],
    [
      ['a', 'sub/s1.bin'],
      ['b', 's2.bin'],
    ],
  );
  assert.throws(
    () => parseWeightMap(null, 'org/m/index.json'),
    isCode('corrupt-file', /^org\/m\/index\.json: index has no "weight_map" object$/),
  );
  assert.throws(() => parseWeightMap({ weight_map: { a: 'x\\..\\y' } }, 'w'), isCode('corrupt-file', /invalid shard/));
});
