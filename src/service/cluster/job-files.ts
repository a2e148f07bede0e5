/**
 * Files of jobs in the distributed mode: what a job wrote under its scratch folder on a worker (a large result's
 * `results/<id>/…`, a repair's model) is stored as blobs and named in `job_files` by its path relative to the data
 * folder — the same paths the embedded mode keeps under $WEIGHTSCOPE_DATA — and read back from the blob store.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { text } from 'node:stream/consumers';
import type { JobFile } from '../context.js';
import type { SharedBlobs } from '../store/shared-blobs.js';
import type { PgJobStore, StoredFile } from './job-store.js';

/** Stores files under `root` (paths relative to it; a folder counts as all the files in it) as blobs. */
export async function storeJobFiles(blobs: SharedBlobs, root: string, rels: readonly string[]): Promise<StoredFile[]> {
  const base = normalize(root + sep);
  const out: StoredFile[] = [];
  const add = async (file: string): Promise<void> => {
    if (!file.startsWith(base)) throw new Error(`${file} is outside the job's folder`);
    const entries = await readdir(file, { withFileTypes: true }).catch(() => null);
    if (entries) {
      for (const e of entries) await add(join(file, e.name));
      return;
    }
    const part = await blobs.ingestFile(file);
    await blobs.commit(part);
    await blobs.touch(part.sha256);
    out.push({ name: relative(root, file).split(sep).join('/'), sha256: part.sha256, bytes: part.bytes });
  };
  for (const rel of rels) await add(normalize(join(root, rel)));
  return out;
}

/** A stored job file, ready to stream (null: the job named no such file). */
export async function jobFile(store: PgJobStore, blobs: SharedBlobs, jobId: string, rel: string): Promise<JobFile | null> {
  const f = await store.file(jobId, rel);
  return f ? { size: f.bytes, open: () => blobs.read(f.sha256) } : null;
}

export async function jobFileText(store: PgJobStore, blobs: SharedBlobs, jobId: string, rel: string): Promise<string> {
  const f = await jobFile(store, blobs, jobId, rel);
  if (!f) throw new Error(`job ${jobId} has no stored file ${rel}`);
  return text(await f.open());
}

/** Copies a stored job file to `root/rel` (a join's worker reading a child's large result). */
export async function fetchJobFile(store: PgJobStore, blobs: SharedBlobs, jobId: string, rel: string, root: string): Promise<void> {
  const f = await jobFile(store, blobs, jobId, rel);
  if (!f) throw new Error(`job ${jobId} has no stored file ${rel}`);
  const dest = join(root, rel);
  await mkdir(dirname(dest), { recursive: true });
  await pipeline(await f.open(), createWriteStream(dest));
}
