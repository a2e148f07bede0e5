/**
 * Models and datasets in Postgres, their bytes in the shared blob store. An upload is stored on the API node that
 * received it (streamed and hashed into the store), read by a worker (the `inspect` job: nothing heavy runs in an
 * API process), and only then written as rows — so an API node killed mid-upload leaves no row and no blob (its
 * staged part is swept later), and a failed inspection leaves nothing a client can see. Deleting a model removes its
 * rows; blobs no row names are removed by the sweep (worker.ts) once they are an hour old, which spares a blob that
 * a concurrent upload of the same bytes has just written.
 */
import { WeightscopeError, type ErrorCode } from '../../errors.js';
import type { DatasetCatalog, ModelCatalog } from '../context.js';
import type { ServiceConfig } from '../config.js';
import type { ModelInspection } from '../jobs/kinds/inspect.js';
import type { JobError } from '../jobs/types.js';
import type { IngestedPart } from '../store/blobs.js';
import { datasetRecord, type DatasetRecord, type DatasetRow } from '../store/datasets.js';
import type { DatasetSummary, ModelInput } from '../store/inspect.js';
import { modelIdOf, sanitizeName, type ModelFile, type ModelRecord, type ModelRow, type NamedPart } from '../store/models.js';
import type { SharedBlobs } from '../store/shared-blobs.js';
import { inTransaction, SCHEMA, type Pool } from './pg.js';

/** Runs an `inspect` job on a worker and resolves to its result (rejects with its error). */
export type InspectOnWorker = (payload: unknown) => Promise<unknown>;

const CODES: readonly ErrorCode[] = [
  'invalid-input',
  'not-found',
  'unsupported-format',
  'corrupt-file',
  'unsafe-pickle',
  'unsupported-dtype',
  'unsupported-op',
  'shape-mismatch',
  'too-large',
  'device-unavailable',
  'numerical',
];

/** A job's error as the client would have got it from the embedded store. */
export function errorOfJob(e: JobError): Error {
  if ((CODES as readonly string[]).includes(e.code)) return new WeightscopeError(e.code as ErrorCode, e.message);
  if (e.code === 'time-limit') return new WeightscopeError('too-large', e.message);
  return new Error(`inspection on a worker failed (${e.code}): ${e.message}`);
}

type InspectLimits = ServiceConfig['inspect'];

export class PgModels implements ModelCatalog {
  constructor(
    private readonly pool: Pool,
    private readonly blobs: SharedBlobs,
    private readonly inspect: InspectOnWorker,
    private readonly limits: InspectLimits,
  ) {}

  private async records(rows: ModelRow[]): Promise<ModelRecord[]> {
    if (!rows.length) return [];
    const files = (
      await this.pool.query<ModelFile & { model_id: string }>(
        `SELECT model_id, name, sha256, bytes FROM ${SCHEMA}.model_files WHERE model_id = ANY($1) ORDER BY name`,
        [rows.map((r) => r.id)],
      )
    ).rows;
    return rows.map((r) => ({
      ...r,
      created_at: new Date(r.created_at).toISOString(),
      inputs: r.inputs ? (JSON.parse(r.inputs) as ModelInput[]) : null,
      files: files.filter((f) => f.model_id === r.id).map(({ name, sha256, bytes }) => ({ name, sha256, bytes })),
    }));
  }

  async get(id: string): Promise<ModelRecord | null> {
    const rows = (await this.pool.query<ModelRow>(`SELECT * FROM ${SCHEMA}.models WHERE id = $1`, [id])).rows;
    return (await this.records(rows))[0] ?? null;
  }

  async require(id: string): Promise<ModelRecord> {
    const m = await this.get(id);
    if (!m) throw new WeightscopeError('not-found', `no model with id ${JSON.stringify(id)}`);
    return m;
  }

  async list(): Promise<ModelRecord[]> {
    return this.records((await this.pool.query<ModelRow>(`SELECT * FROM ${SCHEMA}.models ORDER BY created_at DESC`)).rows);
  }

