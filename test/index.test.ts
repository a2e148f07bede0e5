import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze, AnalyzeOptionsSchema, WW_COLUMNS, WeightscopeError } from '../src/index.js';
import { openSafetensors } from '../src/io/safetensors.js';
import { fixture } from './helpers/fixtures.js';

test('library entry: analyze() on an open reader (left open), progress hook, options schema defaults', async () => {
  const reader = await openSafetensors(fixture('fmnist-hessian', 'mlp48.safetensors'));
  try {
    const seen: [number, number, string][] = [];
    const r = await analyze(reader, { fits: ['pl', 'exp'] }, (done, total, msg) => seen.push([done, total, msg]));
    assert.deepEqual(
      r.layers.map((l) => l.name),
      ['layers.0', 'layers.1'],
    );
    assert.equal(r.model.source, '<safetensors reader>');
    assert.equal(r.model.parameters, 784 * 48 + 48 + 48 * 10 + 10);
    assert.ok(r.layers.every((l) => l.exp && !l.etpl));
    assert.deepEqual(seen.at(-1)?.slice(0, 2), [2, 2]);
    assert.equal((await reader.readFloat64('layers.1.bias')).length, 10, 'reader still open');
  } finally {
    await reader.close();
  }
  assert.deepEqual(AnalyzeOptionsSchema.parse({}), {
    fits: ['pl', 'etpl', 'exp'],
    plVariant: 'ww',
    minEvals: 10,
    maxEvals: 15000,
    maxN: 50000,
    eigenBackend: 'auto',
    keepEigenvalues: false,
    allLayers: false,
  });
  assert.equal(WW_COLUMNS.length, 32);
  assert.ok(new WeightscopeError('invalid-input', 'x') instanceof Error);
});

test('library entry: the gradient engine evaluates fmnist-backdoor model_a at its reference clean accuracy', async () => {
  const lib = await import('../src/index.js');
  const engine = await lib.createEngine(fixture('fmnist-backdoor', 'model_a.onnx'), { loss: 'classification' });
  const ds = await lib.loadDataset(fixture('fmnist-backdoor', 'test_clean.safetensors'));
  const r = await engine.evaluate(engine.initialParams(), ds, 500);
  assert.equal(r.n, 2000);
  assert.equal(r.accuracy, 0.8725); // reference.json models.model_a.clean_acc
  for (const f of [lib.runHessian, lib.repair, lib.connect, lib.compareFiles, lib.rankModels, lib.openCheckpoint, lib.buildHvpGraph]) {
    assert.equal(typeof f, 'function');
  }
});
