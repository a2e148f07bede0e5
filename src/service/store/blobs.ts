/**
 * Content-addressed blob store in a folder: <root>/blobs/<sha256> (root = $WEIGHTSCOPE_DATA, or the mount of a
 * `file:///path` shared store). Uploads stream to <root>/tmp/<uuid>.part while being hashed and counted; over the
 * limit the part file is removed and a 'too-large' error thrown. Nothing reaches blobs/ until commit(), which
 * renames (atomic on one file system) or drops the part if that blob already exists.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { WeightscopeError } from '../../errors.js';
import type { Db } from './db.js';
import { Mutex } from './mutex.js';

export interface IngestedPart {
  /** Where the staged bytes are in their store: a file for folder stores, an object key for S3. */
  tmpPath: string;
  sha256: string;
  bytes: number;
}

/** Optional hooks of an ingest: a stop check per chunk (a cancelled import), and names for the limit's message. */
export interface IngestHooks {
  stop?: () => Error | null;
  what?: string;
  setting?: string;
}

/** Bytes allowed for one request and bytes seen so far, shared by all files of a multipart upload. */
export interface UploadBudget {
  readonly limit: number;
  used: number;
}

/** Bytes read and dropped past an upload's limit before the connection is cut (see ingest). */
export const DRAIN_BYTES = 1024 * 1024;

/**
 * Copies `source` into `out`, hashing and counting its bytes against `budget` (every blob store's uploads, and
 * worker caches). Past the limit a 'too-large' error is thrown; up to DRAIN_BYTES more are read and dropped first,
 * so a client that overshoots a little still reads its 413, and past those reading stops (the caller closes the
 * connection) — an endless upload is never drained. The source is left paused, not destroyed, so the request can
 * be answered; `out` is destroyed on failure.
 */
export function meteredCopy(
  source: Readable,
  out: Writable,
  budget: UploadBudget,
  onBytes?: (n: number) => void,
  hooks: IngestHooks = {},
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  let over = false;
  const tooLarge = (): WeightscopeError =>
    new WeightscopeError(
      'too-large',
      `the ${hooks.what ?? 'upload'} exceeds the limit of ${budget.limit} bytes (${hooks.setting ?? 'WEIGHTSCOPE_MAX_UPLOAD'})`,
      { limit: budget.limit },
    );
  return new Promise((resolve, reject) => {
    let settled = false;
    const detach = (): void => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', fail);
    };
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      detach();
      source.pause();
      out.destroy();
      reject(e);
    };
    const onData = (chunk: Buffer): void => {
      const stop = hooks.stop?.();
      if (stop) return fail(stop);
      bytes += chunk.length;
      budget.used += chunk.length;
      onBytes?.(chunk.length);
      if (budget.used > budget.limit) {
        over = true;
        if (budget.used > budget.limit + DRAIN_BYTES) fail(tooLarge());
        return;
      }
      hash.update(chunk);
      if (!out.write(chunk)) {
        source.pause();
        out.once('drain', () => source.resume());
      }
    };
    const onEnd = (): void => {
      detach();
      out.end(() => {
        if (settled) return;
        if (over) fail(tooLarge());
        else {
          settled = true;
          resolve({ sha256: hash.digest('hex'), bytes });
        }
      });
    };
    out.on('error', fail);
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', fail);
  });
}

export class BlobStore {
  readonly blobDir: string;
  readonly tmpDir: string;
  /**
   * Check-then-commit steps of every store that refers to blobs (model and dataset adds, deletes) run under it, so
   * two identical uploads are one row and a delete never removes a blob another add is committing.
   */
  readonly exclusive = new Mutex();

