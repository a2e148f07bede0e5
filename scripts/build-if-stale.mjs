#!/usr/bin/env node
// `npm start`'s prestart: compile TypeScript only when a source changed since the last build (tsc takes 10+ s
// even with nothing to do). The stamp dist/.build-stamp records the build; any file under src/, tsconfig.json or
// package.json newer than it means stale.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The newest modification time (ms) among these files and, recursively, the files of these folders. */
export function newestMtime(paths) {
  let newest = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) newest = Math.max(newest, newestMtime(readdirSync(p).map((n) => join(p, n))));
    else newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

/** Stale when there is no stamp, or a source is newer than it. */
export function isStale(root) {
  const stamp = join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp)) return true;
  return newestMtime([join(root, 'src'), join(root, 'tsconfig.json'), join(root, 'package.json')]) > statSync(stamp).mtimeMs;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  if (!isStale(root)) process.exit(0);
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], {
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
  // Stamped with the time the build started: a source saved during the build still counts as newer.
  writeFileSync(join(root, 'dist', '.build-stamp'), '');
  const t = new Date(started);
  const { utimesSync } = await import('node:fs');
  utimesSync(join(root, 'dist', '.build-stamp'), t, t);
}
