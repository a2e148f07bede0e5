/**
 * The one rule for tests that need a system package (LAPACK/OpenBLAS, Chromium, …): where it is missing the test
 * skips with a loud warning on stderr, except under CI=true, where CI installs the package and its absence is a broken
 * setup — the test fails instead of skipping.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

export function skipMissingSystemPackage(t: Pick<TestContext, 'name' | 'skip'>, what: string, env: NodeJS.ProcessEnv = process.env): void {
  assert.notEqual(env.CI, 'true', `${what} (CI=true: tests may not skip for a missing system package)`);
  console.warn(`\n*** SKIPPED test "${t.name}": ${what} ***\n`);
  t.skip(what);
}
