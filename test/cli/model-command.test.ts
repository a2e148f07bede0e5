import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { CommonFlags, leadingBatches, parseModelCommand } from '../../src/cli/model-command.js';
import { isWeightscopeError } from '../../src/errors.js';
import { captureStdout } from '../helpers/stdout.js';

const usageError = (text: RegExp) => (e: unknown) => isWeightscopeError(e) && e.code === 'invalid-input' && text.test(e.message);

test("parseModelCommand: exactly the schema's flags, booleans as switches, values validated, one model path", () => {
  const Flags = CommonFlags.extend({ out: z.string().min(1).optional() });
  const cmd = parseModelCommand(['m.onnx', '--data', 'd.st', '--batch', '8', '--untie', '--json', '--out', 'g.st'], Flags, 'U', 'H');
  assert.deepEqual(cmd, { modelPath: 'm.onnx', flags: { data: 'd.st', batch: 8, untie: true, json: true, out: 'g.st' } });
  // eval's schema leaves out --chunk and --untie: they are unknown options there
  const EvalFlags = CommonFlags.omit({ chunk: true, untie: true });
  assert.throws(
    () => parseModelCommand(['m.onnx', '--data', 'd', '--chunk', '4'], EvalFlags, 'U', 'H'),
    usageError(/^unknown option --chunk/),
  );
  assert.throws(() => parseModelCommand(['m.onnx', '--data', 'd', '--untie'], EvalFlags, 'U', 'H'), usageError(/^unknown option --untie/));
  assert.throws(
    () => parseModelCommand(['m.onnx', '--data', 'd', '--batch', '0'], Flags, 'U', 'H'),
    usageError(/^--batch needs a positive integer\. Usage: U$/),
  );
  assert.throws(
    () => parseModelCommand(['m.onnx'], Flags, 'U', 'H'),
    usageError(/^--data D \(or --text FILE --seq S\) is required\. Usage: U$/),
  );
  assert.throws(() => parseModelCommand(['--data', 'd'], Flags, 'U', 'H'), usageError(/^missing MODEL\. Usage: U$/));
  assert.throws(() => parseModelCommand(['a', 'b', '--data', 'd'], Flags, 'U', 'H'), usageError(/^expected one MODEL, got 2\. Usage: U$/));
  const { result, out } = captureStdout(() => parseModelCommand(['--help'], Flags, 'U', 'help text\n'));
  assert.equal(result, null);
  assert.equal(out, 'help text\n');
});

test('leadingBatches: the first n samples in chunks; more than the dataset is an error', () => {
  const ds = { n: 10, x: { type: 'float32' as const, data: Float32Array.from({ length: 20 }, (_, i) => i), dims: [10, 2] }, y: null };
  const first7 = leadingBatches(ds, 7, 3);
  assert.equal(first7.count, 7);
  const batches = first7.batches();
  assert.deepEqual(
    batches.map((b) => b.size),
    [3, 3, 1],
  );
  assert.deepEqual(Array.from(batches[2].x.data as Float32Array), [12, 13]);
  assert.equal(leadingBatches(ds, undefined, 4).count, 10);
  assert.throws(() => leadingBatches({ n: 10 }, 11, 4), usageError(/--batch 11 is more than the dataset's 10 samples/));
});
