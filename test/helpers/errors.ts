/** assert.rejects/throws predicate: a WeightscopeError with this code (and, optionally, a message matching `re`). */
import assert from 'node:assert/strict';
import { WeightscopeError } from '../../src/errors.js';

export function isCode(code: string, re?: RegExp): (e: unknown) => boolean {
  return (e: unknown): boolean => {
    assert.ok(e instanceof WeightscopeError, `expected WeightscopeError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };
}
