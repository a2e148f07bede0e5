/**
 * Models = one or more stored blobs under file names. A model's id is content-derived (the file's sha256, or the
 * sha256 of its sorted "name sha256" lines for several files), so the same bytes uploaded twice are one model.
 * Each model is materialised as $DATA/models/<id>/<name> hard links to its blobs, the layout the readers expect.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import type { BlobStore, IngestedPart } from './blobs.js';
import type { Db } from './db.js';
import { defaultFileName, sniff, type CheckpointSummary, type Inspector, type ModelInput } from './inspect.js';
import { modelReadPath, onnxFileOf } from './layout.js';

export interface ModelFile {
  name: string;
  sha256: string;
  bytes: number;
}

export interface ModelRecord {
  id: string;
  name: string;
  format: string;
  bytes: number;
  tensors: number;
  parameters: number;
  source: string;
  created_at: string;
  files: ModelFile[];
  /** The ONNX graph's data inputs, or null (no graph). */
  inputs: ModelInput[] | null;
}

export interface NamedPart {
  /** File name as sent; sanitised here; null = derive from the sniffed format. */
  name: string | null;
  part: IngestedPart;
}

/** A model as both catalogs (SQLite here, Postgres: cluster/catalog.ts) store it. */
export interface ModelRow {
  id: string;
  name: string;
  format: string;
  bytes: number;
  tensors: number;
  parameters: number;
  source: string;
  created_at: number;
  inputs: string | null;
}

/** Keeps a client-sent name harmless: path segments of [A-Za-z0-9._-], no '..', at most two levels (onnx/x). */
export function sanitizeName(raw: string): string {
  const segs = raw
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s && s !== '.' && s !== '..');
  const clean = segs.slice(-2).map((s) => s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_'));
  if (clean.length === 0) throw new WeightscopeError('invalid-input', `unusable file name ${JSON.stringify(raw)}`);
  return clean.join('/');
}

/** What a model is called when nobody named it: its weights file (the first, by the loaders' preference), "+N files". */
export function defaultModelName(files: readonly { name: string }[]): string {
  if (files.length === 1) return files[0].name;
  const rank = (n: string): number => {
    const i = [/\.safetensors(\.index\.json)?$/, /\.(bin|pt|pth)(\.index\.json)?$/, /\.onnx$/].findIndex((re) => re.test(n));
    return i < 0 ? 9 : i;
  };
  const main = [...files].sort((a, b) => rank(a.name) - rank(b.name) || (a.name < b.name ? -1 : 1))[0];
  return `${main.name} (+${files.length - 1} file${files.length > 2 ? 's' : ''})`;
}

