/**
 * The per-layer cache ($WEIGHTSCOPE_DATA/cache/layers.db): a layer's spectrum (its eigenvalues per slice, or why its
 * values cannot be analysed) keyed by the sha256 of the tensor's stored bytes, how they are turned into matrices
 * (dtype, shape, layer type, dequantisation scale), the eigen backend, and the weightscope version. An interrupted
 * analysis restarted with the same options therefore recomputes no finished layer, and re-analysing an unchanged
 * model solves no eigenproblem. The fits are recomputed from the cached spectrum (milliseconds per layer), so a
 * change of fit options reuses it too.
 *
 * Hashing a 70B model's 140 GB would itself take minutes, so a file range's hash is remembered under its
 * fingerprint (real path, device, inode, size, mtime, offset, length), as git's index does: an unchanged file is
 * not read again. Size-bounded (least recently used entries go first); SQLite in WAL mode, so concurrent analyses
 * (the service's jobs) share it safely.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { TensorLocation } from '../io/types.js';
import type { LayerJob } from '../layers/esd.js';

/** Bump when what a spectrum means changes (slicing, scaling, Gram rules), so old entries stop matching. */
const SPECTRUM_FORMAT = 1;

/** Default bound: 1 GiB (a 70B model's spectra take ~40 MB; the bound is for many models). */
export const DEFAULT_CACHE_MAX_BYTES = 1 << 30;

