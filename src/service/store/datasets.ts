/**
 * Datasets for the Hessian and comparison jobs: a safetensors file with `x` (and `y` for classification), stored
 * like models — content-addressed blobs (same bytes twice = one dataset, id = sha256), materialised as
 * $DATA/datasets/<id>/data.safetensors. Validated with the runtime's own loader (in a bounded worker thread, see
 * inspect.ts) before anything is kept.
 */
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import type { BlobStore, IngestedPart } from './blobs.js';
import type { Db } from './db.js';
import { DATASET_FILE } from './layout.js';
import type { DatasetInspector } from './inspect.js';

export interface DatasetRecord {
  id: string;
  name: string;
  bytes: number;
  /** Number of samples (rows of x). */
  samples: number;
  x_shape: number[];
  x_dtype: 'float32' | 'int64';
  /** true: classification data (x, y); false: token ids only (language model). */
  labels: boolean;
  created_at: string;
}

/** A dataset as both catalogs (SQLite here, Postgres: cluster/catalog.ts) store it. */
export interface DatasetRow {
  id: string;
  name: string;
  bytes: number;
  samples: number;
  x_shape: string;
  x_dtype: 'float32' | 'int64';
  labels: number;
  created_at: number;
}

const FILE = DATASET_FILE;

export function datasetRecord(r: DatasetRow): DatasetRecord {
  return { ...r, x_shape: JSON.parse(r.x_shape) as number[], labels: r.labels === 1, created_at: new Date(r.created_at).toISOString() };
}

export class DatasetStore {
  private readonly dir: string;
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    dataDir: string,
    private readonly inspect: DatasetInspector,
  ) {
    this.dir = join(dataDir, 'datasets');
  }

  private record(r: DatasetRow): DatasetRecord {
    return datasetRecord(r);
  }

  get(id: string): DatasetRecord | null {
    const r = this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow | undefined;
    return r ? this.record(r) : null;
  }

  require(id: string): DatasetRecord {
    const d = this.get(id);
    if (!d) throw new WeightscopeError('not-found', `no dataset with id ${JSON.stringify(id)}`);
    return d;
  }

  list(): DatasetRecord[] {
    return (this.db.prepare('SELECT * FROM datasets ORDER BY created_at DESC').all() as DatasetRow[]).map((r) => this.record(r));
  }

  path(d: DatasetRecord): string {
    return join(this.folder(d.id), FILE);
  }

  /** The dataset's folder ($DATA/datasets/<id>). */
  folder(id: string): string {
    return join(this.dir, id);
  }

  /** Dataset folders without a row (a crash between commit and insert) are removed. Call at start. */
  async sweep(): Promise<void> {
    if (!existsSync(this.dir)) return;
    const ids = new Set((this.db.prepare('SELECT id FROM datasets').all() as { id: string }[]).map((r) => r.id));
    for (const d of readdirSync(this.dir)) if (!ids.has(d)) await rm(join(this.dir, d), { recursive: true, force: true });
  }

  /** Validates and stores one uploaded part; created=false when the same bytes are already a dataset. */
  async add(part: IngestedPart, name: string | null): Promise<{ dataset: DatasetRecord; created: boolean }> {
    try {
      if (part.bytes === 0) throw new WeightscopeError('corrupt-file', 'the dataset file is empty');
      const existing = this.get(part.sha256);
      if (existing) return { dataset: existing, created: false };
      const ds = await this.inspect(part.tmpPath).catch((e: unknown) => {
        if (e instanceof WeightscopeError) throw new WeightscopeError(e.code, e.message.split(part.tmpPath).join('<upload>'));
        throw e;
      });
      return await this.blobs.exclusive.run(async () => {
        const now = this.get(part.sha256);
        if (now) return { dataset: now, created: false };
        const blob = await this.blobs.commit(part);
        const dest = join(this.dir, part.sha256, FILE);
        await rm(join(this.dir, part.sha256), { recursive: true, force: true });
        await mkdir(join(this.dir, part.sha256), { recursive: true });
        await link(blob, dest).catch(() => copyFile(blob, dest));
        const t = Date.now();
        this.db.transaction(() => {
          this.db.prepare('INSERT OR IGNORE INTO blobs (sha256, bytes, created_at) VALUES (?, ?, ?)').run(part.sha256, part.bytes, t);
          this.db
            .prepare(
              'INSERT INTO datasets (id, name, bytes, samples, x_shape, x_dtype, labels, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            )
            .run(
              part.sha256,
              (name ?? 'dataset.safetensors').slice(0, 200),
              part.bytes,
              ds.samples,
              JSON.stringify(ds.x_shape),
              ds.x_dtype,
              ds.labels ? 1 : 0,
              t,
            );
        })();
        return { dataset: this.require(part.sha256), created: true };
      });
    } finally {
      await this.blobs.discard([part]);
    }
  }
}
