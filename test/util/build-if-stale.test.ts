/** `npm start` compiles only when a source changed since the last build (scripts/build-if-stale.mjs). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs script without declarations
import { isStale } from '../../scripts/build-if-stale.mjs';

test('stale without a stamp, fresh after it, stale again once a source is newer than the stamp', () => {
  const root = mkdtempSync(join(tmpdir(), 'ws-build-'));
  try {
    mkdirSync(join(root, 'src'), { recursive: true });
    mkdirSync(join(root, 'dist'), { recursive: true });
    const src = join(root, 'src', 'a.ts');
    writeFileSync(src, 'export {};');
    writeFileSync(join(root, 'tsconfig.json'), '{}');
    assert.equal(isStale(root), true);
    const stamp = join(root, 'dist', '.build-stamp');
    writeFileSync(stamp, '');
    const t0 = new Date(Date.now() - 60_000);
    for (const p of [src, join(root, 'tsconfig.json')]) utimesSync(p, t0, t0);
    assert.equal(isStale(root), false);
    utimesSync(src, new Date(), new Date(Date.now() + 1000));
    assert.equal(isStale(root), true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