function packageVersion(): string {
  try {
    // src/report and dist/report both sit two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const WEIGHTSCOPE_VERSION = packageVersion();

export interface CachedSpectrum {
  slices: Float64Array[] | null;
  problem: string | null;
}

/** The cache key of a layer's spectrum. */
export function spectrumKey(sha256: string, job: Pick<LayerJob, 'dtype' | 'shape' | 'layer_type' | 'scale' | 'backend'>): string {
  const scale = job.scale
    ? job.scale.kind === 'tensor'
      ? { tensor: job.scale.value }
      : {
          [job.scale.kind]: createHash('sha256')
            .update(new Uint8Array(job.scale.values.buffer, job.scale.values.byteOffset, job.scale.values.byteLength))
            .digest('hex'),
          ...(job.scale.kind === 'blocks' ? { br: job.scale.br, bc: job.scale.bc } : {}),
        }
    : null;
  const what = {
    v: SPECTRUM_FORMAT,
    weightscope: WEIGHTSCOPE_VERSION,
    sha256,
    dtype: job.dtype,
    shape: job.shape,
    layer_type: job.layer_type,
    scale,
    backend: job.backend,
  };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex');
}

/** A file range's identity as far as a stat can tell (see the module comment). */
export async function fingerprint(loc: TensorLocation): Promise<string> {
  const real = await realpath(loc.path);
  const s = await stat(real, { bigint: true });
  return `${real}|${s.dev}|${s.ino}|${s.size}|${s.mtimeNs}|${loc.offset}|${loc.length}`;
}

function encode(c: CachedSpectrum): Buffer {
  // [u32 json length][json {problem, lengths}][float64 values…], values 8-byte aligned after the header
  const json = Buffer.from(JSON.stringify({ problem: c.problem, lengths: c.slices ? c.slices.map((s) => s.length) : null }));
  const head = 4 + json.length;
  const pad = (8 - (head % 8)) % 8;
  const total = (c.slices ?? []).reduce((s, a) => s + a.length, 0);
  const out = Buffer.alloc(head + pad + 8 * total);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  let o = head + pad;
  for (const s of c.slices ?? []) {
    Buffer.from(s.buffer, s.byteOffset, s.byteLength).copy(out, o);
    o += s.byteLength;
  }
  return out;
}

function decode(b: Buffer): CachedSpectrum | null {
  try {
    const n = b.readUInt32LE(0);
    const meta = JSON.parse(b.subarray(4, 4 + n).toString('utf8')) as { problem: string | null; lengths: number[] | null };
    const head = 4 + n;
    let o = head + ((8 - (head % 8)) % 8);
    if (!meta.lengths) return { slices: null, problem: meta.problem };
    const slices = meta.lengths.map((len) => {
      const a = new Float64Array(len);
      new Uint8Array(a.buffer).set(b.subarray(o, o + 8 * len));
      o += 8 * len;
      return a;
    });
    if (o !== b.length) return null;
    return { slices, problem: null };
  } catch {
    return null; // a damaged entry is a miss, not an error
  }
}

export class LayerCache {
  readonly #db: BetterSqlite3.Database;
  readonly #maxBytes: number;
  /** Spectra read and written through this handle, for reports and tests. */
  hits = 0;
  misses = 0;

  private constructor(db: BetterSqlite3.Database, maxBytes: number) {
    this.#db = db;
    this.#maxBytes = maxBytes;
  }

  static open(dir: string, maxBytes = Number(process.env.WEIGHTSCOPE_CACHE_MAX_BYTES ?? DEFAULT_CACHE_MAX_BYTES)): LayerCache {
    mkdirSync(dir, { recursive: true });
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
    const db = new Database(join(dir, 'layers.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 10000');
    db.exec(`
      CREATE TABLE IF NOT EXISTS spectra (key TEXT PRIMARY KEY, value BLOB NOT NULL, bytes INTEGER NOT NULL, used INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS spectra_by_use ON spectra(used);
      CREATE TABLE IF NOT EXISTS fingerprints (fp TEXT PRIMARY KEY, sha256 TEXT NOT NULL, used INTEGER NOT NULL);
    `);
    return new LayerCache(db, Number.isFinite(maxBytes) && maxBytes > 0 ? maxBytes : DEFAULT_CACHE_MAX_BYTES);
  }

  knownHash(fp: string): string | null {
    const row = this.#db.prepare('SELECT sha256 FROM fingerprints WHERE fp = ?').get(fp) as { sha256: string } | undefined;
    return row?.sha256 ?? null;
  }

  rememberHash(fp: string, sha256: string): void {
    this.#db.prepare('INSERT OR REPLACE INTO fingerprints (fp, sha256, used) VALUES (?, ?, ?)').run(fp, sha256, Date.now());
  }

  get(key: string): CachedSpectrum | null {
    const row = this.#db.prepare('SELECT value FROM spectra WHERE key = ?').get(key) as { value: Buffer } | undefined;
    const v = row ? decode(row.value) : null;
    if (v) {
      this.hits++;
      this.#db.prepare('UPDATE spectra SET used = ? WHERE key = ?').run(Date.now(), key);
    } else {
      this.misses++;
    }
    return v;
  }

  put(key: string, value: CachedSpectrum): void {
    const b = encode(value);
    if (b.length > this.#maxBytes) return;
    this.#db.prepare('INSERT OR REPLACE INTO spectra (key, value, bytes, used) VALUES (?, ?, ?, ?)').run(key, b, b.length, Date.now());
    this.#evict();
  }

  /** Total bytes of stored spectra. */
  bytes(): number {
    return (this.#db.prepare('SELECT COALESCE(SUM(bytes), 0) AS n FROM spectra').get() as { n: number }).n;
  }

  /** Least recently used spectra out until the total is within 90% of the bound; fingerprints stay bounded with them. */
  #evict(): void {
    let total = this.bytes();
    if (total <= this.#maxBytes) return;
    const target = 0.9 * this.#maxBytes;
    const old = this.#db.prepare('SELECT key, bytes FROM spectra ORDER BY used ASC').iterate() as IterableIterator<{
      key: string;
      bytes: number;
    }>;
    const drop: string[] = [];
    for (const r of old) {
      if (total <= target) break;
      drop.push(r.key);
      total -= r.bytes;
    }
    const del = this.#db.prepare('DELETE FROM spectra WHERE key = ?');
    this.#db.transaction(() => {
      for (const k of drop) del.run(k);
      // Fingerprints are ~200 bytes each; keep at most 100,000 (a few hundred 70B models).
      this.#db
        .prepare('DELETE FROM fingerprints WHERE fp IN (SELECT fp FROM fingerprints ORDER BY used DESC LIMIT -1 OFFSET 100000)')
        .run();
    })();
  }

  close(): void {
    this.#db.close();
  }
}