  async add(parts: readonly NamedPart[], source: string, displayName?: string): Promise<{ model: ModelRecord; created: boolean }> {
    try {
      if (parts.length === 0) throw new WeightscopeError('invalid-input', 'no file in the request');
      for (const p of parts)
        if (p.part.bytes === 0) throw new WeightscopeError('corrupt-file', `file ${JSON.stringify(p.name ?? 'body')} is empty`);
      // With every name given, the id is known before any reading: the same content stored already costs nothing.
      if (parts.every((p) => p.name)) {
        const existing = await this.get(modelIdOf(parts.map((p) => ({ name: sanitizeName(p.name!), sha256: p.part.sha256 }))));
        if (existing) return { model: existing, created: false };
      }
      await commitAll(
        this.blobs,
        parts.map((p) => p.part),
      );
      const r = (await this.inspect({
        what: 'model',
        files: parts.map((p) => ({ name: p.name, sha256: p.part.sha256, bytes: p.part.bytes })),
        limits: this.limits,
      })) as ModelInspection;
      const id = modelIdOf(r.files);
      const created = await inTransaction(this.pool, async (c) => {
        const now = Date.now();
        for (const f of r.files)
          await c.query(`INSERT INTO ${SCHEMA}.blobs (sha256, bytes, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
            f.sha256,
            f.bytes,
            now,
          ]);
        const bytes = r.files.reduce((a, f) => a + f.bytes, 0);
        const name = displayName ?? (r.files.length === 1 ? r.files[0].name : `${r.files.length} files`);
        const ins = await c.query(
          `INSERT INTO ${SCHEMA}.models (id, name, format, bytes, tensors, parameters, source, created_at, inputs)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
          [id, name, r.format, bytes, r.tensors, r.parameters, source, now, r.inputs ? JSON.stringify(r.inputs) : null],
        );
        if (!ins.rowCount) return false;
        for (const f of r.files)
          await c.query(`INSERT INTO ${SCHEMA}.model_files (model_id, name, sha256, bytes) VALUES ($1, $2, $3, $4)`, [
            id,
            f.name,
            f.sha256,
            f.bytes,
          ]);
        return true;
      });
      return { model: await this.require(id), created };
    } finally {
      await this.blobs.discard(parts.map((p) => p.part));
    }
  }

  /** Removes the model's rows and the rows of blobs nothing else names (their bytes go with the sweep). */
  async delete(id: string): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      const files = (await c.query<{ sha256: string }>(`DELETE FROM ${SCHEMA}.model_files WHERE model_id = $1 RETURNING sha256`, [id]))
        .rows;
      const del = await c.query(`DELETE FROM ${SCHEMA}.models WHERE id = $1`, [id]);
      if (!del.rowCount) throw new WeightscopeError('not-found', `no model with id ${JSON.stringify(id)}`);
      await c.query(
        `DELETE FROM ${SCHEMA}.blobs b WHERE b.sha256 = ANY($1)
         AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.model_files f WHERE f.sha256 = b.sha256)
         AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.datasets d WHERE d.id = b.sha256)
         AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.job_files j WHERE j.sha256 = b.sha256)`,
        [files.map((f) => f.sha256)],
      );
    });
  }

  /** The model's format and files (a worker laying it out in its cache). */
  async files(id: string): Promise<{ format: string; files: ModelFile[] } | null> {
    const m = await this.get(id);
    return m ? { format: m.format, files: m.files } : null;
  }
}

export class PgDatasets implements DatasetCatalog {
  constructor(
    private readonly pool: Pool,
    private readonly blobs: SharedBlobs,
    private readonly inspect: InspectOnWorker,
    private readonly limits: InspectLimits,
  ) {}

  async get(id: string): Promise<DatasetRecord | null> {
    const r = (await this.pool.query<DatasetRow>(`SELECT * FROM ${SCHEMA}.datasets WHERE id = $1`, [id])).rows[0];
    return r ? datasetRecord(r) : null;
  }

  async require(id: string): Promise<DatasetRecord> {
    const d = await this.get(id);
    if (!d) throw new WeightscopeError('not-found', `no dataset with id ${JSON.stringify(id)}`);
    return d;
  }

  async list(): Promise<DatasetRecord[]> {
    return (await this.pool.query<DatasetRow>(`SELECT * FROM ${SCHEMA}.datasets ORDER BY created_at DESC`)).rows.map(datasetRecord);
  }

  async add(part: IngestedPart, name: string | null): Promise<{ dataset: DatasetRecord; created: boolean }> {
    try {
      if (part.bytes === 0) throw new WeightscopeError('corrupt-file', 'the dataset file is empty');
      const existing = await this.get(part.sha256);
      if (existing) return { dataset: existing, created: false };
      await commitAll(this.blobs, [part]);
      const ds = (await this.inspect({ what: 'dataset', sha256: part.sha256, bytes: part.bytes, limits: this.limits })) as DatasetSummary;
      const created = await inTransaction(this.pool, async (c) => {
        const now = Date.now();
        await c.query(`INSERT INTO ${SCHEMA}.blobs (sha256, bytes, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
          part.sha256,
          part.bytes,
          now,
        ]);
        const ins = await c.query(
          `INSERT INTO ${SCHEMA}.datasets (id, name, bytes, samples, x_shape, x_dtype, labels, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
          [
            part.sha256,
            (name ?? 'dataset.safetensors').slice(0, 200),
            part.bytes,
            ds.samples,
            JSON.stringify(ds.x_shape),
            ds.x_dtype,
            ds.labels ? 1 : 0,
            now,
          ],
        );
        return (ins.rowCount ?? 0) > 0;
      });
      return { dataset: await this.require(part.sha256), created };
    } finally {
      await this.blobs.discard([part]);
    }
  }
}

/** Staged parts become blobs (touched, so the sweep spares them until their rows exist). */
async function commitAll(blobs: SharedBlobs, parts: readonly IngestedPart[]): Promise<void> {
  for (const p of parts) {
    await blobs.commit(p);
    await blobs.touch(p.sha256);
  }
}