export function modelIdOf(files: readonly { name: string; sha256: string }[]): string {
  if (files.length === 1) return files[0].sha256;
  const lines = [...files].sort((a, b) => (a.name < b.name ? -1 : 1)).map((f) => `${f.name} ${f.sha256}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/** Each file's name in the model: as sent (sanitised), or the usual one for its sniffed format; empty and duplicate files are refused. */
export async function fileNames(parts: readonly { name: string | null; path: string; bytes: number }[]): Promise<string[]> {
  if (parts.length === 0) throw new WeightscopeError('invalid-input', 'no file in the request');
  const names: string[] = [];
  for (const p of parts) {
    if (p.bytes === 0) throw new WeightscopeError('corrupt-file', `file ${JSON.stringify(p.name ?? 'body')} is empty`);
    const name = p.name ? sanitizeName(p.name) : defaultFileName(await sniff(p.path));
    if (names.includes(name)) throw new WeightscopeError('invalid-input', `two files named ${JSON.stringify(name)}`);
    names.push(name);
  }
  return names;
}

/** Inspects files from a staging folder laid out as the model's final one (links to `path`, or copies). */
export async function inspectLaidOut(
  inspect: Inspector,
  staging: string,
  files: readonly { name: string; path: string }[],
): Promise<CheckpointSummary> {
  for (const f of files) {
    const dest = join(staging, f.name);
    await mkdir(dirname(dest), { recursive: true });
    await link(f.path, dest).catch(() => copyFile(f.path, dest));
  }
  return inspect(files.length === 1 ? join(staging, files[0].name) : staging).catch((e: unknown) => {
    if (!(e instanceof WeightscopeError)) throw e;
    // The server's staging path means nothing to the client: the files are "<upload>/<name>" to it. And "no
    // weights in this folder" is about the files sent, not a missing resource.
    const message = e.message.split(`${staging}/`).join('').split(staging).join('<upload>');
    throw new WeightscopeError(e.code === 'not-found' ? 'unsupported-format' : e.code, message);
  });
}

export class ModelStore {
  private readonly modelsDir: string;
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    dataDir: string,
    private readonly inspect: Inspector,
  ) {
    this.modelsDir = join(dataDir, 'models');
    mkdirSync(this.modelsDir, { recursive: true });
  }

  private record(row: ModelRow): ModelRecord {
    const files = this.db
      .prepare('SELECT name, sha256, bytes FROM model_files WHERE model_id = ? ORDER BY name')
      .all(row.id) as ModelFile[];
    return {
      ...row,
      created_at: new Date(row.created_at).toISOString(),
      files,
      inputs: row.inputs ? (JSON.parse(row.inputs) as ModelInput[]) : null,
    };
  }

  get(id: string): ModelRecord | null {
    const row = this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
    return row ? this.record(row) : null;
  }

  require(id: string): ModelRecord {
    const m = this.get(id);
    if (!m) throw new WeightscopeError('not-found', `no model with id ${JSON.stringify(id)}`);
    return m;
  }

  list(): ModelRecord[] {
    return (this.db.prepare('SELECT * FROM models ORDER BY created_at DESC').all() as ModelRow[]).map((r) => this.record(r));
  }

  /** The model's folder ($DATA/models/<id>). */
  dir(id: string): string {
    return join(this.modelsDir, id);
  }

  /** What the readers open: the file for a one-file model, the folder for a sharded one. */
  path(m: ModelRecord): string {
    return modelReadPath(
      join(this.modelsDir, m.id),
      m.files.map((f) => f.name),
    );
  }

  /** The ONNX file of a stored model: the file itself, or model.onnx / onnx/model.onnx (or the one .onnx) in its folder. */
  onnxPath(m: ModelRecord): string {
    return join(
      this.modelsDir,
      m.id,
      onnxFileOf(
        m.id,
        m.format,
        m.files.map((f) => f.name),
      ),
    );
  }

  /**
   * Validates and stores parts as one model. Returns created=false (and drops the parts) when a model with the
   * same content exists. On any validation failure every part is removed: nothing is stored.
   */
  async add(parts: readonly NamedPart[], source: string, displayName?: string): Promise<{ model: ModelRecord; created: boolean }> {
    const staging = join(this.blobs.tmpDir, `${randomUUID()}.d`);
    try {
      if (parts.length === 0) throw new WeightscopeError('invalid-input', 'no file in the request');
      const names = await fileNames(parts.map((p) => ({ name: p.name, path: p.part.tmpPath, bytes: p.part.bytes })));
      const named = parts.map((p, i) => ({ name: names[i], part: p.part }));
      const files = named.map((n) => ({ name: n.name, sha256: n.part.sha256, bytes: n.part.bytes }));
      const id = modelIdOf(files);
      const existing = this.get(id);
      if (existing) return { model: existing, created: false };
      // Identical uploads at once are each inspected; the first to commit stores the model, the others find it.

      const summary = await inspectLaidOut(
        this.inspect,
        staging,
        named.map((n) => ({ name: n.name, path: n.part.tmpPath })),
      );

      return await this.blobs.exclusive.run(async () => {
        const now = this.get(id);
        if (now) return { model: now, created: false };
        const dir = join(this.modelsDir, id);
        await rm(dir, { recursive: true, force: true }); // a folder left by a crash before its row was written
        for (const n of named) {
          const blob = await this.blobs.commit(n.part);
          const dest = join(dir, n.name);
          await mkdir(dirname(dest), { recursive: true });
          await link(blob, dest).catch(() => copyFile(blob, dest));
        }
        this.insert(id, files, summary, source, displayName);
        return { model: this.require(id), created: true };
      });
    } finally {
      await this.blobs.discard(parts.map((p) => p.part));
      await rm(staging, { recursive: true, force: true });
    }
  }

  private insert(
    id: string,
    files: readonly ModelFile[],
    summary: CheckpointSummary,
    source: string,
    displayName: string | undefined,
  ): void {
    const now = Date.now();
    const bytes = files.reduce((a, f) => a + f.bytes, 0);
    const name = displayName ?? defaultModelName(files);
    this.db.transaction(() => {
      const blobIns = this.db.prepare('INSERT OR IGNORE INTO blobs (sha256, bytes, created_at) VALUES (?, ?, ?)');
      for (const f of files) blobIns.run(f.sha256, f.bytes, now);
      this.db
        .prepare(
          'INSERT INTO models (id, name, format, bytes, tensors, parameters, source, created_at, inputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          id,
          name,
          summary.format,
          bytes,
          summary.tensors,
          summary.parameters,
          source,
          now,
          summary.inputs ? JSON.stringify(summary.inputs) : null,
        );
      const fileIns = this.db.prepare('INSERT INTO model_files (model_id, name, sha256, bytes) VALUES (?, ?, ?, ?)');
      for (const f of files) fileIns.run(id, f.name, f.sha256, f.bytes);
    })();
  }

  /** Removes the model and every blob nothing else uses. Finished results stay (they are keyed by content). */
  async delete(id: string): Promise<void> {
    await this.blobs.exclusive.run(async () => {
      const m = this.require(id);
      this.db.transaction(() => {
        this.db.prepare('DELETE FROM model_files WHERE model_id = ?').run(id);
        this.db.prepare('DELETE FROM models WHERE id = ?').run(id);
      })();
      await rm(join(this.modelsDir, id), { recursive: true, force: true });
      await this.blobs.dropUnused(
        this.db,
        m.files.map((f) => f.sha256),
      );
    });
  }

  /**
   * After a crash between committing blobs and writing a model's row: model folders without a row are removed
   * (their blobs go with the blob store's own sweep). Call at start, before serving.
   */
  async sweep(): Promise<number> {
    const ids = new Set((this.db.prepare('SELECT id FROM models').all() as { id: string }[]).map((r) => r.id));
    let n = 0;
    for (const d of readdirSync(this.modelsDir)) {
      if (ids.has(d)) continue;
      await rm(join(this.modelsDir, d), { recursive: true, force: true });
      n++;
    }
    return n;
  }
}
