/**
 * The blob store every node of a distributed deployment shares (WEIGHTSCOPE_BLOB_URL): `file:///path` (a folder
 * every node mounts: NFS, CephFS, EFS) or `s3://bucket/prefix`; unset = the data folder (one machine, several
 * processes). Besides what routes use (context.ts's Blobs) it is read by workers' caches, API downloads, the
 * sweep of abandoned uploads and `weightscope migrate`.
 */
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WeightscopeError } from '../../errors.js';
import type { Blobs } from '../context.js';
import { BlobStore } from './blobs.js';
import { parseS3Url, S3BlobStore, s3ClientFromEnv } from './s3-blobs.js';

export interface SharedBlobs extends Blobs {
  read(sha256: string): Promise<Readable>;
  /** Where the blob is on this machine when the store is a mounted folder (caches link instead of copying). */
  localPath?(sha256: string): string;
  delete(sha256: string): Promise<void>;
  /** Marks a blob as just (re)written, so the sweep spares it until a catalog row names it. */
  touch(sha256: string): Promise<void>;
  list(): AsyncIterable<{ sha256: string; bytes: number; modified: number }>;
  /** Removes staged uploads older than ageMs; returns how many. */
  sweepTmp(ageMs: number): Promise<number>;
}

export function openSharedBlobs(url: string | undefined, dataDir: string, env: Record<string, string | undefined> = process.env): { blobs: SharedBlobs; describe: string } {
  if (!url) return { blobs: new BlobStore(dataDir), describe: `file://${resolve(dataDir)} (the data folder)` };
  if (url.startsWith('file:')) {
    const root = fileURLToPath(url);
    return { blobs: new BlobStore(root), describe: `file://${root}` };
  }
  if (url.startsWith('s3:')) {
    const loc = parseS3Url(url);
    return { blobs: new S3BlobStore(s3ClientFromEnv(env), loc), describe: `s3://${loc.bucket}/${loc.prefix}` };
  }
  throw new WeightscopeError('invalid-input', `WEIGHTSCOPE_BLOB_URL must be file:///path or s3://bucket/prefix, not ${JSON.stringify(url)}`);
}
