import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgsOrPrintHelp } from '../../src/cli/args.js';
import { isWeightscopeError } from '../../src/errors.js';
import { captureStdout } from '../helpers/stdout.js';

const OPTIONS = { data: { type: 'string' }, json: { type: 'boolean' } } as const;

test('parseArgsOrPrintHelp: -h and --help print the help and give null, before the other flags are checked', () => {
  for (const argv of [['-h'], ['--help'], ['m.onnx', '--data', 'd', '--help']]) {
    const { result, out } = captureStdout(() => parseArgsOrPrintHelp(argv, OPTIONS, 'USAGE', 'the help\n'));
    assert.equal(result, null);
    assert.equal(out, 'the help\n');
  }
});

test('parseArgsOrPrintHelp: flags and positionals pass through; an unknown flag is a usage error naming it', () => {
  const { result, out } = captureStdout(() => parseArgsOrPrintHelp(['a', '--data', 'd.st', '--json'], OPTIONS, 'USAGE', 'H'));
  assert.equal(out, '');
  assert.deepEqual(result?.positionals, ['a']);
  assert.equal(result?.values.data, 'd.st');
  assert.equal(result?.values.json, true);
  assert.throws(
    () => parseArgsOrPrintHelp(['--chunk', '3'], OPTIONS, 'USAGE', 'H'),
    (e) => isWeightscopeError(e) && e.code === 'invalid-input' && e.message === 'unknown option --chunk (usage: USAGE)',
  );
});
