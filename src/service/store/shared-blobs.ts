/**
 * The blob store every node of a distributed deployment shares (WEIGHTSCOPE_BLOB_URL): `file:///path` (a folder
 * every node mounts: NFS, CephFS, EFS) or `s3://bucket/prefix`; unset = the data folder (one machine, several
 * processes). Besides what routes use (context.ts's Blobs) it is read by workers' caches, API downloads, the
 * sweep of abandoned uploads and `weightscope migrate`.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeightscopeError } from '../../errors.js';
import type { SharedBlobs } from '../context.js';
import { BlobStore } from './blobs.js';
import { parseS3Url, S3BlobStore, s3ClientFromEnv } from './s3-blobs.js';

export type { SharedBlobs } from '../context.js';

export function openSharedBlobs(
  url: string | undefined,
  dataDir: string,
  env: Record<string, string | undefined> = process.env,
): { blobs: SharedBlobs; describe: string } {
  if (!url) return { blobs: new BlobStore(dataDir), describe: `file://${resolve(dataDir)} (the data folder)` };
  if (url.startsWith('file:')) {
    const root = fileURLToPath(url);
    return { blobs: new BlobStore(root), describe: `file://${root}` };
  }
  if (url.startsWith('s3:')) {
    const loc = parseS3Url(url);
    return { blobs: new S3BlobStore(s3ClientFromEnv(env), loc), describe: `s3://${loc.bucket}/${loc.prefix}` };
  }
  throw new WeightscopeError(
    'invalid-input',
    `WEIGHTSCOPE_BLOB_URL must be file:///path or s3://bucket/prefix, not ${JSON.stringify(url)}`,
  );
}
