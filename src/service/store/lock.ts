/**
 * One embedded-mode server per data folder. A second one would requeue the first one's running jobs (recover())
 * and delete its uploads in progress (clearTmp). The lock is an exclusive SQLite lock (an fcntl lock underneath) on
 * $DATA/weightscope.lock, held for the life of the connection: the kernel drops it when the process dies, kill -9
 * included, so there is never a stale lock to clean up.
 */
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { WeightscopeError } from '../../errors.js';

export interface DataLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataLock {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'weightscope.lock'));
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = DELETE');
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock, which locking_mode EXCLUSIVE keeps until the connection closes.
    db.exec('CREATE TABLE IF NOT EXISTS held (since INTEGER); DELETE FROM held;');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
    throw new WeightscopeError(
      'invalid-input',
      `another weightscope server${holder(dataDir)} is using ${dataDir} (WEIGHTSCOPE_DATA); stop it or give this one its own folder`,
    );
  }
  // Who holds it, for the message above (the lock itself keeps readers of the lock database out).
  writeFileSync(join(dataDir, OWNER), `${process.pid} ${hostname()}\n`);
  return { release: () => db.close() };
}

const OWNER = 'weightscope.lock.owner';

function holder(dataDir: string): string {
  try {
    const [pid, host] = readFileSync(join(dataDir, OWNER), 'utf8').trim().split(' ');
    return ` (pid ${pid}${host && host !== hostname() ? ` on ${host}` : ''})`;
  } catch {
    return '';
  }
}
