import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readOnnxModel } from '../../src/io/onnx-model.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import {
  axpy,
  clone,
  combine,
  dot,
  flatten,
  floatInitializerNames,
  loadParams,
  norm,
  scale,
  storeParams,
  unflatten,
  zerosLike,
} from '../../src/runtime/params.js';
import { fixture } from '../helpers/fixtures.js';

test('params: model_a initializers equal the safetensors checkpoint; store/load round-trips', async () => {
  const path = fixture('fmnist-backdoor', 'model_a.onnx');
  const model = await readOnnxModel(path);
  assert.deepEqual(floatInitializerNames(model), [
    'conv1.weight',
    'conv1.bias',
    'conv2.weight',
    'conv2.bias',
    'fc1.weight',
    'fc1.bias',
    'fc2.weight',
    'fc2.bias',
  ]);
  const { specs, values } = await loadParams(model, fixture('fmnist-backdoor'));
  assert.deepEqual(specs[0], { name: 'conv1.weight', dims: [8, 1, 3, 3], size: 72 });
  assert.equal(
    specs.reduce((s, p) => s + p.size, 0),
    52138,
  );
  const st = await openSafetensors(fixture('fmnist-backdoor', 'model_a.safetensors'));
  for (const s of specs) assert.deepEqual([...values.get(s.name)!], [...(await st.readFloat64(s.name))], s.name);
  await st.close();
  const doubled = new Map([...values].map(([k, v]) => [k, v.map((x) => 2 * x)]));
  const back = await loadParams(storeParams(model, doubled), '.');
  assert.deepEqual([...back.values.get('fc2.bias')!], [...doubled.get('fc2.bias')!]);
  await assert.rejects(loadParams(model, '.', ['nope']), { code: 'not-found' });
});

test('params: flatten/unflatten and vector math are exact', () => {
  const specs = [
    { name: 'a', dims: [2], size: 2 },
    { name: 'b', dims: [1, 3], size: 3 },
  ];
  const x = new Map([
    ['a', Float32Array.of(1, 2)],
    ['b', Float32Array.of(3, 4, 5)],
  ]);
  const y = new Map([
    ['a', Float32Array.of(-1, 0.5)],
    ['b', Float32Array.of(2, 0, 1)],
  ]);
  assert.deepEqual([...flatten(specs, x)], [1, 2, 3, 4, 5]);
  assert.deepEqual(unflatten(specs, [1, 2, 3, 4, 5]), x);
  assert.equal(dot(x, y), -1 + 1 + 6 + 0 + 5);
  assert.equal(norm(x), Math.sqrt(55));
  const z = clone(x);
  axpy(2, y, z);
  assert.deepEqual([...z.get('a')!, ...z.get('b')!], [-1, 3, 7, 4, 7]);
  assert.deepEqual([...x.get('a')!], [1, 2]); // clone did not alias
  scale(0.5, z);
  assert.deepEqual([...z.get('a')!], [-0.5, 1.5]);
  assert.deepEqual([...zerosLike(x).get('b')!], [0, 0, 0]);
  const mid = combine([0.25, 0.5, 0.25], [x, y, x]);
  assert.deepEqual([...mid.get('b')!], [2.5, 2, 3]);
  assert.throws(() => flatten(specs, new Map([['a', Float32Array.of(1, 2)]])), { code: 'invalid-input', message: /missing 'b'/ });
  assert.throws(() => unflatten(specs, [1, 2]), { code: 'shape-mismatch' });
  assert.throws(
    () =>
      dot(
        x,
        new Map([
          ['a', Float32Array.of(1)],
          ['b', Float32Array.of(1, 2, 3)],
        ]),
      ),
    { code: 'shape-mismatch' },
  );
});