  constructor(dataDir: string) {
    this.blobDir = join(dataDir, 'blobs');
    this.tmpDir = join(dataDir, 'tmp');
    mkdirSync(this.blobDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
  }

  /** Part files left by a crash are garbage: nothing refers to them. */
  clearTmp(): void {
    for (const f of readdirSync(this.tmpDir)) void rm(join(this.tmpDir, f), { recursive: true, force: true });
  }

  path(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new WeightscopeError('invalid-input', `not a sha256: ${sha256}`);
    return join(this.blobDir, sha256);
  }

  has(sha256: string): boolean {
    return existsSync(this.path(sha256));
  }

  /** Streams `source` to a part file, hashed and counted against `budget` (meteredCopy); over the limit nothing is kept. */
  async ingest(source: Readable, budget: UploadBudget, onBytes?: (n: number) => void, hooks: IngestHooks = {}): Promise<IngestedPart> {
    const tmpPath = join(this.tmpDir, `${randomUUID()}.part`);
    const { sha256, bytes } = await meteredCopy(source, createWriteStream(tmpPath), budget, onBytes, hooks).catch(async (e: unknown) => {
      await rm(tmpPath, { force: true });
      throw e;
    });
    return { tmpPath, sha256, bytes };
  }

  /**
   * Copies an existing file into a part file, hashing on the way (with progress and a stop hook, for 140 GB
   * imports). Never a hard link: the blob would share the original's inode, and rewriting the original in place would
   * change a content-addressed blob under its name.
   */
  async ingestFile(path: string, onBytes?: (n: number) => void, hooks: IngestHooks = {}): Promise<IngestedPart> {
    // The bytes hashed are the bytes written, even if the original changes meanwhile.
    return this.ingest(createReadStream(path, { highWaterMark: 1 << 20 }), { limit: Number.MAX_SAFE_INTEGER, used: 0 }, onBytes, hooks);
  }

  async commit(part: IngestedPart): Promise<string> {
    const dest = this.path(part.sha256);
    if (existsSync(dest)) await unlink(part.tmpPath).catch(() => undefined);
    else await rename(part.tmpPath, dest);
    return dest;
  }

  /** Of these blobs (all when absent), removes those no model file and no dataset refers to. Call under `exclusive`. */
  async dropUnused(db: Db, shas?: readonly string[]): Promise<void> {
    if (shas?.length === 0) return;
    const unused = db.transaction(() => {
      const which = shas ? `sha256 IN (${shas.map(() => '?').join(',')}) AND` : '';
      const rows = db
        .prepare(
          `SELECT sha256 FROM blobs WHERE ${which} sha256 NOT IN (SELECT sha256 FROM model_files) AND sha256 NOT IN (SELECT id FROM datasets)`,
        )
        .all(...(shas ?? [])) as { sha256: string }[];
      const del = db.prepare('DELETE FROM blobs WHERE sha256 = ?');
      for (const r of rows) del.run(r.sha256);
      return rows.map((r) => r.sha256);
    })();
    for (const sha of unused) await rm(this.path(sha), { force: true });
  }

  /**
   * Blob files without a row (a crash between commit and the row's insert) and rows nothing refers to are
   * removed. Call at start, before serving.
   */
  async sweep(db: Db): Promise<number> {
    const rows = new Set((db.prepare('SELECT sha256 FROM blobs').all() as { sha256: string }[]).map((r) => r.sha256));
    let n = 0;
    for (const f of readdirSync(this.blobDir)) {
      if (rows.has(f)) continue;
      await rm(join(this.blobDir, f), { recursive: true, force: true });
      n++;
    }
    await this.dropUnused(db);
    return n;
  }

  async discard(parts: readonly IngestedPart[]): Promise<void> {
    await Promise.all(parts.map((p) => rm(p.tmpPath, { force: true })));
  }

  // What a shared store offers besides (SharedBlobs in shared-blobs.ts), for `file:///path` stores.

  async read(sha256: string): Promise<Readable> {
    const p = this.path(sha256);
    await stat(p).catch(() => {
      throw new WeightscopeError('not-found', `blob ${sha256} is not in the store`);
    });
    return createReadStream(p);
  }

  localPath(sha256: string): string {
    return this.path(sha256);
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true });
  }

  /** Marks a blob as just written (the sweep keeps recent blobs that no row names yet). */
  async touch(sha256: string): Promise<void> {
    const now = new Date();
    await utimes(this.path(sha256), now, now).catch(() => undefined);
  }

  async *list(): AsyncIterable<{ sha256: string; bytes: number; modified: number }> {
    for (const name of await readdir(this.blobDir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const st = await stat(join(this.blobDir, name)).catch(() => null);
      if (st) yield { sha256: name, bytes: st.size, modified: st.mtimeMs };
    }
  }

  /** Removes staged parts older than `ageMs` (uploads whose node died); several nodes share tmp/, so never all. */
  async sweepTmp(ageMs: number): Promise<number> {
    let n = 0;
    for (const name of await readdir(this.tmpDir)) {
      const st = await stat(join(this.tmpDir, name)).catch(() => null);
      if (st && Date.now() - st.mtimeMs >= ageMs) {
        await rm(join(this.tmpDir, name), { recursive: true, force: true });
        n++;
      }
    }
    return n;
  }
}
