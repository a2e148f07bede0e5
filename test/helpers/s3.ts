/**
 * s3rver on loopback: an S3 *protocol stand-in* (not AWS) for the S3 blob store's tests and benchmarks. It speaks
 * the S3 REST API the store uses (multipart upload, CopyObject, listing), keeps objects in a temporary folder and
 * accepts its fixed test credentials.
 */
import S3rver from 's3rver';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface S3StandIn {
  /** AWS_* variables that point the SDK at the stand-in. */
  env: Record<string, string>;
  bucket: string;
  dir: string;
  close(): Promise<void>;
}

export async function startS3StandIn(bucket = 'weightscope-test'): Promise<S3StandIn> {
  const dir = mkdtempSync(join(tmpdir(), 'weightscope-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  return {
    env: {
      AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    },
    bucket,
    dir,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
