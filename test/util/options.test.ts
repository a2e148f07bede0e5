import test from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { optionIssues, parseOptions } from '../../src/util/options.js';
import { WeightscopeError } from '../../src/errors.js';
import { usageError } from '../../src/cli/curve-flags.js';
import { parseConnectOptions } from '../../src/landscape/connectivity/connect.js';
import { parseRepairOptions } from '../../src/landscape/repair/repair.js';
import { parseHessianOptions } from '../../src/landscape/hessian/run.js';
import { parseAnalyzeOptions } from '../../src/report/options.js';
import { isCode } from '../helpers/errors.js';

test('parseOptions: defaults from undefined/null input; every bad option named in one invalid-input error', () => {
  const S = z.object({ n: z.number().int().default(3), name: z.string().optional() }).strict();
  assert.deepEqual(parseOptions(S, undefined, 'demo'), { n: 3 });
  assert.deepEqual(parseOptions(S, null, 'demo'), { n: 3 });
  assert.deepEqual(parseOptions(S, { n: 5, name: 'x' }, 'demo'), { n: 5, name: 'x' });
  assert.throws(
    () => parseOptions(S, { n: 1.5, name: 2 }, 'demo'),
    isCode('invalid-input', /^invalid demo options: n: [^;]+; name: [^;]+$/),
  );
});

test('the library option parsers share it: connect, repair, Hessian, analyze', () => {
  assert.throws(() => parseConnectOptions({ ts: [0, 1.5] }), isCode('invalid-input', /^invalid connect options: ts\.1: /));
  assert.throws(() => parseRepairOptions({ polishTries: 0 }), isCode('invalid-input', /^invalid repair options: polishTries: /));
  assert.throws(() => parseHessianOptions({ nope: 1 }), isCode('invalid-input', /^invalid Hessian options: .*nope/));
  assert.throws(() => parseAnalyzeOptions({ minEvals: -1 }), isCode('invalid-input', /^invalid analyze options: minEvals: /));
});

test('optionIssues: the structured issues for callers that relabel them (the CLI names its flag)', () => {
  let err: unknown;
  assert.throws(
    () => parseConnectOptions({ momentum: 1.5, batchSize: 0 }),
    (e) => ((err = e), true),
  );
  assert.deepEqual(
    optionIssues(err)?.map((i) => i.path),
    [['batchSize'], ['momentum']],
  );
  assert.equal(optionIssues(new WeightscopeError('invalid-input', 'x')), null);
  assert.equal(optionIssues(new Error('x')), null);
  assert.throws(() => usageError(err), isCode('invalid-input', /^--batch: /));
  const other = new WeightscopeError('not-found', 'no such file');
  assert.throws(
    () => usageError(other),
    (e) => e === other,
  );
});
