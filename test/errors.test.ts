import test from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { formatZodError } from '../src/errors.js';

test('formatZodError: one "path: message" per issue, "; "-joined; a root issue has no path', () => {
  const r = z.object({ a: z.number(), b: z.object({ c: z.string().min(2, 'too short') }) }).safeParse({ a: 'x', b: { c: 'y' } });
  assert.ok(!r.success);
  assert.match(formatZodError(r.error), /^a: [^;]+; b\.c: too short$/);
  const root = z.number({ error: 'need a number' }).safeParse('1');
  assert.ok(!root.success);
  assert.equal(formatZodError(root.error), 'need a number');
  assert.equal(formatZodError({ issues: [{ path: ['x', 0], message: 'm' }] }), 'x.0: m');
});
