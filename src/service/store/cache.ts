/**
 * A worker node's local cache of the shared blob store (WEIGHTSCOPE_CACHE), content-addressed and bounded
 * (least recently used blobs go first, never one a running job holds). A blob is fetched once per node: copied
 * and checked against its sha256 (or hard-linked from a mounted `file://` store on the same file system). Models
 * and datasets are laid out from it as the readers expect (models/<id>/<name>, datasets/<id>/data.safetensors,
 * hard links, rebuilt at will). One process owns a cache folder (a lock file with its pid).
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, type Stats } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { meteredCopy } from './blobs.js';
import { DATASET_FILE } from './layout.js';
import type { SharedBlobs } from './shared-blobs.js';

export interface CachedFile {
  name: string;
  sha256: string;
}

/** Blobs a job holds; release() lets them be evicted again (and evicts what is over the bound). */
export interface Lease {
  release(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class BlobCache {
  /** sha256 → bytes, least recently used first. */
  private readonly lru = new Map<string, number>();
  private readonly pins = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<void>>();
  /** Laid-out folders (models/<id>, datasets/<id>) and the blobs they link. */
  private readonly layouts = new Map<string, string[]>();
  private readonly inflightLayouts = new Map<string, Promise<string>>();
  private bytes = 0;
  fetched = 0;

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly source: SharedBlobs,
  ) {}

  static async open(dir: string, maxBytes: number, source: SharedBlobs): Promise<BlobCache> {
    const c = new BlobCache(dir, maxBytes, source);
    await mkdir(dir, { recursive: true });
    await c.lock();
    // Layouts and scratch folders are cheap to rebuild; staged downloads of a dead process are garbage.
    for (const sub of ['models', 'datasets', 'jobs', 'tmp']) await rm(join(dir, sub), { recursive: true, force: true });
    await mkdir(join(dir, 'blobs'), { recursive: true });
    await mkdir(join(dir, 'tmp'), { recursive: true });
    const found: { sha: string; st: Stats }[] = [];
    for (const name of await readdir(join(dir, 'blobs'))) {
      const st = await stat(join(dir, 'blobs', name)).catch(() => null);
      if (st && /^[0-9a-f]{64}$/.test(name)) found.push({ sha: name, st });
    }
    for (const f of found.sort((a, b) => a.st.mtimeMs - b.st.mtimeMs)) c.remember(f.sha, f.st.size);
    await c.evict();
    return c;
  }

  private get lockPath(): string {
    return join(this.dir, 'lock');
  }

  private async lock(): Promise<void> {
    for (let i = 0; i < 2; i++) {
      try {
        const h = await open(this.lockPath, 'wx');
        await h.writeFile(String(process.pid));
        await h.close();
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const pid = Number((await readFile(this.lockPath, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
          throw new WeightscopeError(
            'invalid-input',
            `the cache ${this.dir} is in use by process ${pid}: give each worker process its own WEIGHTSCOPE_CACHE`,
          );
        }
        await unlink(this.lockPath).catch(() => undefined);
      }
    }
    throw new WeightscopeError('invalid-input', `cannot lock the cache ${this.dir}`);
  }

  async close(): Promise<void> {
    await unlink(this.lockPath).catch(() => undefined);
  }

  get size(): number {
    return this.bytes;
  }

  private remember(sha: string, bytes: number): void {
    const had = this.lru.get(sha);
    if (had !== undefined) this.lru.delete(sha);
    else this.bytes += bytes;
    this.lru.set(sha, bytes);
  }

  blobPath(sha: string): string {
    return join(this.dir, 'blobs', sha);
  }

  /** Holds these blobs (fetching what is missing) until the lease is released. */
  async lease(shas: readonly string[]): Promise<Lease> {
    const unique = [...new Set(shas)];
    for (const s of unique) this.pins.set(s, (this.pins.get(s) ?? 0) + 1);
    let released = false;
    const lease = {
      release: async () => {
        if (released) return;
        released = true;
        for (const s of unique) {
          const n = (this.pins.get(s) ?? 1) - 1;
          if (n <= 0) this.pins.delete(s);
          else this.pins.set(s, n);
        }
        await this.evict();
      },
    };
    try {
      for (const s of unique) await this.fetch(s);
    } catch (e) {
      await lease.release();
      throw e;
    }
    return lease;
  }

  private async fetch(sha: string): Promise<void> {
    const size = this.lru.get(sha);
    if (size !== undefined) {
      this.remember(sha, size);
      void utimes(this.blobPath(sha), new Date(), new Date()).catch(() => undefined);
      return;
    }
    let p = this.inflight.get(sha);
    if (!p) {
      p = this.download(sha).finally(() => this.inflight.delete(sha));
      this.inflight.set(sha, p);
    }
    await p;
  }

  private async download(sha: string): Promise<void> {
    const tmp = join(this.dir, 'tmp', randomUUID());
    const local = this.source.localPath?.(sha);
    let bytes = -1;
    if (local) {
      // Same file system as a mounted store: a link costs nothing (content-addressed files are never rewritten).
      bytes = await link(local, tmp).then(
        async () => (await stat(tmp)).size,
        () => -1,
      );
    }
    if (bytes < 0) {
      let got: { sha256: string; bytes: number };
      const body = await this.source.read(sha);
      try {
        got = await meteredCopy(body, createWriteStream(tmp), { limit: Number.MAX_SAFE_INTEGER, used: 0 });
      } catch (e) {
        body.destroy();
        await rm(tmp, { force: true });
        throw e;
      }
      if (got.sha256 !== sha) {
        await rm(tmp, { force: true });
        throw new WeightscopeError('corrupt-file', `blob ${sha} in the shared store has different content (sha256 ${got.sha256})`);
      }
      bytes = got.bytes;
    }
    await rename(tmp, this.blobPath(sha));
    this.fetched++;
    this.remember(sha, bytes);
    await this.evict();
  }

  /** Drops least recently used blobs that no job holds (and the layouts linking them) until under maxBytes. */
  private async evict(): Promise<void> {
    for (const [sha, bytes] of [...this.lru]) {
      if (this.bytes <= this.maxBytes) return;
      if (this.pins.has(sha) || this.inflight.has(sha)) continue;
      this.lru.delete(sha);
      this.bytes -= bytes;
      for (const [dir, shas] of [...this.layouts]) {
        if (shas.includes(sha)) {
          this.layouts.delete(dir);
          await rm(dir, { recursive: true, force: true });
        }
      }
      await rm(this.blobPath(sha), { force: true });
    }
  }

  private layout(dir: string, files: readonly CachedFile[]): Promise<string> {
    if (this.layouts.has(dir)) return Promise.resolve(dir);
    let p = this.inflightLayouts.get(dir);
    if (!p) {
      p = this.buildLayout(dir, files).finally(() => this.inflightLayouts.delete(dir));
      this.inflightLayouts.set(dir, p);
    }
    return p;
  }

  private async buildLayout(dir: string, files: readonly CachedFile[]): Promise<string> {
    const tmp = join(this.dir, 'tmp', randomUUID());
    for (const f of files) {
      const dest = join(tmp, f.name);
      await mkdir(dirname(dest), { recursive: true });
      await link(this.blobPath(f.sha256), dest);
    }
    await rm(dir, { recursive: true, force: true });
    await mkdir(dirname(dir), { recursive: true });
    await rename(tmp, dir);
    this.layouts.set(
      dir,
      files.map((f) => f.sha256),
    );
    return dir;
  }

  /** A model's folder (files under their names); its blobs must be leased. */
  model(id: string, files: readonly CachedFile[]): Promise<string> {
    return this.layout(join(this.dir, 'models', id), files);
  }

  /** A dataset's folder (its one file is the blob named by its id); the blob must be leased. */
  dataset(id: string): Promise<string> {
    return this.layout(join(this.dir, 'datasets', id), [{ name: DATASET_FILE, sha256: id }]);
  }

  /** A fresh scratch folder for one job (removed by the caller when the job is over). */
  async scratch(jobId: string): Promise<string> {
    const d = join(this.dir, 'jobs', `${jobId}-${randomUUID().slice(0, 8)}`);
    await mkdir(d, { recursive: true });
    return d;
  }
}
